//! The session's memory pool, with its peak use recorded.
//!
//! DataFusion's pools account memory but forget the high-water mark. [`PeakMemoryPool`]
//! wraps the real pool (a fair spill pool that lists its largest consumers when it runs
//! out) and keeps the largest `reserved()` seen since the last [`PeakMemoryPool::reset_peak`],
//! so each query can report the memory it actually took.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::error::Result;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// A memory pool that records its peak use. See the module doc.
#[derive(Debug)]
pub(crate) struct PeakMemoryPool {
    inner: Arc<dyn MemoryPool>,
    peak: AtomicUsize,
}

impl PeakMemoryPool {
    pub fn new(inner: Arc<dyn MemoryPool>) -> Self {
        PeakMemoryPool {
            inner,
            peak: AtomicUsize::new(0),
        }
    }

    /// The most memory reserved at once since the last reset.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts a new high-water mark from what is reserved now.
    pub fn reset_peak(&self) {
        self.peak.store(self.inner.reserved(), Ordering::Relaxed);
    }

    fn observe(&self) {
        self.peak
            .fetch_max(self.inner.reserved(), Ordering::Relaxed);
    }
}

impl std::fmt::Display for PeakMemoryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (peak {} bytes)", self.inner, self.peak())
    }
}

impl MemoryPool for PeakMemoryPool {
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
        self.observe();
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        self.inner.try_grow(reservation, additional)?;
        self.observe();
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::execution::memory_pool::GreedyMemoryPool;

    use super::*;

    #[test]
    fn records_the_high_water_mark() {
        let pool = Arc::new(PeakMemoryPool::new(Arc::new(GreedyMemoryPool::new(1000))));
        let reservation =
            MemoryConsumer::new("test").register(&(pool.clone() as Arc<dyn MemoryPool>));
        reservation.try_grow(600).unwrap();
        reservation.shrink(500);
        reservation.grow(100);
        assert_eq!(pool.peak(), 600);
        assert!(reservation.try_grow(900).is_err());
        assert_eq!(pool.peak(), 600);
        pool.reset_peak();
        assert_eq!(pool.peak(), 200);
    }
}
