//! What one task used: the CPU time of its polls and its peak memory.
//!
//! - **CPU time**: [`CpuTimed`] wraps the task's future and reads the thread's CPU clock
//!   before and after every poll; the task may move between worker threads, and each
//!   poll runs wholly on one, so the sum is the CPU the task's own polls took. (Work an
//!   operator hands to tasks of its own, such as a `RepartitionExec`'s input tasks, is not
//!   counted.)
//! - **Peak memory**: every task runs with its own [`TaskMemoryPool`], a wrapper over
//!   the session's pool that counts what reservations made through it hold, and its high
//!   water mark. Memory a task hands on (its shuffle output, a broadcast build side) stays
//!   counted to it until it is freed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use cpu_time::ThreadTime;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;

/// A future that adds up the thread CPU time of its polls.
pub(crate) struct CpuTimed<F> {
    inner: Pin<Box<F>>,
    cpu: Duration,
}

impl<F: Future> CpuTimed<F> {
    pub fn new(inner: F) -> Self {
        CpuTimed {
            inner: Box::pin(inner),
            cpu: Duration::ZERO,
        }
    }
}

impl<F: Future> Future for CpuTimed<F> {
    /// The inner output and the CPU time its polls took.
    type Output = (F::Output, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let start = ThreadTime::try_now().ok();
        let poll = self.inner.as_mut().poll(cx);
        if let Some(spent) = start.and_then(|s| s.try_elapsed().ok()) {
            self.cpu += spent;
        }
        poll.map(|output| (output, self.cpu))
    }
}

/// A view of the session's pool that records what one task reserves; see the module doc.
#[derive(Debug)]
pub(crate) struct TaskMemoryPool {
    inner: Arc<dyn MemoryPool>,
    held: AtomicUsize,
    peak: AtomicUsize,
}

impl TaskMemoryPool {
    pub fn new(inner: Arc<dyn MemoryPool>) -> Self {
        TaskMemoryPool {
            inner,
            held: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The most its reservations held at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn added(&self, bytes: usize) {
        let held = self.held.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(held, Ordering::Relaxed);
    }
}

impl std::fmt::Display for TaskMemoryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl MemoryPool for TaskMemoryPool {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
        self.added(additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
        let _ = self
            .held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                Some(held.saturating_sub(shrink))
            });
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.inner.try_grow(reservation, additional)?;
        self.added(additional);
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

/// `ctx` with `pool` in place of its memory pool: everything else (disk manager, caches,
/// object stores, functions, settings) is shared.
pub(crate) fn task_context(
    ctx: &TaskContext,
    config: SessionConfig,
    pool: Arc<TaskMemoryPool>,
) -> Result<Arc<TaskContext>> {
    let runtime = RuntimeEnvBuilder::from_runtime_env(&ctx.runtime_env())
        .with_memory_pool(pool)
        .build_arc()?;
    Ok(Arc::new(TaskContext::new(
        ctx.task_id(),
        ctx.session_id(),
        config,
        ctx.scalar_functions().clone(),
        ctx.higher_order_functions().clone(),
        ctx.aggregate_functions().clone(),
        ctx.window_functions().clone(),
        runtime,
    )))
}

#[cfg(test)]
mod tests {
    use datafusion::execution::memory_pool::GreedyMemoryPool;

    use super::*;

    #[test]
    fn a_task_pool_records_its_own_high_water_mark_and_passes_everything_on() {
        let session: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1000));
        let task = Arc::new(TaskMemoryPool::new(Arc::clone(&session)));
        let other = MemoryConsumer::new("other").register(&session);
        other.try_grow(100).unwrap();
        let pool: Arc<dyn MemoryPool> = task.clone();
        let mine = MemoryConsumer::new("mine").register(&pool);
        mine.try_grow(300).unwrap();
        mine.shrink(200);
        mine.try_grow(50).unwrap();
        assert_eq!(task.peak(), 300);
        assert_eq!(session.reserved(), 250);
        assert!(
            mine.try_grow(800).is_err(),
            "the session's limit still holds"
        );
        drop(mine);
        assert_eq!(session.reserved(), 100);
    }

    #[tokio::test]
    async fn cpu_timed_counts_the_work_of_its_polls() {
        let (sum, cpu) = CpuTimed::new(async {
            let mut x = 0u64;
            for i in 0..5_000_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            tokio::task::yield_now().await;
            std::hint::black_box(x)
        })
        .await;
        assert_ne!(sum, 1);
        assert!(cpu > Duration::ZERO, "some CPU time was counted");
    }
}
