//! Delta sinks fed directly, without Kafka: the table is the checkpoint,
//! its `txn` versions fence a zombie, and a crash loses and repeats nothing.

use super::*;
use crate::sink::delta;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipec_compiler::plan::Location;
use pipec_compiler::{compile, Source};
use std::path::PathBuf;

const PIPELINE: &str = "schema e {\n kind: string\n n: int\n}\ntopic t { schema e }\n\
    sink kept { from t\n where kind == \"keep\"\n path \"kept\"\n format delta }";

struct Scratch {
    plan: Plan,
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let compiled = compile(&Source::new("t.pipe", PIPELINE), &BTreeMap::new()).unwrap();
        let dir = std::env::temp_dir().join(format!("pipec-delta-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch {
            plan: compiled.plan,
            dir,
        }
    }

    fn worker(&self) -> TopicSinks {
        let mut sinks = TopicSinks::build(
            &self.plan,
            "t",
            &self.dir,
            Arc::new(Metrics::new()),
            None,
            "w".into(),
        )
        .unwrap();
        sinks.set_cluster("cafe0001".into());
        sinks
    }

    fn storage(&self) -> Storage {
        Storage::open(&Location::Relative("kept".into()), &self.dir).unwrap()
    }

    /// Every `n` in the table's latest snapshot, sorted: what the log says,
    /// not what the directory holds.
    async fn table(&self) -> Vec<i64> {
        let table = delta::load(&self.storage()).await.unwrap();
        let mut values = Vec::new();
        for uri in table.get_file_uris().unwrap() {
            let path = uri.strip_prefix("file://").unwrap_or(&uri).to_string();
            let file = std::fs::File::open(&path).unwrap();
            for batch in ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap()
            {
                let batch: RecordBatch = batch.unwrap();
                let n = batch.column_by_name("n").unwrap();
                values.extend(n.as_primitive::<Int64Type>().values().iter().copied());
            }
        }
        values.sort();
        values
    }

    async fn next_offset(&self, partition: i32) -> i64 {
        let mut table = DeltaSinkTable::open(&self.storage(), &self.plan.name, &self.plan.sinks[0])
            .await
            .unwrap();
        table.set_offsets_of(&self.plan.name, "kept", "t", "cafe0001");
        table.next_offset(partition).await.unwrap()
    }

