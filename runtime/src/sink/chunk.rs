//! A topic's messages decoded once for all of its sinks: a partition's
//! messages are classified and gathered here, then turned into one Arrow
//! batch (and the dead letters) that every sink of the topic takes.

use super::decode::{classify, BatchBuilder, DeadLetter};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::{MetadataNames, Schema};

/// Messages are turned into Arrow in batches of this many.
pub const DECODE_BATCH: usize = 4096;

/// A run of one partition's messages, decoded: the rows of those that fit
/// (under the default metadata names; each sink renames them) and the dead
/// letters of those that did not.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub first_offset: i64,
    /// The offset after the last message.
    pub next_offset: i64,
    pub messages: u64,
    pub batch: Option<RecordBatch>,
    pub dead: Vec<DeadLetter>,
}

/// One partition's messages not yet decoded.
pub struct ChunkBuilder {
    partition: i32,
    builder: BatchBuilder,
    dead: Vec<DeadLetter>,
    first_offset: Option<i64>,
    next_offset: i64,
    messages: u64,
}

impl ChunkBuilder {
    pub fn new(partition: i32, schema: &Schema) -> Result<Self, ArrowError> {
        Ok(ChunkBuilder {
            partition,
            builder: BatchBuilder::new(schema, &MetadataNames::default())?,
            dead: Vec::new(),
            first_offset: None,
            next_offset: 0,
            messages: 0,
        })
    }

    /// Messages gathered since the last chunk.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Of those, the ones that fit the schema.
    pub fn pending_rows(&self) -> usize {
        self.builder.len()
    }

    /// The offset after the last message gathered.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Whether the chunk is as big as it gets.
    pub fn is_full(&self) -> bool {
        self.builder.len() >= DECODE_BATCH || self.dead.len() >= DECODE_BATCH
    }

    /// Takes one message; `true` if it is a dead letter.
    pub fn push(
        &mut self,
        topic: &str,
        schema: &Schema,
        offset: i64,
        timestamp_micros: i64,
        payload: Option<Vec<u8>>,
    ) -> bool {
        self.first_offset.get_or_insert(offset);
        self.next_offset = offset + 1;
        self.messages += 1;
        match classify(payload.as_deref(), schema) {
            Ok(row) => {
                let raw = String::from_utf8(payload.unwrap_or_default())
                    .expect("a message that parsed as JSON is UTF-8");
                self.builder.push(raw, timestamp_micros, row);
                false
            }
            Err(reason) => {
                self.dead.push(DeadLetter {
                    raw: payload.unwrap_or_default(),
                    reason,
                    topic: topic.to_string(),
                    partition: self.partition,
                    offset,
                    timestamp_micros,
                });
                true
            }
        }
    }

    /// Decodes what was gathered, and starts over.
    pub fn finish(&mut self) -> Result<Option<Chunk>, ArrowError> {
        let Some(first_offset) = self.first_offset.take() else {
            return Ok(None);
        };
        let chunk = Chunk {
            first_offset,
            next_offset: self.next_offset,
            messages: std::mem::take(&mut self.messages),
            batch: self.builder.finish()?,
            dead: std::mem::take(&mut self.dead),
        };
        Ok(Some(chunk))
    }
}
