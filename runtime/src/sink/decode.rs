//! Kafka message → a row of the sink's schema, or a dead letter with the
//! reason. Pure; the batch builder turns accepted rows into Arrow.

use crate::event::describe;
use arrow::array::{
    ArrayRef, BinaryArray, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType as ArrowType, Field as ArrowField, Schema as ArrowSchema, SchemaRef, TimeUnit,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use pipec_compiler::plan::{ColumnType, Field, MetadataNames, Schema, Sink, DEAD_LETTER_COLUMNS};
use pipec_compiler::time::parse_timestamp;
use pipec_compiler::types::DataType;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// How an accepted message is decoded into its row.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// From its own bytes: what nearly every message takes.
    AsSent,
    /// From this re-serialization of its JSON tree, because the bytes have
    /// something arrow-json might read differently (a key given twice).
    Rewritten(Vec<u8>),
}

/// A message's value as an event of `schema`, or why it is not one.
pub fn classify(payload: Option<&[u8]>, schema: &Schema) -> Result<Accepted, String> {
    let bytes = payload.ok_or("the message has no value")?;
    if super::shape::fits(bytes, schema) {
        return Ok(Accepted::AsSent);
    }
    let object = check_tree(bytes, schema)?;
    Ok(Accepted::Rewritten(
        serde_json::to_vec(&object).expect("a JSON map serializes"),
    ))
}

/// The slow, thorough check: the message's JSON tree against the schema,
/// with the reason when it does not fit.
fn check_tree(bytes: &[u8], schema: &Schema) -> Result<Map<String, Json>, String> {
    let parsed: Json = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let Json::Object(object) = parsed else {
        return Err(format!("not a JSON object but {}", describe(&parsed)));
    };
    if schema.reject_extra_fields {
        if let Some(extra) = object
            .keys()
            .find(|key| !schema.fields.iter().any(|f| &f.key == *key))
        {
            return Err(format!(
                "field `{extra}` is not in schema `{}`, which takes no other fields",
                schema.name
            ));
        }
    }
    for field in &schema.fields {
        match object.get(&field.key) {
            None | Some(Json::Null) if field.optional => {}
            None | Some(Json::Null) => {
                return Err(format!("required field `{}` is missing", field.key))
            }
            Some(value) => check_type(field, value)?,
        }
    }
    Ok(object)
}

fn check_type(field: &Field, value: &Json) -> Result<(), String> {
    let fits = match (field.data_type, value) {
        (DataType::String, Json::String(_)) => true,
        (DataType::Int, Json::Number(n)) => n.is_i64(),
        (DataType::Float, Json::Number(_)) => true,
        (DataType::Bool, Json::Bool(_)) => true,
        (DataType::Timestamp, Json::String(s)) => parse_timestamp(s).is_some(),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "field `{}` should be {} but is {}",
            field.key,
            field.data_type,
            describe(value)
        ))
    }
}

pub fn arrow_type(data_type: DataType) -> ArrowType {
    match data_type {
        DataType::String => ArrowType::Utf8,
        DataType::Int => ArrowType::Int64,
        DataType::Float => ArrowType::Float64,
        DataType::Bool => ArrowType::Boolean,
        DataType::Timestamp => timestamp_type(),
    }
}

