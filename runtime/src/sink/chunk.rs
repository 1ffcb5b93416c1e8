//! A topic's messages decoded once for all of its sinks. The reader gathers
//! a partition's messages as they come ([`ChunkBuilder`]); a full run of
//! them is classified and turned into one Arrow batch (and the dead
//! letters) on a blocking thread ([`RawChunk::decode`]), while the reader
//! goes on reading: the two halves of the work run on both cores. Every
//! sink of the topic then takes the decoded [`Chunk`].

use super::decode::{classify, BatchBuilder, DeadLetter};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::{MetadataNames, Schema};

/// Messages are decoded in runs of this many.
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

/// A message as gathered: offset, timestamp, value.
type Raw = (i64, i64, Option<Vec<u8>>);

/// One partition's messages not yet decoded.
#[derive(Default)]
pub struct ChunkBuilder {
    messages: Vec<Raw>,
    next_offset: i64,
}

impl ChunkBuilder {
    /// Messages gathered since the last chunk.
    pub fn messages(&self) -> u64 {
        self.messages.len() as u64
    }

    /// The offset after the last message gathered.
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Whether the run is as long as it gets.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= DECODE_BATCH
    }

    pub fn push(&mut self, offset: i64, timestamp_micros: i64, payload: Option<Vec<u8>>) {
        self.next_offset = offset + 1;
        self.messages.push((offset, timestamp_micros, payload));
    }

    /// What was gathered, to decode; the builder starts over.
    pub fn take(&mut self) -> Option<RawChunk> {
        if self.messages.is_empty() {
            return None;
        }
        Some(RawChunk {
            next_offset: self.next_offset,
            messages: std::mem::replace(&mut self.messages, Vec::with_capacity(DECODE_BATCH)),
        })
    }
}

/// A run of messages to decode.
pub struct RawChunk {
    next_offset: i64,
    messages: Vec<Raw>,
}

impl RawChunk {
    pub fn messages(&self) -> u64 {
        self.messages.len() as u64
    }

    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Classifies every message against the schema and decodes those that
    /// fit with `builder` (reused from run to run: it holds arrow-json's
    /// decoder); the others are dead letters, with the reason.
    pub fn decode(
        self,
        topic: &str,
        partition: i32,
        schema: &Schema,
        builder: &mut BatchBuilder,
    ) -> Result<Chunk, ArrowError> {
        let first_offset = self.messages.first().map_or(self.next_offset, |m| m.0);
        let messages = self.messages.len() as u64;
        let mut dead = Vec::new();
        for (offset, timestamp_micros, payload) in self.messages {
            match classify(payload.as_deref(), schema) {
                Ok(row) => {
                    let raw = String::from_utf8(payload.unwrap_or_default())
                        .expect("a message that parsed as JSON is UTF-8");
                    builder.push(raw, timestamp_micros, row);
                }
                Err(reason) => dead.push(DeadLetter {
                    raw: payload.unwrap_or_default(),
                    reason,
                    topic: topic.to_string(),
                    partition,
                    offset,
                    timestamp_micros,
                }),
            }
        }
        Ok(Chunk {
            first_offset,
            next_offset: self.next_offset,
            messages,
            batch: builder.finish()?,
            dead,
        })
    }
}

/// A builder for [`RawChunk::decode`], with the default metadata names.
pub fn batch_builder(schema: &Schema) -> Result<BatchBuilder, ArrowError> {
    BatchBuilder::new(schema, &MetadataNames::default())
}
