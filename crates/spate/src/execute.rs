//! Running physical plans: the one place where a plan meets an executor.
//!
//! Everything that executes (queries, `INSERT`, `COPY`, DataFrame actions, writers) comes
//! here, so the choice of executor, progress reporting and error translation happen once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;
use datafusion::physical_plan::ExecutionPlan;

use spate_connectors::object_stores::StoreIo;
use spate_executor::{Executor, OperatorFigures, QueryMetrics, StageMetrics};

use crate::config::{ExecutorKind, SpateConfig};
use crate::error::{Result, SpateError};
use crate::progress::Progress;
use crate::session::Session;

/// What running a plan took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionMetrics {
    /// Wall-clock time from start to the last batch.
    pub elapsed: Duration,
    /// Rows the plan returned.
    pub output_rows: u64,
    /// The most memory reserved at once, as the memory pool accounted it.
    pub peak_memory: u64,
    /// Bytes operators spilled to disk.
    pub spilled_bytes: u64,
    /// Spill files operators wrote.
    pub spill_files: u64,
    /// Per stage, when spate's executor or a cluster ran the plan (empty under
    /// DataFusion's).
    pub stages: Vec<StageMetrics>,
    /// Requests and bytes per remote object store during the statement (stores it did not
    /// touch are left out). Filled by [`crate::Session::execute_statement`].
    pub store_io: Vec<StoreIo>,
    /// Streams, rows and bytes per BigQuery table during the statement (tables it did not
    /// touch are left out). Filled by [`crate::Session::execute_statement`].
    pub bigquery_io: Vec<spate_bigquery::BigQueryIo>,
}

/// The statement's progress while a plan runs: started with it, and ended when dropped,
/// however the run ends (a caller that drops the run's future, a cancelled statement,
/// ends it too).
struct ProgressWatch {
    progress: Arc<Progress>,
}

impl ProgressWatch {
    fn start(progress: Arc<Progress>, plan: &Arc<dyn ExecutionPlan>) -> Self {
        progress.start(Arc::clone(plan));
        ProgressWatch { progress }
    }
}

impl Drop for ProgressWatch {
    fn drop(&mut self) {
        self.progress.finish();
    }
}

/// Runs `plan` to completion with the session's executor and returns its batches in order.
pub(crate) async fn collect(
    session: &Session,
    plan: Arc<dyn ExecutionPlan>,
) -> Result<Vec<RecordBatch>> {
    collect_with_metrics(session, plan)
        .await
        .map(|(batches, _)| batches)
}

/// Like [`collect`], and reports what the run took.
pub(crate) async fn collect_with_metrics(
    session: &Session,
    plan: Arc<dyn ExecutionPlan>,
) -> Result<(Vec<RecordBatch>, ExecutionMetrics)> {
    let started = Instant::now();
    session.inner.memory.reset_peak();
    let watch = ProgressWatch::start(session.progress(), &plan);
    let plan_files = scanned_files(&plan);
    let task_ctx = session.inner.ctx.task_ctx();
    let result = match session.options().executor {
        ExecutorKind::Spate => {
            // The settings as of this statement (a `SET spate.x` before it included).
            let settings = SpateConfig::of(task_ctx.session_config().options());
            let config = settings.executor_config(session.options().threads);
            Executor::new(config)
                .with_progress(watch.progress.live())
                .execute(Arc::clone(&plan), task_ctx)
                .await
                .map(|output| (output.batches, output.metrics.stages))
        }
        ExecutorKind::DataFusion => datafusion::physical_plan::collect(Arc::clone(&plan), task_ctx)
            .await
            .map(|batches| (batches, Vec::new())),
        ExecutorKind::Cluster => match &session.options().cluster {
            Some(url) => spate_cluster::collect(url, Arc::clone(&plan), task_ctx).await,
            None => Err(datafusion::error::DataFusionError::Plan(
                "a cluster session has no cluster URL".into(),
            )),
        },
    };
    drop(watch);
    let (batches, stages) = result.map_err(|e| with_scan_context(session.error(e), &plan_files))?;
    // Under spate's executor the stages ran rebuilt copies of the plan's operators, and
    // their figures say what spilled; under DataFusion's, the plan's operators do.
    let (spilled_bytes, spill_files, stages) = if stages.is_empty() {
        let figures = OperatorFigures::of(&plan);
        (figures.spilled_bytes, figures.spill_files, stages)
    } else {
        let figures = QueryMetrics { stages };
        (
            figures.spilled_bytes(),
            figures.spill_files(),
            figures.stages,
        )
    };
    let metrics = ExecutionMetrics {
        elapsed: started.elapsed(),
        output_rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        peak_memory: session.inner.memory.peak() as u64,
        spilled_bytes,
        spill_files,
        stages,
        store_io: Vec::new(),
        bigquery_io: Vec::new(),
    };
    Ok((batches, metrics))
}

/// Decoders report what is wrong with a file (a ragged CSV row, a corrupt page) but not
/// which file. The plan knows which files it read: name the file, or their directory.
fn with_scan_context(err: SpateError, files: &[String]) -> SpateError {
    let Some(first) = files.first() else {
        return err;
    };
    let message = err.to_string();
    // A message that names one of the files already says where.
    if !is_decoding(&err) || files.iter().any(|f| message.contains(f.as_str())) {
        return err;
    }
    let place = if files.len() == 1 {
        first.clone()
    } else {
        let common = files.iter().fold(first.as_str(), |prefix, f| {
            let shared = prefix
                .char_indices()
                .zip(f.chars())
                .take_while(|((_, a), b)| a == b)
                .last()
                .map_or(0, |((i, c), _)| i + c.len_utf8());
            &prefix[..shared]
        });
        let dir = common.rsplit_once('/').map_or(common, |(dir, _)| dir);
        format!("one of {} files under {dir}/", files.len())
    };
    SpateError::BadFile {
        path: place,
        reason: message,
    }
}

/// Whether `err` comes from decoding a file: an arrow error (CSV, JSON, IPC, a value
/// that does not parse) or a Parquet error, anywhere in its chain of sources.
fn is_decoding(err: &SpateError) -> bool {
    let SpateError::DataFusion(root) = err else {
        return false;
    };
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(root);
    while let Some(e) = next {
        let decoding = match e.downcast_ref::<DataFusionError>() {
            Some(df) => matches!(
                df,
                DataFusionError::ArrowError(..) | DataFusionError::ParquetError(_)
            ),
            None => e.is::<ArrowError>() || e.is::<ParquetError>(),
        };
        if decoding {
            return true;
        }
        next = e.source();
    }
    false
}

/// The files the plan's scans read, as local paths (`/data/t.csv`) or URLs.
fn scanned_files(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    let mut files = Vec::new();
    let _ = plan.apply(|node| {
        if let Some(config) = node
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        {
            let store = config.object_store_url.as_str().trim_end_matches('/');
            for group in &config.file_groups {
                for file in group.iter() {
                    let location = file.object_meta.location.as_ref();
                    files.push(if store == "file:" || store == "file://" {
                        format!("/{location}")
                    } else {
                        format!("{store}/{location}")
                    });
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    files.sort();
    files.dedup();
    files
}
