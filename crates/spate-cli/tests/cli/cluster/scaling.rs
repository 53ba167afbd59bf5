//! Autoscaling of `spate cluster up --min-executors 1 --max-executors 3`: a job that
//! starts on one executor grows the cluster while its tasks wait, the executor that joins
//! takes tasks, and the cluster shrinks back to one executor after the job.

use std::time::Duration;

use super::children_of_up;
use super::harness::*;

#[test]
fn cluster_up_grows_while_tasks_wait_and_shrinks_when_idle() {
    let dir = tempfile::tempdir().unwrap();
    let data = tpch_sf01();
    let queries = [18, 21, 9, 13];
    let local = run_tpch(dir.path(), &data, &queries, &[]);
    let mut up = start(
        dir.path(),
        &[
            "up",
            "--bind",
            "127.0.0.1:0",
            "--min-executors",
            "1",
            "--max-executors",
            "3",
            "--threads",
            "1",
            "--scale-down-after",
            "2s",
        ],
    );
    let url = first_line(&mut up);
    let (children, mut log) = children_of_up(&mut up);
    assert_eq!(
        children.len(),
        2,
        "a scheduler and one executor: {children:?}"
    );
    let paths: Vec<String> = queries.iter().map(|n| tpch_query(*n)).collect();
    let mut args = vec!["run"];
    args.extend(paths.iter().map(String::as_str));
    args.extend([
        "--data",
        data.to_str().unwrap(),
        "--threads",
        "4",
        "--quiet",
        "--cluster",
        &url,
    ]);
    let mut client = start_spate(dir.path(), &args, &[]);
    let (mut stdout, mut stderr) = (client.stdout_lines(), client.stderr_lines());
    let grew = log.wait_for_text(Duration::from_secs(60), "started executor-2");
    assert!(
        client.running(),
        "the job ended before the cluster grew: {grew}"
    );
    assert!(!grew.contains(": 0 tasks waiting"), "{grew}");
    let code = client.exit_within(Duration::from_secs(180));
    let remote = stdout.rest();
    assert_eq!(code, Some(0), "{}", stderr.rest());
    assert!(
        first_difference(&local, &remote).is_none(),
        "cluster and local results differ: {}",
        first_difference(&local, &remote).unwrap_or_default()
    );
    // The executor that joined mid-job ran tasks of it; idle afterwards, it is stopped,
    // and so is any other beyond the minimum.
    log.wait_for(Duration::from_secs(60), |line| {
        line.contains("stopping executor-") && line.ends_with("; 1 executors")
    });
    let stopped = log
        .seen
        .iter()
        .find(|line| line.contains("stopping executor-2,"))
        .unwrap_or_else(|| panic!("executor-2 was not stopped: {:?}", log.seen));
    let tasks: usize = stopped
        .split(" after ")
        .nth(1)
        .and_then(|rest| rest.split(" tasks").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no task count: {stopped}"));
    assert!(tasks > 0, "{stopped}");
    signal(up.id(), "TERM");
    assert_eq!(up.exit_within(Duration::from_secs(30)), Some(0));
}
