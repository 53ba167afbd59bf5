//! [`generate`]: plans the run, prepares the output directory and writes every file on a
//! pool of scoped worker threads.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::dimensions::{self, Catalog};
use crate::error::{DemoError, Result};
use crate::options::GenerateOptions;
use crate::transactions::{self, Chunk, FactModel, ROWS_PER_FILE};

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Rows of the `transactions` table.
    pub transactions: u64,
    /// Rows of `stores.parquet`.
    pub stores: u64,
    /// Rows of `customers.parquet`.
    pub customers: u64,
    /// Rows of `products.parquet`.
    pub products: u64,
    /// Parquet files written (three dimension tables plus the transaction parts).
    pub files: usize,
    /// Total size of the files written, in bytes.
    pub bytes: u64,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
}

/// One file to write.
#[derive(Debug, Clone, Copy)]
enum Task {
    Customers,
    Transactions(usize),
    Stores,
    Products,
}

/// Generates the Cymbal Superstore data set into `opts.out`.
///
/// Writes `stores.parquet`, `customers.parquet`, `products.parquet` and
/// `transactions/day=YYYY-MM-DD/part-NNNNN.parquet` (see the [crate documentation](crate)
/// for the schemas). An existing `transactions` directory under `out` is removed first; other
/// files there are left alone except the three dimension files, which are replaced. Each file
/// is written under a temporary name and renamed into place when complete.
///
/// The same options give byte-identical files whatever `threads` is.
///
/// # Errors
///
/// [`DemoError::InvalidOption`] if `transactions` or `days` is 0, `days` exceeds
/// `transactions`, or `start_date` is not a `YYYY-MM-DD` date; [`DemoError::Io`],
/// [`DemoError::Arrow`] or [`DemoError::Parquet`] naming the file that could not be written.
///
/// # Example
///
/// ```
/// use spate_demo::{GenerateOptions, generate};
///
/// let out = tempfile::tempdir()?;
/// let summary = generate(&GenerateOptions {
///     transactions: 1_000,
///     out: out.path().to_path_buf(),
///     ..GenerateOptions::default()
/// })?;
/// assert_eq!(summary.transactions, 1_000);
/// assert_eq!(summary.files, 3 + 7); // three dimensions, one part per day
/// assert!(out.path().join("transactions/day=2026-11-23/part-00000.parquet").is_file());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn generate(opts: &GenerateOptions) -> Result<GenerateSummary> {
    let started = Instant::now();
    let plan = opts.validate()?;
    let catalog = Catalog::generate(&plan);
    let model = FactModel::new(&catalog);
    let chunks = transactions::plan_chunks(
        plan.transactions,
        plan.days,
        plan.start_day,
        plan.seed,
        ROWS_PER_FILE,
    );
    prepare_output(&plan.out, &chunks)?;

    // The biggest dimension first so it overlaps with the fact chunks.
    let tasks: Vec<Task> = std::iter::once(Task::Customers)
        .chain((0..chunks.len()).map(Task::Transactions))
        .chain([Task::Stores, Task::Products])
        .collect();
    let out = plan.out.as_path();
    let bytes = run_tasks(&tasks, plan.threads, out, |task| match *task {
        Task::Customers => {
            dimensions::write_customers(&out.join("customers.parquet"), &catalog, plan.seed)
        }
        Task::Stores => dimensions::write_stores(&out.join("stores.parquet"), &catalog),
        Task::Products => dimensions::write_products(&out.join("products.parquet"), &catalog),
        Task::Transactions(i) => {
            let chunk = &chunks[i];
            transactions::write_chunk(&model, chunk, &out.join(chunk.relative_path()))
        }
    })?;

    Ok(GenerateSummary {
        transactions: plan.transactions,
        stores: plan.scale.stores,
        customers: plan.scale.customers,
        products: plan.scale.products,
        files: tasks.len(),
        bytes,
        elapsed: started.elapsed(),
    })
}

/// Creates `out`, removes a previous run's `transactions` directory and creates the day
/// partitions.
fn prepare_output(out: &Path, chunks: &[Chunk]) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|source| DemoError::io(out, source))?;
    let facts = out.join("transactions");
    match std::fs::remove_dir_all(&facts) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(DemoError::io(facts, source)),
    }
    let mut last_dir: Option<PathBuf> = None;
    for chunk in chunks {
        let dir = out.join(chunk.day_dir());
        if last_dir.as_ref() != Some(&dir) {
            std::fs::create_dir_all(&dir).map_err(|source| DemoError::io(&dir, source))?;
            last_dir = Some(dir);
        }
    }
    Ok(())
}

/// Runs `work` on every task with `threads` workers pulling tasks in order; returns the sum
/// of the results, or the error of the earliest failed task. Workers stop taking new tasks
/// once one has failed.
fn run_tasks<F>(tasks: &[Task], threads: usize, out: &Path, work: F) -> Result<u64>
where
    F: Fn(&Task) -> Result<u64> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        let mut results = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(task) = tasks.get(index) else { break };
            let result = work(task);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            results.push((index, result));
        }
        results
    };
    let joined: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.clamp(1, tasks.len().max(1)))
            .map(|_| scope.spawn(worker))
            .collect();
        handles.into_iter().map(|handle| handle.join()).collect()
    });

    let mut results = Vec::with_capacity(tasks.len());
    for worker_results in joined {
        let worker_results = worker_results.map_err(|_| DemoError::WorkerPanicked {
            out: out.to_path_buf(),
        })?;
        results.extend(worker_results);
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).sum()
}
