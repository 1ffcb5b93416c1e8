//! The limit for topic → Parquet: the same event bytes decoded with
//! arrow-json and written as the seed's two filtered Parquet tables (same
//! columns, same SNAPPY compression as pipec), with no Kafka, no checkpoint
//! and no dead-letter handling. What the libraries can do on this machine.
//!
//! Usage: parquet_limit EVENTS.jsonl OUT_DIR
//! Prints one line: `events=N seconds=S cpu_seconds=C sword_purchases=A guild_joins=B`.
//! The file is read into memory first; only decode, filter and write are timed,
//! on the wall clock (`seconds`) and as user + system CPU of all threads
//! (`cpu_seconds`).
//!
//! It uses both cores as pipec does: the main thread decodes, and each
//! table filters and encodes on a thread of its own, fed through a bounded
//! channel. Row groups are pipec's size, so the files are alike.

use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
use arrow::compute::{filter_record_batch, kernels::cmp::eq};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Rows decoded at a time.
const CHUNK: usize = 65_536;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, out_dir] = args.as_slice() else {
        eprintln!("usage: parquet_limit EVENTS.jsonl OUT_DIR");
        std::process::exit(2);
    };
    let bytes = std::fs::read(input)?;
    let lines: Vec<&str> = std::str::from_utf8(&bytes)?.lines().collect();

    let started = Instant::now();
    let cpu_before = pipec_bench::process_cpu_seconds()?;
    let by_key = Arc::new(Schema::new(
        ["Accept", "Host", "User-Agent", "event_type"]
            .map(|key| Field::new(key, DataType::Utf8, true))
            .to_vec(),
    ));
    let timestamp_type = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let table_schema = Arc::new(Schema::new(vec![
        Field::new("raw_event", DataType::Utf8, false),
        Field::new("timestamp", timestamp_type, false),
        Field::new("Accept", DataType::Utf8, true),
        Field::new("Host", DataType::Utf8, true),
        Field::new("User_Agent", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
    ]));
    let tables = [
        Table::create(out_dir, "sword_purchases", "purchase_sword", &table_schema)?,
        Table::create(out_dir, "guild_joins", "join_guild", &table_schema)?,
    ];
    let mut senders = Vec::new();
    let mut writers = Vec::new();
    for mut table in tables {
        let (sender, receiver) = std::sync::mpsc::sync_channel::<RecordBatch>(4);
        senders.push(sender);
        writers.push(std::thread::spawn(
            move || -> Result<(&'static str, usize), String> {
                for batch in receiver {
                    table.write(&batch).map_err(|e| e.to_string())?;
                }
                table.writer.close().map_err(|e| e.to_string())?;
                Ok((table.name, table.rows))
            },
        ));
    }
    let mut decoder = arrow_json::ReaderBuilder::new(by_key)
        .with_batch_size(CHUNK)
        .build_decoder()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_micros() as i64;
    for chunk in lines.chunks(CHUNK) {
        for line in chunk {
            decoder.decode(line.as_bytes())?;
        }
        let fields = decoder.flush()?.expect("a chunk has rows");
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(chunk.iter())),
            Arc::new(TimestampMicrosecondArray::from_value(now, chunk.len()).with_timezone("UTC")),
        ];
        columns.extend(fields.columns().iter().cloned());
        let batch = RecordBatch::try_new(table_schema.clone(), columns)?;
        for sender in &senders {
            sender.send(batch.clone())?;
        }
    }
    drop(senders);
    let mut counts = Vec::new();
    for writer in writers {
        counts.push(writer.join().expect("a writer thread")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = pipec_bench::process_cpu_seconds()? - cpu_before;
    print!(
        "events={} seconds={seconds:.3} cpu_seconds={cpu_seconds:.2}",
        lines.len()
    );
    for (name, rows) in counts {
        print!(" {name}={rows}");
    }
    println!();
    Ok(())
}

/// One filtered table: the rows whose `event_type` is `event_type`.
struct Table {
    name: &'static str,
    event_type: String,
    writer: ArrowWriter<BufWriter<File>>,
    rows: usize,
}

impl Table {
    fn create(
        out_dir: &str,
        name: &'static str,
        event_type: &str,
        schema: &Arc<Schema>,
    ) -> Result<Self, Failure> {
        let directory = Path::new(out_dir).join(name);
        std::fs::create_dir_all(&directory)?;
        let file = File::create(directory.join("part-0.parquet"))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(128 * 1024))
            .build();
        let writer = ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(properties))?;
        Ok(Table {
            name,
            event_type: event_type.to_string(),
            writer,
            rows: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), Failure> {
        let event_types = batch.column_by_name("event_type").expect("in the schema");
        let keep = eq(event_types, &StringArray::new_scalar(&self.event_type))?;
        let rows = filter_record_batch(batch, &keep)?;
        self.rows += rows.num_rows();
        self.writer.write(&rows)?;
        Ok(())
    }
}
