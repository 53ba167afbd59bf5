//! What the state machine does to a stage beyond its own bookkeeping: moving its state,
//! writing the empty output of a skipped task, and switching the joins it builds to
//! broadcast joins.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool};
use datafusion::physical_plan::ExecutionPlanProperties;

use super::query_run::StageRun;
use crate::adaptive::{Switch, switch_to_broadcast};
use crate::planner::StageGraph;
use crate::shuffle::{MapOutput, ShuffleReservation, ShuffleStore};
use crate::stage::{Stage, StageEvent, StageId, StageOutputKind, StageState};

/// Moves `run` (of `stage`) on by `event`; an event its state does not allow is a bug.
pub(super) fn transition(run: &mut StageRun, event: StageEvent, stage: StageId) -> Result<()> {
    run.state = run.state.next(event).ok_or_else(|| {
        DataFusionError::Internal(format!("stage {stage}: {event:?} while {:?}", run.state))
    })?;
    Ok(())
}

/// Records an empty output for `task` of `stage`, whose reader needs no more rows.
pub(super) fn put_empty_output(
    stage: &Stage,
    task: usize,
    store: &ShuffleStore,
    pool: &Arc<dyn MemoryPool>,
) {
    if matches!(stage.output, StageOutputKind::Result) {
        return;
    }
    let consumer = MemoryConsumer::new(format!(
        "ShuffleWriter[stage {}, task {task}, skipped]",
        stage.id
    ))
    .register(pool);
    let reservation = ShuffleReservation::new(consumer, Arc::clone(store.memory()));
    let output = MapOutput::empty(
        task,
        stage.plan.schema(),
        stage.output_partitions(),
        reservation,
    );
    store.put(stage.id, task, output);
}

/// Decides the broadcast candidates whose build side `built` is: a join whose build
/// output is at most `threshold` bytes, and whose probe input gives enough tasks for
/// `threads`, becomes a broadcast join, and its probe stage is absorbed into the join's
/// stage (or the join is pushed down into it).
pub(super) fn decide_broadcasts(
    graph: &mut StageGraph,
    runs: &mut [StageRun],
    absorbed_into: &mut [Option<StageId>],
    (built, store): (StageId, &Arc<ShuffleStore>),
    (threshold, threads): (usize, usize),
) -> Result<()> {
    let Some(bytes) = store.stage_bytes(built) else {
        return Ok(());
    };
    if bytes > threshold as u64 {
        return Ok(());
    }
    let candidates: Vec<_> = graph
        .broadcasts
        .iter()
        .filter(|c| c.build == built)
        .copied()
        .collect();
    for candidate in candidates {
        // The join may have moved into the stage that absorbed its own stage.
        let mut join_stage = candidate.join_stage;
        while let Some(into) = absorbed_into[join_stage.0] {
            join_stage = into;
        }
        let probe_tasks = graph.stages[candidate.probe.0]
            .plan
            .output_partitioning()
            .partition_count();
        let join_tasks = graph.stages[join_stage.0].tasks();
        if runs[candidate.probe.0].state != StageState::Waiting
            || runs[join_stage.0].state != StageState::Waiting
            || probe_tasks < threads.min(join_tasks)
        {
            continue;
        }
        match switch_to_broadcast(
            &mut graph.stages,
            join_stage,
            candidate.build,
            candidate.probe,
            store,
        )? {
            Switch::Absorbed => {
                let probe = &mut runs[candidate.probe.0];
                transition(probe, StageEvent::Absorbed, candidate.probe)?;
                absorbed_into[candidate.probe.0] = Some(join_stage);
                runs[join_stage.0].metrics.broadcast_joins += 1;
            }
            // The join now runs in the probe stage.
            Switch::PushedDown => runs[candidate.probe.0].metrics.broadcast_joins += 1,
            Switch::None => {}
        }
    }
    Ok(())
}
