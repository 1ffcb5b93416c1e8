//! The sink core fed directly, without Kafka: one read for several sinks,
//! resumes from different checkpoints, a rebalance, and crashes.

use super::*;
use crate::sink::naming::staged_path;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipec_compiler::{compile, Source};
use std::path::PathBuf;

const PIPELINE: &str = "schema e {\n kind: string\n n: int\n}\ntopic t { schema e }\n\
    sink kept { from t\n where kind == \"keep\"\n path \"kept\"\n checkpoint \"kept_ck\" }\n\
    sink every { from t\n path \"every\"\n checkpoint \"every_ck\" }";

const KEPT: usize = 0;
const EVERY: usize = 1;

struct Scratch {
    plan: Plan,
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let plan = compile(&Source::new("t.pipe", PIPELINE), &BTreeMap::new())
            .unwrap()
            .plan;
        let dir = std::env::temp_dir().join(format!("pipec-core-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch { plan, dir }
    }

    /// A worker: the topic's sinks as one process runs them.
    fn worker(&self, owner: &str) -> TopicSinks {
        let mut sinks = TopicSinks::build(
            &self.plan,
            "t",
            &self.dir,
            Arc::new(Metrics::new()),
            None,
            owner.into(),
        )
        .unwrap();
        sinks.set_cluster("cafe0001".into());
        sinks
    }

    /// Every `n` in the visible files of a sink's directory, sorted.
    fn table(&self, sink: &str) -> Vec<i64> {
        let mut values = Vec::new();
        for path in parquet_files(&self.dir.join(sink)) {
            let file = std::fs::File::open(&path).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            for batch in reader {
                let batch: RecordBatch = batch.unwrap();
                let n = batch.column_by_name("n").unwrap();
                values.extend(n.as_primitive::<Int64Type>().values().iter().copied());
            }
        }
        values.sort();
        values
    }

    /// The names of every file below a sink's directory, hidden ones too.
    fn all_files(&self, sink: &str) -> Vec<String> {
        crate::sink::partition::names_in(&self.dir.join(sink))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(parquet_files(&path));
        } else if path.extension().is_some_and(|e| e == "parquet")
            && !path.file_name().unwrap().to_string_lossy().starts_with('.')
        {
            files.push(path);
        }
    }
    files
}