    fn dead_letters(&self) -> Vec<String> {
        crate::sink::partition::names_in(&self.dir.join("dead_letters/sink=kept"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Event `n` at offset `n`: every third is not kept, every tenth is no event.
fn event(n: i64) -> Option<Vec<u8>> {
    let text = if n % 10 == 9 {
        format!("not json {n}")
    } else {
        let kind = if n % 3 == 0 { "drop" } else { "keep" };
        format!(r#"{{"kind":"{kind}","n":{n}}}"#)
    };
    Some(text.into_bytes())
}

fn kept(offsets: std::ops::Range<i64>) -> Vec<i64> {
    offsets.filter(|n| n % 10 != 9 && n % 3 != 0).collect()
}

async fn feed(sinks: &mut TopicSinks, partition: i32, offsets: std::ops::Range<i64>) {
    if sinks.needs_open(partition) {
        sinks.open(partition).await.unwrap();
    }
    for offset in offsets {
        let message = Message {
            partition,
            offset,
            timestamp_micros: 0,
            payload: event(offset),
        };
        sinks.accept(message).await.unwrap();
    }
}

#[tokio::test]
async fn a_trigger_commits_every_partition_and_its_offsets_in_one_delta_commit() {
    let scratch = Scratch::new("commit");
    let mut worker = scratch.worker();
    feed(&mut worker, 0, 0..30).await;
    feed(&mut worker, 1, 0..20).await;
    let done = worker.write(0, None).await.unwrap();
    assert_eq!(done.len(), 2);
    let mut expected = kept(0..30);
    expected.extend(kept(0..20));
    expected.sort();
    assert_eq!(scratch.table().await, expected);
    assert_eq!(scratch.next_offset(0).await, 30);
    assert_eq!(scratch.next_offset(1).await, 20);
    let table = delta::load(&scratch.storage()).await.unwrap();
    // Version 0 creates the table; version 1 is the one commit of both.
    assert_eq!(table.version(), Some(1));
    // Dead letters: one file per partition of the write, named by its offsets.
    assert_eq!(
        scratch.dead_letters().len(),
        2,
        "{:?}",
        scratch.dead_letters()
    );
    assert_eq!(worker.summaries()[0].dead_letters, 5);
}

#[tokio::test]
async fn a_restart_resumes_each_partition_from_the_tables_txn_version() {
    let scratch = Scratch::new("resume");
    let mut first = scratch.worker();
    feed(&mut first, 0, 0..30).await;
    first.write(0, None).await.unwrap();
    // Read further, then "crash" before the trigger: nothing of it commits.
    feed(&mut first, 0, 30..45).await;
    drop(first);
    let mut second = scratch.worker();
    second.open(0).await.unwrap();
    assert_eq!(second.lowest_position(0), Some(30));
    feed(&mut second, 0, 30..60).await;
    second.write(0, None).await.unwrap();
    assert_eq!(scratch.table().await, kept(0..60));
    assert_eq!(scratch.next_offset(0).await, 60);
}

#[tokio::test]
async fn a_zombie_whose_partition_moved_on_commits_nothing() {
    let scratch = Scratch::new("zombie");
    let mut zombie = scratch.worker();
    feed(&mut zombie, 0, 0..20).await;
    // Paused past its session: another worker claims the partition and commits.
    let mut owner = scratch.worker();
    feed(&mut owner, 0, 0..25).await;
    owner.write(0, None).await.unwrap();
    let dead_before = scratch.dead_letters();
    let done = zombie.write(0, None).await.unwrap();
    assert!(done.is_empty());
    assert!(zombie.all_fenced(0));
    assert_eq!(scratch.table().await, kept(0..25));
    assert_eq!(scratch.next_offset(0).await, 25);
    assert_eq!(
        scratch.dead_letters(),
        dead_before,
        "the zombie's dead letters are removed"
    );
}

#[tokio::test]
async fn dead_letters_of_a_write_that_never_committed_are_removed_at_the_claim() {
    let scratch = Scratch::new("dead");
    let mut worker = scratch.worker();
    feed(&mut worker, 0, 0..20).await;
    worker.write(0, None).await.unwrap();
    let committed = scratch.dead_letters();
    // A crash between the dead letters and the commit left these behind.
    let dir = scratch.dir.join("dead_letters/sink=kept");
    let stray = FileKey {
        topic: "t",
        partition: 0,
        first_offset: 20,
        last_offset: 29,
        cluster: "cafe0001",
    }
    .file_name();
    std::fs::write(dir.join(&stray), b"left by a crash").unwrap();
    let mut next = scratch.worker();
    next.open(0).await.unwrap();
    assert_eq!(scratch.dead_letters(), committed);
}

#[tokio::test]
async fn a_directory_that_is_not_a_delta_table_is_refused_and_left_alone() {
    let scratch = Scratch::new("not-delta");
    std::fs::create_dir_all(scratch.dir.join("kept")).unwrap();
    std::fs::write(scratch.dir.join("kept/part-0.parquet"), b"someone's file").unwrap();
    let mut worker = scratch.worker();
    let error = worker.open(0).await.unwrap_err().to_string();
    assert!(error.contains("not a Delta table"), "{error}");
    assert!(error.contains("kept"), "{error}");
    assert!(!scratch.dir.join("kept/_delta_log").exists());
}

#[tokio::test]
async fn a_table_of_another_pipeline_is_refused() {
    let scratch = Scratch::new("other");
    let other = compile(&Source::new("other.pipe", PIPELINE), &BTreeMap::new())
        .unwrap()
        .plan;
    DeltaSinkTable::open(&scratch.storage(), &other.name, &other.sinks[0])
        .await
        .unwrap();
    let mut worker = scratch.worker();
    let error = worker.open(0).await.unwrap_err().to_string();
    assert!(error.contains("pipeline `other`"), "{error}");
}

async fn count(ctx: &datafusion::prelude::SessionContext, sql: &str) -> i64 {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[tokio::test]
async fn sql_reads_the_latest_snapshot_of_a_delta_sink_by_each_query() {
    let scratch = Scratch::new("sql");
    let (ctx, _) = crate::catalog::session(&scratch.plan, &scratch.dir)
        .await
        .unwrap();
    // Before the first claim there is no table yet: empty, not an error.
    assert_eq!(count(&ctx, "select count(*) from kept").await, 0);
    let mut worker = scratch.worker();
    feed(&mut worker, 0, 0..30).await;
    worker.write(0, None).await.unwrap();
    assert_eq!(
        count(&ctx, "select count(*) from kept").await,
        kept(0..30).len() as i64
    );
    // Files that are in the directory but in no commit are not read.
    feed(&mut worker, 0, 30..60).await;
    assert_eq!(
        count(&ctx, "select count(*) from kept").await,
        kept(0..30).len() as i64
    );
    worker.write(0, None).await.unwrap();
    // The same session sees the new commit by its next query.
    assert_eq!(
        count(&ctx, "select count(*) from kept").await,
        kept(0..60).len() as i64
    );
    assert_eq!(
        count(&ctx, "select sum(n) from kept where kind = 'keep'").await,
        kept(0..60).iter().sum::<i64>()
    );
}

const PARTITIONED: &str = "schema e {\n kind: string\n n: int\n}\ntopic t { schema e }\n\
    sink kept { from t\n path \"kept\"\n format delta\n partition by kind\n\
    compact every 1h to 1MB\n vacuum after 1m }";

#[tokio::test]
async fn compaction_leaves_one_file_per_partition_directory_the_same_rows_and_an_optimize_commit() {
    let mut scratch = Scratch::new("compact");
    scratch.plan = compile(&Source::new("t.pipe", PARTITIONED), &BTreeMap::new())
        .unwrap()
        .plan;
    let mut worker = scratch.worker();
    // A day of triggers in small: 25 commits of two partitions each.
    for round in 0..25 {
        for partition in 0..2 {
            feed(&mut worker, partition, round * 10..round * 10 + 10).await;
        }
        worker.write(0, None).await.unwrap();
    }
    let before = scratch.table().await;
    let table = delta::load(&scratch.storage()).await.unwrap();
    let small_files = table.get_file_uris().unwrap().count();
    // Three kinds (keep, drop) per partition, no-events are dead letters.
    assert!(small_files >= 25 * 2, "{small_files} files");
    // Delta checkpoints every 10 commits keep the log short.
    let log = crate::sink::partition::names_in(&scratch.dir.join("kept/_delta_log"));
    assert!(
        log.iter().any(|f| f.ends_with(".checkpoint.parquet")),
        "{log:?}"
    );

    // An append beside the compaction: neither fails.
    feed(&mut worker, 0, 250..260).await;
    let sink = scratch.plan.sinks[0].clone();
    let storage = scratch.storage();
    let name = scratch.plan.name.clone();
    let (maintained, appended) = tokio::join!(
        crate::compact::compact(&storage, &name, &sink),
        worker.write(0, None)
    );
    let maintained = maintained.unwrap();
    appended.unwrap();
    assert!(maintained.files_removed >= 50, "{maintained:?}");
    // Replaced files are kept for readers of older snapshots (vacuum after 1m).
    assert_eq!(maintained.files_vacuumed, 0);

    let mut expected = before.clone();
    expected.extend((250..260).filter(|n| n % 10 != 9));
    expected.sort();
    assert_eq!(scratch.table().await, expected);
    let table = delta::load(&scratch.storage()).await.unwrap();
    let mut per_directory: BTreeMap<String, usize> = BTreeMap::new();
    for uri in table.get_file_uris().unwrap() {
        let directory = uri.rsplit_once('/').unwrap().0.to_string();
        *per_directory.entry(directory).or_default() += 1;
    }
    // One compacted file per kind, plus at most the one append beside it.
    assert_eq!(per_directory.len(), 2, "{per_directory:?}");
    assert!(per_directory.values().all(|&n| n <= 2), "{per_directory:?}");
    use futures::TryStreamExt;
    let history: Vec<_> = table.history(None).try_collect().await.unwrap();
    let operations: Vec<String> = history.into_iter().filter_map(|c| c.operation).collect();
    assert!(operations.iter().any(|o| o == "OPTIMIZE"), "{operations:?}");
    // Offsets survive compaction: a new worker resumes where the table is.
    assert_eq!(scratch.next_offset(0).await, 260);
}

#[tokio::test]
async fn a_damaged_log_entry_is_refused_with_what_to_do_and_nothing_is_written() {
    let scratch = Scratch::new("damaged");
    let mut worker = scratch.worker();
    feed(&mut worker, 0, 0..20).await;
    worker.write(0, None).await.unwrap();
    let log = scratch.dir.join("kept/_delta_log");
    std::fs::write(log.join("00000000000000000001.json"), b"{garbage\n").unwrap();
    let before = crate::sink::partition::names_in(&log);
    let mut next = scratch.worker();
    let error = next.open(0).await.unwrap_err();
    assert!(!error.is_transient(), "{error}");
    let message = error.to_string();
    assert!(message.contains("kept"), "{message}");
    assert!(message.contains("log cannot be read"), "{message}");
    assert!(message.contains("new `path`"), "{message}");
    assert_eq!(crate::sink::partition::names_in(&log), before);
}

#[tokio::test]
async fn a_table_whose_column_types_break_the_sink_is_refused_before_anything_is_written() {
    let scratch = Scratch::new("breaking");
    let older = PIPELINE.replace("n: int", "n: string");
    let older = compile(&Source::new("t.pipe", &older), &BTreeMap::new())
        .unwrap()
        .plan;
    DeltaSinkTable::open(&scratch.storage(), &older.name, &older.sinks[0])
        .await
        .unwrap();
    let log = scratch.dir.join("kept/_delta_log");
    let before = crate::sink::partition::names_in(&log);
    let mut worker = scratch.worker();
    let error = worker.open(0).await.unwrap_err().to_string();
    assert!(
        error.contains("column `n` is string in the table"),
        "{error}"
    );
    assert!(error.contains("new `path`"), "{error}");
    assert_eq!(crate::sink::partition::names_in(&log), before);
}

#[tokio::test]
async fn an_added_optional_field_becomes_a_column_of_the_table_and_old_rows_read_null() {
    let scratch = Scratch::new("evolve");
    let mut worker = scratch.worker();
    feed(&mut worker, 0, 0..20).await;
    worker.write(0, None).await.unwrap();
    let mut scratch = scratch;
    let newer = PIPELINE.replace("n: int\n", "n: int\n note: string?\n");
    scratch.plan = compile(&Source::new("t.pipe", &newer), &BTreeMap::new())
        .unwrap()
        .plan;
    let mut worker = scratch.worker();
    feed(&mut worker, 0, 20..40).await;
    worker.write(0, None).await.unwrap();
    let table = delta::load(&scratch.storage()).await.unwrap();
    let schema = table.snapshot().unwrap().schema();
    assert!(schema.field("note").is_some_and(|f| f.is_nullable()));
    let (ctx, _) = crate::catalog::session(&scratch.plan, &scratch.dir)
        .await
        .unwrap();
    assert_eq!(
        count(&ctx, "select count(*) from kept where note is null").await,
        kept(0..40).len() as i64
    );
}