pub fn timestamp_type() -> ArrowType {
    ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Every column a sink's filter can see: its metadata columns (`raw_event`,
/// `timestamp` unless it renames them), then the fields by column name. The
/// checker made the names unique.
pub fn full_schema(schema: &Schema, metadata: &MetadataNames) -> SchemaRef {
    let mut fields = vec![
        ArrowField::new(&metadata.raw_event, ArrowType::Utf8, false),
        ArrowField::new(&metadata.timestamp, timestamp_type(), false),
    ];
    fields.extend(
        schema
            .fields
            .iter()
            .map(|f| ArrowField::new(&f.name, arrow_type(f.data_type), f.optional)),
    );
    Arc::new(ArrowSchema::new(fields))
}

/// The columns of a sink's files, in order, as the plan says.
pub fn file_schema(sink: &Sink) -> SchemaRef {
    Arc::new(ArrowSchema::new(
        sink.columns
            .iter()
            .map(|c| ArrowField::new(&c.name, arrow_type(c.data_type), c.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Rows arrow-json decodes at a time.
const DECODER_BATCH: usize = 8192;

/// Accepted rows, turned into Arrow by arrow-json in one go.
pub struct BatchBuilder {
    full_schema: SchemaRef,
    decoder: arrow_json::reader::Decoder,
    raw: Vec<String>,
    timestamps: Vec<i64>,
    /// The rows whose bytes to decode are not their raw event, by index.
    rewritten: Vec<(usize, Vec<u8>)>,
}

impl BatchBuilder {
    pub fn new(schema: &Schema, metadata: &MetadataNames) -> Result<Self, ArrowError> {
        // arrow-json reads the events' own keys (`User-Agent`); the columns
        // get their names (`User_Agent`) when the batch is assembled.
        let by_key = ArrowSchema::new(
            schema
                .fields
                .iter()
                .map(|f| ArrowField::new(&f.key, arrow_type(f.data_type), true))
                .collect::<Vec<_>>(),
        );
        let decoder = arrow_json::ReaderBuilder::new(Arc::new(by_key))
            .with_batch_size(DECODER_BATCH)
            .build_decoder()?;
        Ok(BatchBuilder {
            full_schema: full_schema(schema, metadata),
            decoder,
            raw: Vec::new(),
            timestamps: Vec::new(),
            rewritten: Vec::new(),
        })
    }

    pub fn full_schema(&self) -> &SchemaRef {
        &self.full_schema
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Adds an accepted message: `raw` is its value, `accepted` what
    /// `classify` said of it.
    pub fn push(&mut self, raw: String, timestamp_micros: i64, accepted: Accepted) {
        if let Accepted::Rewritten(bytes) = accepted {
            self.rewritten.push((self.raw.len(), bytes));
        }
        self.raw.push(raw);
        self.timestamps.push(timestamp_micros);
    }

    /// The rows pushed since the last call, as one batch of the full schema.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        if self.raw.is_empty() {
            return Ok(None);
        }
        let mut parts = Vec::new();
        let mut rewritten = self.rewritten.drain(..).peekable();
        for (index, raw) in self.raw.iter().enumerate() {
            let bytes = match rewritten.next_if(|(at, _)| *at == index) {
                Some((_, bytes)) => std::borrow::Cow::Owned(bytes),
                None => std::borrow::Cow::Borrowed(raw.as_bytes()),
            };
            // One whole object per call, at most DECODER_BATCH per flush:
            // the decoder takes all of it.
            let read = self.decoder.decode(&bytes)?;
            if read != bytes.len() {
                return Err(ArrowError::JsonError(format!(
                    "arrow-json read {read} of the {} bytes of an accepted event",
                    bytes.len()
                )));
            }
            if (index + 1) % DECODER_BATCH == 0 {
                parts.extend(self.decoder.flush()?);
            }
        }
        parts.extend(self.decoder.flush()?);
        let decoded = match parts.as_slice() {
            [one] => one.clone(),
            _ => arrow::compute::concat_batches(&parts[0].schema(), &parts)?,
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(std::mem::take(&mut self.raw))),
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::take(&mut self.timestamps))
                    .with_timezone("UTC"),
            ),
        ];
        columns.extend(decoded.columns().iter().cloned());
        RecordBatch::try_new(self.full_schema.clone(), columns).map(Some)
    }
}

/// A message that did not fit, with everything needed to find and replay it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub raw: Vec<u8>,
    pub reason: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_micros: i64,
}

pub fn dead_letter_schema() -> SchemaRef {
    Arc::new(ArrowSchema::new(
        DEAD_LETTER_COLUMNS
            .iter()
            .map(|(name, column_type, nullable)| {
                let arrow = match column_type {
                    ColumnType::Data(data_type) => arrow_type(*data_type),
                    ColumnType::Binary => ArrowType::Binary,
                    ColumnType::Int32 => ArrowType::Int32,
                };
                ArrowField::new(*name, arrow, *nullable)
            })
            .collect::<Vec<_>>(),
    ))
}

/// The columns in the order of [`DEAD_LETTER_COLUMNS`].
pub fn dead_letter_batch(letters: &[DeadLetter]) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(BinaryArray::from_iter_values(
            letters.iter().map(|l| l.raw.as_slice()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| String::from_utf8_lossy(&l.raw)),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.reason.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.topic.as_str()),
        )),
        Arc::new(Int32Array::from_iter_values(
            letters.iter().map(|l| l.partition),
        )),
        Arc::new(Int64Array::from_iter_values(
            letters.iter().map(|l| l.offset),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(letters.iter().map(|l| l.timestamp_micros))
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(dead_letter_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use pipec_compiler::{compile, Source};
    use std::collections::BTreeMap;

    fn schema() -> Schema {
        let text = "schema e {\n event_type: string\n User_Agent: string? from \"User-Agent\"\n n: int?\n x: float?\n ok: bool?\n at: timestamp?\n}\n\
                    topic t { schema e }";
        let plan = compile(&Source::new("t.pipe", text), &BTreeMap::new())
            .unwrap()
            .plan;
        plan.schemas[0].clone()
    }

    #[test]
    fn fitting_events_are_rows() {
        let row = classify(
            Some(br#"{"event_type":"a","User-Agent":"ab","n":3,"x":1,"extra":[1]}"#),
            &schema(),
        );
        assert!(row.is_ok(), "{row:?}");
    }

    #[test]
    fn every_misfit_has_a_reason() {
        let schema = schema();
        let reason = |bytes: Option<&[u8]>| classify(bytes, &schema).unwrap_err();
        assert_eq!(reason(None), "the message has no value");
        assert!(reason(Some(b"{not json")).starts_with("not valid JSON"));
        assert_eq!(reason(Some(b"[1]")), "not a JSON object but an array ([1])");
        assert_eq!(
            reason(Some(br#"{"n": 1}"#)),
            "required field `event_type` is missing"
        );
        assert_eq!(
            reason(Some(br#"{"event_type": "a", "n": "3"}"#)),
            "field `n` should be int but is a string (\"3\")"
        );
        assert_eq!(
            reason(Some(br#"{"event_type": "a", "n": 1.5}"#)),
            "field `n` should be int but is a number (1.5)"
        );
        assert!(reason(Some(br#"{"event_type": "a", "at": "noon"}"#))
            .contains("`at` should be timestamp"));
        assert!(reason(Some(b"\xff\xfe")).starts_with("not valid JSON"));
    }

    #[test]
    fn rows_become_one_batch_with_metadata_and_column_names() {
        let schema = schema();
        let mut builder = BatchBuilder::new(&schema, &MetadataNames::default()).unwrap();
        for (i, text) in [
            r#"{"event_type":"a","User-Agent":"ab","n":3,"at":"2020-08-02T22:49:11Z"}"#,
            r#"{"event_type":"b","x":2.5,"ok":true}"#,
        ]
        .iter()
        .enumerate()
        {
            let row = classify(Some(text.as_bytes()), &schema).unwrap();
            builder.push(text.to_string(), 1_000 + i as i64, row);
        }
        let batch = builder.finish().unwrap().unwrap();
        let names: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            names,
            [
                "raw_event",
                "timestamp",
                "event_type",
                "User_Agent",
                "n",
                "x",
                "ok",
                "at"
            ]
        );
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column(3).as_string::<i32>().value(0), "ab");
        assert!(batch.column(3).is_null(1));
        assert_eq!(batch.column(4).as_primitive::<Int64Type>().value(0), 3);
        let at = batch
            .column(7)
            .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(at.value(0), 1_596_408_551_000_000);
        assert!(
            builder.finish().unwrap().is_none(),
            "finish empties the builder"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, failure_persistence: None, ..Default::default() })]

        /// Any bytes are a row or a dead letter with a reason, never a panic;
        /// and every accepted row goes into a batch.
        #[test]
        fn any_message_is_a_row_or_a_dead_letter(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            seed in proptest::sample::select(vec![
                r#"{"event_type":"a","User-Agent":"ab","n":3,"x":1.5,"ok":true,"at":"2020-08-02T22:49:11Z"}"#,
                r#"{"event_type":"b"}"#,
            ]),
            cut in 0usize..120,
            splice in 0usize..120,
        ) {
            let schema = schema();
            let mut builder = BatchBuilder::new(&schema, &MetadataNames::default()).unwrap();
            // Raw bytes, and a valid event with the bytes spliced in.
            let mut mutated = seed.as_bytes().to_vec();
            let at = splice.min(mutated.len());
            mutated.splice(at..at, bytes.iter().copied().take(cut));
            for message in [bytes.clone(), mutated] {
                match classify(Some(&message), &schema) {
                    Ok(row) => builder.push(String::from_utf8(message.clone()).unwrap(), 0, row),
                    Err(reason) => proptest::prop_assert!(!reason.is_empty()),
                }
            }
            let rows = builder.len();
            let batch = builder.finish().unwrap();
            proptest::prop_assert_eq!(batch.map_or(0, |b| b.num_rows()), rows);
        }
    }

    /// Decodes every accepted message twice: as `classify` says, and from
    /// its JSON tree re-serialized (the slow path), returning both batches
    /// and how many messages were accepted from their own bytes.
    fn both_ways(messages: &[String]) -> (Option<RecordBatch>, Option<RecordBatch>, usize) {
        let schema = schema();
        let mut fast = BatchBuilder::new(&schema, &MetadataNames::default()).unwrap();
        let mut slow = BatchBuilder::new(&schema, &MetadataNames::default()).unwrap();
        let mut as_sent = 0;
        for message in messages {
            let tree = check_tree(message.as_bytes(), &schema);
            match classify(Some(message.as_bytes()), &schema) {
                Ok(accepted) => {
                    as_sent += usize::from(accepted == Accepted::AsSent);
                    let tree = tree.expect("the fast check accepts only what the tree accepts");
                    fast.push(message.clone(), 0, accepted);
                    let bytes = serde_json::to_vec(&tree).unwrap();
                    slow.push(message.clone(), 0, Accepted::Rewritten(bytes));
                }
                Err(reason) => assert_eq!(Err(reason), tree.map(|_| ())),
            }
        }
        (fast.finish().unwrap(), slow.finish().unwrap(), as_sent)
    }

    #[test]
    fn keys_given_twice_take_the_last_value_as_serde_json_does() {
        let messages = [
            r#"{"event_type":"a","n":1,"n":2}"#.to_string(),
            r#"{"event_type":"b","User\u002dAgent":"escaped key","x":1e2}"#.to_string(),
        ];
        assert_eq!(
            classify(Some(messages[0].as_bytes()), &schema()),
            Ok(Accepted::Rewritten(br#"{"event_type":"a","n":2}"#.to_vec()))
        );
        let (fast, slow, as_sent) = both_ways(&messages);
        assert_eq!(as_sent, 1);
        assert_eq!(fast, slow);
        let batch = fast.unwrap();
        assert_eq!(batch.column(4).as_primitive::<Int64Type>().value(0), 2);
        assert_eq!(batch.column(3).as_string::<i32>().value(1), "escaped key");
    }

    #[test]
    fn invalid_utf8_in_a_skipped_value_is_a_dead_letter() {
        let message = b"{\"event_type\":\"a\",\"extra\":[\"\xff\"]}";
        let reason = classify(Some(message), &schema()).unwrap_err();
        assert!(reason.starts_with("not valid JSON"), "{reason}");
    }

    /// A JSON object of the test schema's keys (and others), each value of
    /// any kind, keys possibly repeated or escaped.
    fn objects() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = proptest::sample::select(vec![
            "event_type",
            "User-Agent",
            "User\\u002dAgent",
            "n",
            "x",
            "ok",
            "at",
            "extra",
        ]);
        let value = proptest::sample::select(vec![
            r#""a""#,
            r#""caf\u00e9 \ud83d\ude00""#,
            "3",
            "-1",
            "0",
            "1.5",
            "1e2",
            "-0",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "true",
            "false",
            "null",
            r#""2020-08-02T22:49:11Z""#,
            r#""noon""#,
            r#"[1,{"a":[2]}]"#,
            r#"{"k":"v"}"#,
            "[]",
        ]);
        proptest::collection::vec((key, value), 0..8).prop_map(|members| {
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, failure_persistence: None, ..Default::default() })]

        /// The fast check never accepts what the tree check refuses, and a
        /// message decoded from its own bytes gives the row its JSON tree gives.
        #[test]
        fn the_fast_path_decodes_as_the_tree_does(
            messages in proptest::collection::vec(objects(), 1..20),
        ) {
            let (fast, slow, _) = both_ways(&messages);
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    /// A time the fast check accepts, arrow-json must decode to the same
    /// instant, or an accepted message would fail its whole batch.
    #[test]
    fn arrow_json_reads_every_accepted_time_as_the_checker_does() {
        let schema = Schema {
            name: "e".into(),
            fields: vec![Field {
                name: "at".into(),
                key: "at".into(),
                data_type: DataType::Timestamp,
                optional: false,
            }],
            reject_extra_fields: false,
        };
        for text in [
            "2024-05-01",
            "2024-05-01 10:00:00",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00.5",
            "2024-05-01t10:00:00.123456z",
            "2024-05-01T12:00:00.25+02:00",
            "2024-05-01T10:00:00-00:30",
            "1969-12-31T23:59:59.999999Z",
        ] {
            let json = format!("{{\"at\":\"{text}\"}}");
            assert_eq!(
                classify(Some(json.as_bytes()), &schema),
                Ok(Accepted::AsSent),
                "{text}"
            );
            let mut builder = BatchBuilder::new(&schema, &MetadataNames::default()).unwrap();
            builder.push(json, 0, Accepted::AsSent);
            let batch = builder.finish().unwrap().unwrap();
            let decoded = batch
                .column_by_name("at")
                .unwrap()
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0);
            assert_eq!(Some(decoded), parse_timestamp(text), "{text}");
        }
    }

    #[test]
    fn dead_letters_keep_the_raw_bytes() {
        let letter = DeadLetter {
            raw: vec![0xff, 0x00],
            reason: "not valid JSON".into(),
            topic: "events".into(),
            partition: 0,
            offset: 7,
            timestamp_micros: 0,
        };
        let batch = dead_letter_batch(&[letter]).unwrap();
        assert_eq!(batch.column(0).as_binary::<i32>().value(0), [0xff, 0x00]);
        assert_eq!(
            batch.column(1).as_string::<i32>().value(0),
            "\u{fffd}\0",
            "the text beside the bytes, invalid UTF-8 replaced"
        );
        assert_eq!(batch.num_columns(), DEAD_LETTER_COLUMNS.len());
    }
}
