//! A `--once` backfill beside live workers (issue 26), on the real broker: it
//! refuses while the sink's consumer group has members, and the two live
//! workers go on writing every acknowledged event once. A worker that died is not
//! live: its lingering group membership is waited out, not refused.

mod common;

use common::{kafka_broker, scratch, unique, written_once, Pipec};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const PIPELINE: &str = "tests/pipelines/crash.pipe";

/// Both tests use the pipeline's one consumer group: one at a time.
static GROUP: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Sends `count` events with ids `{prefix}-{n}` through the API, returning
/// the ids acknowledged (200).
fn send(pipec: &Pipec, prefix: &str, range: std::ops::Range<usize>) -> BTreeSet<String> {
    let mut acked = BTreeSet::new();
    for n in range {
        let id = format!("{prefix}-{n}");
        let response = pipec.get(&format!("/event?id={id}&kind=a"), &[]);
        assert_eq!(response.status, 200, "{}", response.text());
        acked.insert(id);
    }
    acked
}

/// Waits until `all_events` holds every id of `acked` (each once).
fn wait_written(data: &std::path::Path, prefix: &str, acked: &BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // DuckDB refuses a glob that matches nothing: wait for a first file.
        let any = common::files_below(&data.join("all_events"))
            .iter()
            .any(|f| f.ends_with(".parquet"));
        let written = if any {
            written_once(data, "all_events", prefix)
        } else {
            BTreeSet::new()
        };
        if acked.is_subset(&written) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged events written",
            written.intersection(acked).count(),
            acked.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The slowest trigger of the pipeline (`a_events`, every 2 s).
const TRIGGER: Duration = Duration::from_secs(2);

fn worker(bootstrap: &str, data_arg: &str) -> Pipec {
    Pipec::start(&[
        PIPELINE,
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        bootstrap,
        "--data-dir",
        data_arg,
        "--status-interval",
        "0",
    ])
}

#[test]
fn a_backfill_beside_two_live_workers_refuses_and_the_workers_go_on() {
    let Some(bootstrap) = kafka_broker() else {
        return;
    };
    let _group = GROUP.lock().unwrap_or_else(|e| e.into_inner());
    let data = scratch("backfill-beside-live");
    let data_arg = data.display().to_string();
    let prefix = unique("backfill");
    let workers = [worker(&bootstrap, &data_arg), worker(&bootstrap, &data_arg)];
    // Written, so both workers' consumers are members of the group.
    let mut acked = send(&workers[0], &prefix, 0..25);
    acked.extend(send(&workers[1], &prefix, 25..50));
    wait_written(&data, &prefix, &acked);

    let backfill = common::once(PIPELINE, &bootstrap, &data_arg);
    let said = common::text(&backfill.stderr);
    assert!(
        !backfill.status.success(),
        "the backfill must refuse:\n{said}"
    );
    assert!(said.contains("running worker(s)"), "{said}");
    assert!(
        said.contains("pipec.crash_test"),
        "names the group:\n{said}"
    );

    // The live workers were not fenced: what they acknowledge now is
    // written within a trigger and 5 s.
    let refused_at = Instant::now();
    acked.extend(send(&workers[0], &prefix, 50..75));
    acked.extend(send(&workers[1], &prefix, 75..100));
    wait_written(&data, &prefix, &acked);
    let again = refused_at.elapsed();
    eprintln!("beside two live workers: the backfill refused; the workers wrote every new event {again:?} after");
    assert!(
        again <= TRIGGER + Duration::from_secs(5),
        "the live workers wrote again only {again:?} after the refusal"
    );
    for worker in workers {
        let status = worker.stop();
        assert!(status.success(), "{status}");
    }

    // With no live worker, the backfill runs, and writes nothing twice.
    common::drain_once(PIPELINE, &bootstrap, &data_arg);
    let written = written_once(&data, "all_events", &prefix);
    assert_eq!(written, acked);
}

#[test]
fn a_backfill_after_a_killed_worker_waits_out_its_session_and_writes_everything() {
    let Some(bootstrap) = kafka_broker() else {
        return;
    };
    let _group = GROUP.lock().unwrap_or_else(|e| e.into_inner());
    let data = scratch("backfill-after-kill");
    let data_arg = data.display().to_string();
    let prefix = unique("killed");
    let worker = worker(&bootstrap, &data_arg);
    let mut acked = send(&worker, &prefix, 0..30);
    wait_written(&data, &prefix, &acked);
    acked.extend(send(&worker, &prefix, 30..60));
    // No leave-group is sent: the broker lists the member until its
    // session times out, as after a crash or a broker restart.
    common::signal(worker.pid(), "KILL");
    drop(worker);

    let started = Instant::now();
    common::drain_once(PIPELINE, &bootstrap, &data_arg);
    let written = written_once(&data, "all_events", &prefix);
    assert_eq!(written, acked);
    eprintln!(
        "backfill after a killed worker: {} written, ran {:?}",
        written.len(),
        started.elapsed()
    );
}