/// Event `n` at offset `n`: every third one is not kept by `kept`, and
/// every tenth is not an event at all.
fn event(n: i64) -> Option<Vec<u8>> {
    let text = if n % 10 == 9 {
        format!("not json {n}")
    } else {
        let kind = if n % 3 == 0 { "drop" } else { "keep" };
        format!(r#"{{"kind":"{kind}","n":{n}}}"#)
    };
    Some(text.into_bytes())
}

async fn feed(sinks: &mut TopicSinks, partition: i32, offsets: std::ops::Range<i64>) {
    if sinks.needs_open(partition) {
        sinks.open(partition).await.unwrap();
    }
    for offset in offsets {
        sinks
            .accept(Message {
                partition,
                offset,
                timestamp_micros: 0,
                payload: event(offset),
            })
            .await
            .unwrap();
    }
}

async fn write_all(sinks: &mut TopicSinks) {
    for index in 0..sinks.len() {
        sinks.write(index, None).await.unwrap();
    }
    assert!(!sinks.has_rewound());
}

fn expected_kept(offsets: std::ops::Range<i64>) -> Vec<i64> {
    offsets.filter(|n| n % 10 != 9 && n % 3 != 0).collect()
}

fn expected_every(offsets: std::ops::Range<i64>) -> Vec<i64> {
    offsets.filter(|n| n % 10 != 9).collect()
}

#[tokio::test]
async fn one_read_feeds_every_sink_its_own_rows_and_dead_letters() {
    let scratch = Scratch::new("one-read");
    let mut worker = scratch.worker("w1");
    // More than a decode batch, so rows cross chunk boundaries.
    feed(&mut worker, 0, 0..10_000).await;
    write_all(&mut worker).await;
    assert_eq!(scratch.table("kept"), expected_kept(0..10_000));
    assert_eq!(scratch.table("every"), expected_every(0..10_000));
    let summaries = worker.summaries();
    assert_eq!(summaries[KEPT].events_read, 10_000);
    assert_eq!(summaries[EVERY].events_read, 10_000);
    assert_eq!(summaries[KEPT].dead_letters, 1_000);
    assert_eq!(summaries[EVERY].dead_letters, 1_000);
    assert_eq!(worker.committed_position(0), Some(10_000));
}

#[tokio::test]
async fn a_restart_resumes_from_the_lowest_checkpoint_and_each_sink_skips_what_it_wrote() {
    let scratch = Scratch::new("resume");
    let mut worker = scratch.worker("w1");
    feed(&mut worker, 0, 0..50).await;
    worker.write(KEPT, None).await.unwrap();
    feed(&mut worker, 0, 50..80).await;
    worker.write(EVERY, None).await.unwrap();
    // Stopped here: `kept` committed up to 50, `every` up to 80.
    drop(worker);
    let mut restarted = scratch.worker("w2");
    restarted.open(0).await.unwrap();
    assert_eq!(restarted.lowest_position(0), Some(50));
    feed(&mut restarted, 0, 50..120).await;
    write_all(&mut restarted).await;
    assert_eq!(scratch.table("kept"), expected_kept(0..120));
    assert_eq!(scratch.table("every"), expected_every(0..120));
    let summaries = restarted.summaries();
    assert_eq!(
        (summaries[KEPT].events_read, summaries[EVERY].events_read),
        (70, 40),
        "each sink took only what it had not written"
    );
}

#[tokio::test]
async fn a_rebalance_leaves_unwritten_events_to_the_new_owner() {
    let scratch = Scratch::new("rebalance");
    let mut first = scratch.worker("first");
    feed(&mut first, 0, 0..30).await;
    feed(&mut first, 1, 0..30).await;
    write_all(&mut first).await;
    // More is read, then partition 1 moves to another worker before a write.
    feed(&mut first, 0, 30..60).await;
    feed(&mut first, 1, 30..60).await;
    first.revoked(&[1]);
    assert!(first.needs_open(1));
    let mut second = scratch.worker("second");
    second.open(1).await.unwrap();
    assert_eq!(second.lowest_position(1), Some(30));
    feed(&mut second, 1, 30..60).await;
    write_all(&mut second).await;
    write_all(&mut first).await;
    let twice = |range: std::ops::Range<i64>, f: fn(std::ops::Range<i64>) -> Vec<i64>| {
        let mut both = [f(range.clone()), f(range)].concat();
        both.sort();
        both
    };
    assert_eq!(
        scratch.table("kept"),
        twice(0..60, expected_kept),
        "each partition's events once"
    );
    assert_eq!(scratch.table("every"), twice(0..60, expected_every));
}

#[tokio::test]
async fn a_zombie_that_lost_its_partition_commits_nothing() {
    let scratch = Scratch::new("zombie");
    let mut zombie = scratch.worker("zombie");
    feed(&mut zombie, 0, 0..20).await;
    // Paused past the session timeout: another worker claims and writes.
    let mut owner = scratch.worker("owner");
    feed(&mut owner, 0, 0..25).await;
    write_all(&mut owner).await;
    // The zombie wakes and writes: fenced, for both of its sinks.
    write_all(&mut zombie).await;
    assert!(zombie.all_fenced(0));
    assert_eq!(scratch.table("kept"), expected_kept(0..25));
    assert_eq!(scratch.table("every"), expected_every(0..25));
    assert!(
        !scratch
            .all_files("every")
            .iter()
            .any(|f| f.starts_with('.')),
        "no hidden file of the zombie is left: {:?}",
        scratch.all_files("every")
    );
}

#[tokio::test]
async fn a_crash_between_writing_files_and_committing_loses_and_repeats_nothing() {
    let scratch = Scratch::new("crash");
    let mut worker = scratch.worker("w1");
    feed(&mut worker, 0, 0..40).await;
    write_all(&mut worker).await;
    feed(&mut worker, 0, 40..70).await;
    // The crash: the next write's files were completed, hidden, but its
    // checkpoint never written. Such a file is what the write leaves.
    let generation = 1;
    let leftover = staged_path(
        "t",
        0,
        "part-t-000-00000000000000000040-open-cafe0001.parquet",
        generation,
    );
    let leftover_path = scratch.dir.join("every").join(&leftover);
    std::fs::create_dir_all(leftover_path.parent().unwrap()).unwrap();
    std::fs::write(&leftover_path, b"PAR1 partial").unwrap();
    drop(worker);
    let mut restarted = scratch.worker("w2");
    restarted.open(0).await.unwrap();
    assert_eq!(restarted.lowest_position(0), Some(40));
    assert!(
        !scratch.all_files("every").contains(&leftover),
        "the claim's recovery deletes the uncommitted file"
    );
    feed(&mut restarted, 0, 40..70).await;
    write_all(&mut restarted).await;
    assert_eq!(scratch.table("kept"), expected_kept(0..70));
    assert_eq!(scratch.table("every"), expected_every(0..70));
}

#[tokio::test]
async fn a_crash_after_the_commit_is_finished_by_the_next_owner() {
    let scratch = Scratch::new("after-commit");
    let mut worker = scratch.worker("w1");
    feed(&mut worker, 0, 0..40).await;
    write_all(&mut worker).await;
    drop(worker);
    // As if the process died between the checkpoint and the rename.
    let checkpoint = CheckpointStore::new(Storage::local(&scratch.dir.join("every_ck")).unwrap())
        .load("t", 0)
        .await
        .unwrap()
        .unwrap();
    let file = &checkpoint.files[0];
    let pending = scratch.dir.join("every").join(&file.pending);
    std::fs::create_dir_all(pending.parent().unwrap()).unwrap();
    std::fs::rename(scratch.dir.join("every").join(&file.visible), pending).unwrap();
    assert_eq!(scratch.table("every"), Vec::<i64>::new());
    let mut restarted = scratch.worker("w2");
    restarted.open(0).await.unwrap();
    assert_eq!(scratch.table("every"), expected_every(0..40));
    assert_eq!(restarted.lowest_position(0), Some(40));
}

#[tokio::test]
async fn row_count_triggers_count_only_the_rows_a_sink_keeps() {
    let text = PIPELINE.replace(
        "checkpoint \"kept_ck\" }",
        "checkpoint \"kept_ck\"\n trigger every 100 rows }",
    );
    let mut scratch = Scratch::new("rows");
    scratch.plan = compile(&Source::new("t.pipe", &text), &BTreeMap::new())
        .unwrap()
        .plan;
    let mut worker = scratch.worker("w1");
    worker.open(0).await.unwrap();
    let mut files = 0;
    for offset in 0..1_000 {
        worker
            .accept(Message {
                partition: 0,
                offset,
                timestamp_micros: 0,
                payload: event(offset),
            })
            .await
            .unwrap();
        if let Due::Partitions(full) = worker.due(KEPT).await.unwrap() {
            files += worker.write(KEPT, Some(&full)).await.unwrap().len();
        }
    }
    let kept = expected_kept(0..1_000).len();
    assert_eq!(files, kept / 100, "a file per 100 kept rows");
    assert_eq!(scratch.table("kept").len(), kept / 100 * 100);
}

#[tokio::test]
async fn a_storage_failure_rewinds_the_sink_to_its_checkpoint_and_loses_nothing() {
    let scratch = Scratch::new("rewind");
    let mut worker = scratch.worker("w1");
    feed(&mut worker, 0, 0..50).await;
    write_all(&mut worker).await;
    feed(&mut worker, 0, 50..100).await;
    // `every`'s directory becomes a file: its next write cannot complete.
    let every = scratch.dir.join("every");
    let moved = scratch.dir.join("every-away");
    std::fs::rename(&every, &moved).unwrap();
    std::fs::write(&every, b"in the way").unwrap();
    assert_eq!(worker.write(KEPT, None).await.unwrap().len(), 1);
    assert!(worker.write(EVERY, None).await.unwrap().is_empty());
    assert!(worker.has_rewound());
    assert_eq!(worker.take_rewound(), BTreeSet::from([0]));
    assert_eq!(
        worker.lowest_position(0),
        Some(50),
        "read again from `every`'s checkpoint"
    );
    // Messages before the reader seeks back are not `every`'s to take.
    feed(&mut worker, 0, 100..110).await;
    assert_eq!(worker.lowest_position(0), Some(50));
    std::fs::remove_file(&every).unwrap();
    std::fs::rename(&moved, &every).unwrap();
    worker.sought(0);
    feed(&mut worker, 0, 50..120).await;
    write_all(&mut worker).await;
    assert_eq!(scratch.table("kept"), expected_kept(0..120));
    assert_eq!(scratch.table("every"), expected_every(0..120));
}
