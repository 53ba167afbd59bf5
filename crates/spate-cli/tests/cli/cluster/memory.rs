//! Bounded memory on a cluster: with executors of a tiny memory limit, hash joins whose
//! build side does not fit run in pieces (spate's grace hash join, shipped to the
//! executors) and the queries return the rows they return locally.

use super::super::common::*;
use super::harness::*;
use super::metrics::stage_rows;

/// TPC-H Q18 and Q21 at SF 0.1 on two single-threaded executors of 8 MiB each (a join
/// may hold 2 MiB of build side per task): their joins are split to fit, as the stage
/// table says, and the rows are the local ones.
#[test]
fn joins_too_big_for_the_executors_memory_are_split_and_return_the_local_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    let mut cluster = TestCluster::with(
        dir.path(),
        &ClusterSpec {
            executors: 2,
            threads: "1",
            memory_limit: "8MiB",
            scheduler_args: &[],
            executor_env: &[],
        },
    );
    drain(cluster.scheduler.0.stderr.take());
    for executor in &mut cluster.executors {
        drain(executor.0.stderr.take());
    }
    for query in [18, 21] {
        let local = run_tpch(dir.path(), &data, &[query], &[]);
        let (code, remote, stderr) = run(spate(dir.path()).args([
            "run",
            &tpch_query(query),
            "--data",
            data.to_str().unwrap(),
            "--threads",
            "2",
            "--quiet",
            "--metrics",
            "--cluster",
            &cluster.url,
        ]));
        assert_eq!(code, 0, "Q{query}: {stderr}");
        let splits: u64 = stage_rows(&stderr).iter().map(|s| s.splits).sum();
        let spilled: u64 = stage_rows(&stderr).iter().map(|s| s.op_spill).sum();
        assert!(
            splits > 0 && spilled > 0,
            "Q{query}: no join was split: {stderr}"
        );
        assert!(
            first_difference(&local, &remote).is_none(),
            "Q{query}: cluster and local results differ: {}",
            first_difference(&local, &remote).unwrap_or_default()
        );
    }
}
