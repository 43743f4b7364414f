//! The memory pool behind `clvsql -m`.
//!
//! DataFusion 55's `RepartitionExec` spills batches it cannot reserve memory
//! for, and its spill reader can wait forever when two of its spill files are
//! open at once (apache/datafusion#24883, fixed after 55.2). A grouped
//! aggregation under a tight memory limit then hangs with every thread
//! parked. This pool never refuses `RepartitionExec`: its buffered batches are
//! counted against the limit but never spilled, which DataFusion bounds by
//! about a batch per partition, so the operators that spill soundly (sorts,
//! aggregations) do so, and a query that cannot fit fails with "Resources
//! exhausted" instead of hanging. Remove that exception when DataFusion is
//! upgraded.
//!
//! The limit is shared fairly (DataFusion's `FairSpillPool`): each spilling
//! operator may hold its share of what the others that cannot spill leave.
//! With a greedy pool the partitions of one aggregation raced for memory, so
//! the same query at the same limit spilled and succeeded in some runs and
//! failed in others (1M customers' `rfm_summary` at `-m 20M`: 2 failures in
//! 5); fairly shared, every run ends the same way.

//!
//! When the limit is reached, the error names the three largest holders of
//! memory beside the operator that asked for more (DataFusion's
//! `TrackConsumersPool`).

use std::num::NonZeroUsize;

use datafusion::error::Result;
use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation, TrackConsumersPool,
};

/// How many holders of memory a "Resources exhausted" error names.
const TOP_CONSUMERS: NonZeroUsize = NonZeroUsize::new(3).unwrap();

#[derive(Debug)]
pub struct BoundedMemoryPool {
    inner: TrackConsumersPool<FairSpillPool>,
}

impl BoundedMemoryPool {
    /// A pool of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            inner: TrackConsumersPool::new(FairSpillPool::new(limit), TOP_CONSUMERS),
        }
    }
}

impl std::fmt::Display for BoundedMemoryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "clvsql-bounded({})", self.inner)
    }
}

fn never_refused(reservation: &MemoryReservation) -> bool {
    reservation.consumer().name().starts_with("RepartitionExec")
}

impl MemoryPool for BoundedMemoryPool {
    fn name(&self) -> &str {
        "clvsql-bounded"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if never_refused(reservation) {
            self.inner.grow(reservation, additional);
            return Ok(());
        }
        self.inner.try_grow(reservation, additional)
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

/// A size like `512M`, `2G` or `1.5K` (binary units), as `-m` takes it.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size like 512M or 2G"))?;
    let scale = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" => 1024.0,
        "M" | "MB" => 1024.0 * 1024.0,
        "G" | "GB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TB" => 1024.0_f64.powi(4),
        _ => return Err(format!("'{text}' is not a size like 512M or 2G")),
    };
    Ok((number * scale) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert!(parse_size("lots").is_err());
    }
}
