//! Shuffle write + read throughput, in memory and spilling.
//!
//! One map stage hash-partitions about 50 MB of rows (an integer key, an integer value
//! and a short string) into 16 reduce partitions; the result stage reads every partition
//! back. `memory`: no memory limit, everything stays in memory. `spill`: an 8 MiB pool,
//! so nearly all of it goes through LZ4-compressed spill files and back.
//!
//! ```sh
//! cargo bench -p spate-benches --bench shuffle
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_expr::expressions::col;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use datafusion::prelude::{SessionConfig, SessionContext};
use spate_executor::{Executor, ExecutorConfig};

const ROWS_PER_BATCH: usize = 8192;
const BATCHES_PER_PARTITION: usize = 40;
const MAP_TASKS: usize = 2;

fn input() -> (Vec<Vec<RecordBatch>>, u64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("s", DataType::Utf8, false),
    ]));
    let mut bytes = 0u64;
    let partitions = (0..MAP_TASKS)
        .map(|p| {
            (0..BATCHES_PER_PARTITION)
                .map(|b| {
                    let start = ((p * BATCHES_PER_PARTITION + b) * ROWS_PER_BATCH) as i64;
                    let ids: Vec<i64> = (start..start + ROWS_PER_BATCH as i64).collect();
                    let keys = Int64Array::from_iter_values(ids.iter().map(|i| i * 7919 % 100_003));
                    let strings =
                        StringArray::from_iter_values(ids.iter().map(|i| format!("customer-{i}")));
                    let batch = RecordBatch::try_new(
                        Arc::clone(&schema),
                        vec![
                            Arc::new(keys),
                            Arc::new(Int64Array::from(ids)),
                            Arc::new(strings),
                        ],
                    )
                    .unwrap();
                    bytes += batch.get_array_memory_size() as u64;
                    batch
                })
                .collect()
        })
        .collect();
    (partitions, bytes)
}

fn plan(partitions: &[Vec<RecordBatch>]) -> Arc<dyn ExecutionPlan> {
    let schema = partitions[0][0].schema();
    let source = MemorySourceConfig::try_new_exec(partitions, Arc::clone(&schema), None).unwrap();
    let key = col("k", &schema).unwrap();
    Arc::new(RepartitionExec::try_new(source, Partitioning::Hash(vec![key], 16)).unwrap())
}

fn shuffle(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (partitions, bytes) = input();
    let mut group = c.benchmark_group("shuffle");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    for (name, limit) in [("memory", None), ("spill", Some(8usize << 20))] {
        let mut builder = RuntimeEnvBuilder::new();
        if let Some(limit) = limit {
            builder = builder.with_memory_limit(limit, 1.0);
        }
        let runtime_env = builder.build_arc().unwrap();
        let mut config = SessionConfig::new().with_target_partitions(2);
        spate_executor::configure_session(&mut config);
        let ctx = SessionContext::new_with_config_rt(config, runtime_env);
        let executor = Executor::new(ExecutorConfig {
            threads: 2,
            shuffle_partitions: None,
            adaptive: true,
            ..ExecutorConfig::default()
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                let output = runtime
                    .block_on(executor.execute(plan(&partitions), ctx.task_ctx()))
                    .unwrap();
                let spilled = output.metrics.spilled_bytes();
                assert_eq!(
                    spilled > 0,
                    limit.is_some(),
                    "{name}: spilled {spilled} bytes"
                );
                output
            })
        });
    }
    group.finish();
}

criterion_group!(benches, shuffle);
criterion_main!(benches);
