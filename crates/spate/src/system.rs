//! Facts about the machine that defaults are sized from: cores and memory, cgroup limits
//! included, so that a container with 4 GiB on a 256 GiB host gets a 4 GiB-sized default.

use crate::config::ByteSize;

/// The share of available memory a session takes by default.
const DEFAULT_MEMORY_FRACTION: f64 = 0.7;

/// The cores this process may run on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Memory this process can use: the smaller of the machine's available memory and the
/// cgroup's limit, when either is known.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| meminfo_available(&text));
    let cgroup = cgroup_limit();
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The default memory limit: a fraction of [`available_memory`], or 4 GiB when unknown.
pub fn default_memory_limit() -> ByteSize {
    let bytes = available_memory()
        .map(|m| (m as f64 * DEFAULT_MEMORY_FRACTION) as u64)
        .unwrap_or(4 << 30);
    ByteSize(bytes.max(64 << 20))
}

/// Rows per batch by default: DataFusion's 8192 when each thread has at least 256 MiB of
/// the memory limit, halved for every halving below that, down to 1024. Operators keep a
/// few batches per partition in flight (a sort's runs, a join's probe batch and its
/// output, a shuffle's pieces), so under a tight limit smaller batches leave the memory
/// to the data that must be held, at a small cost in per-batch overhead.
pub fn default_batch_size(limit: ByteSize, threads: usize) -> usize {
    let per_thread = limit.bytes() / threads.max(1) as u64;
    let (mut rows, mut needs) = (8192, 256u64 << 20);
    while rows > 1024 && per_thread < needs {
        rows /= 2;
        needs /= 2;
    }
    rows
}

fn meminfo_available(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
}

fn cgroup_limit() -> Option<u64> {
    // cgroup v2, then v1. "max" (v2) or a huge number (v1) mean no limit.
    for path in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(limit) = text.trim().parse::<u64>()
            && limit < (1 << 60)
        {
            return Some(limit);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_shrink_with_the_memory_each_thread_has() {
        assert_eq!(default_batch_size(ByteSize(16 << 30), 2), 8192);
        assert_eq!(default_batch_size(ByteSize(512 << 20), 2), 8192);
        assert_eq!(default_batch_size(ByteSize(256 << 20), 2), 4096);
        assert_eq!(default_batch_size(ByteSize(200 << 20), 2), 2048);
        assert_eq!(default_batch_size(ByteSize(100 << 20), 2), 1024);
        assert_eq!(default_batch_size(ByteSize(2 << 20), 2), 1024);
    }

    #[test]
    fn reads_meminfo() {
        let text = "MemTotal: 100 kB\nMemAvailable:    2048 kB\n";
        assert_eq!(meminfo_available(text), Some(2048 * 1024));
        assert_eq!(meminfo_available("MemTotal: 1 kB"), None);
    }

    #[test]
    fn default_limit_is_sane() {
        assert!(default_memory_limit().bytes() >= 64 << 20);
        assert!(available_cores() >= 1);
    }
}
