//! The checked plan: the only thing the runtime and the DDL generators see.
//!
//! A `Plan` is made only by [`crate::check`], so holding one proves the file
//! was consistent. References between parts are resolved indices ([`Ref`]);
//! they serialise as names so that `pipec check --emit plan` reads well.

use crate::types::DataType;
/// Literals live with the types: expressions and tests use them without
/// reaching into the plan.
pub use crate::types::Value;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub kafka: KafkaSettings,
    pub schemas: Vec<Schema>,
    pub topics: Vec<Topic>,
    pub endpoints: Vec<Endpoint>,
    pub sinks: Vec<Sink>,
    pub tables: Vec<Table>,
    pub dead_letters: DeadLetters,
    /// The file's `test` blocks, run by `pipec test`.
    pub tests: Vec<crate::test_plan::PipelineTest>,
    /// Keeps plans from being built anywhere but the checker.
    #[serde(skip)]
    pub(crate) _checked: Checked,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Checked;

impl Plan {
    pub fn schema(&self, r: &Ref<Schema>) -> &Schema {
        &self.schemas[r.index]
    }

    pub fn topic(&self, r: &Ref<Topic>) -> &Topic {
        &self.topics[r.index]
    }

    pub fn sink(&self, r: &Ref<Sink>) -> &Sink {
        &self.sinks[r.index]
    }

    pub fn topic_schema(&self, topic: &Topic) -> &Schema {
        self.schema(&topic.schema)
    }

    pub fn sink_named(&self, name: &str) -> Option<&Sink> {
        self.sinks.iter().find(|s| s.name == name)
    }

    pub fn table_named(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == name || t.qualified_name() == name)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a plan always serialises")
    }
}

/// A resolved reference to the `index`-th item of its kind in the plan.
pub struct Ref<T> {
    pub(crate) index: usize,
    pub name: String,
    _kind: PhantomData<fn() -> T>,
}

impl<T> Ref<T> {
    pub(crate) fn new(index: usize, name: impl Into<String>) -> Self {
        Ref {
            index,
            name: name.into(),
            _kind: PhantomData,
        }
    }

    pub fn index(&self) -> usize {
        self.index
    }
}

impl<T> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref::new(self.index, self.name.clone())
    }
}

impl<T> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl<T> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.index)
    }
}

impl<T> Serialize for Ref<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

/// A value that must not be printed: tokens and passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("<redacted>")
    }
}

/// librdkafka's two names for one setting, the producer's delivery timeout.
/// pipec sets it from `--delivery-timeout`, which also bounds each request;
/// given as options as well, which one won would depend on order.
pub const DELIVERY_TIMEOUT_OPTIONS: [&str; 2] = ["delivery.timeout.ms", "message.timeout.ms"];

#[derive(Debug, Clone, Default, Serialize)]
pub struct KafkaSettings {
    /// `None`: the file names no brokers; the CLI, a profile or the embedded
    /// broker decides.
    pub brokers: Option<String>,
    /// librdkafka settings passed through as given (SASL, TLS, ...).
    pub options: BTreeMap<String, KafkaOption>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum KafkaOption {
    Plain(String),
    /// Settings whose name says they hold a credential.
    Secret(Secret),
}

impl KafkaOption {
    pub fn value(&self) -> &str {
        match self {
            KafkaOption::Plain(value) => value,
            KafkaOption::Secret(secret) => secret.expose(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    pub name: String,
    pub fields: Vec<Field>,
    /// `extra fields reject`: an event with a key no field names is refused
    /// (400 from the API, a dead letter in a sink) instead of keeping the
    /// key in `raw_event` only.
    pub reject_extra_fields: bool,
}

impl Schema {
    pub fn field(&self, r: &Ref<Field>) -> &Field {
        &self.fields[r.index]
    }

    pub fn field_named(&self, column: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == column)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// The column name in tables and filters.
    pub name: String,
    /// The key in the JSON event (the HTTP header name for header fields).
    pub key: String,
    #[serde(rename = "type")]
    pub data_type: DataType,
    pub optional: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    pub name: String,
    pub schema: Ref<Schema>,
    pub partitions: u32,
    /// The field whose value keys each message; none spreads messages evenly.
    pub key: Option<Ref<Field>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub fn accepts_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    pub topic: Ref<Topic>,
    /// Fields the endpoint sets itself, in the order written.
    pub fields: Vec<FieldAssignment>,
    pub headers: HeaderCapture,
    /// The JSON body (one object or an array of objects) supplies fields.
    pub json_body: bool,
    pub auth: Option<Secret>,
    pub response: Response,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldAssignment {
    pub field: Ref<Field>,
    pub value: ValueSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueSource {
    Literal(Value),
    Header(String),
    Query(String),
    ReceivedTime,
    RequestId,
}

/// Which request headers are copied into the event, under their own names,
/// as the seed's `log_to_kafka` did with `event.update(request.headers)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderCapture {
    None,
    All,
    Named(Vec<String>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sink {
    pub name: String,
    pub topic: Ref<Topic>,
    pub filter: Option<crate::expr::TypedExpr>,
    /// The columns written to each file, in order (partition columns are
    /// directories, not file columns).
    pub columns: Vec<Column>,
    pub path: Location,
    /// Where a plain sink keeps its offsets; a Delta sink keeps them in
    /// its table's log and has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Location>,
    #[serde(skip_serializing_if = "SinkFormat::is_parquet")]
    pub format: SinkFormat,
    pub trigger: Trigger,
    pub compression: Compression,
    pub partitioning: Option<Partitioning>,
    /// What this sink calls its metadata columns.
    pub metadata: MetadataNames,
}

/// What a sink writes at its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkFormat {
    /// Parquet files in Hive's layout, committed by the sink's checkpoint.
    Parquet,
    /// A Delta Lake table: its log holds the files and the Kafka offsets.
    Delta(DeltaSettings),
}

impl SinkFormat {
    pub fn is_parquet(&self) -> bool {
        matches!(self, SinkFormat::Parquet)
    }

    pub fn delta(&self) -> Option<&DeltaSettings> {
        match self {
            SinkFormat::Parquet => None,
            SinkFormat::Delta(settings) => Some(settings),
        }
    }

    /// The word `format` takes: `parquet` or `delta`.
    pub fn keyword(&self) -> &'static str {
        match self {
            SinkFormat::Parquet => "parquet",
            SinkFormat::Delta(_) => "delta",
        }
    }
}

/// How a Delta sink keeps its table fast and its storage bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaSettings {
    /// How often `pipec run` compacts small files (`None`: only `pipec compact`).
    pub compact_every_ms: Option<i64>,
    /// The size compaction bin-packs files to.
    pub target_file_bytes: i64,
    /// How long a file that compaction replaced is kept for readers of
    /// older snapshots before VACUUM deletes it.
    pub vacuum_after_ms: i64,
}

impl DeltaSettings {
    pub const DEFAULT_COMPACT_EVERY_MS: i64 = 3_600_000;
    pub const DEFAULT_TARGET_FILE_BYTES: i64 = 128 << 20;
    pub const DEFAULT_VACUUM_AFTER_MS: i64 = 7 * 86_400_000;
}

impl Default for DeltaSettings {
    fn default() -> Self {
        DeltaSettings {
            compact_every_ms: Some(Self::DEFAULT_COMPACT_EVERY_MS),
            target_file_bytes: Self::DEFAULT_TARGET_FILE_BYTES,
            vacuum_after_ms: Self::DEFAULT_VACUUM_AFTER_MS,
        }
    }
}

/// The column names of a sink's metadata columns: the seed's `raw_event` and
/// `timestamp` unless the sink renames them (`metadata timestamp as
/// kafka_time`), which it must when its schema has a field of that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetadataNames {
    pub raw_event: String,
    pub timestamp: String,
}

impl Default for MetadataNames {
    fn default() -> Self {
        MetadataNames {
            raw_event: METADATA_COLUMNS[0].0.to_string(),
            timestamp: METADATA_COLUMNS[1].0.to_string(),
        }
    }
}

impl MetadataNames {
    /// Each metadata column: its name in this sink, its type and its source.
    pub fn columns(&self) -> [(&str, DataType, ColumnSource); 2] {
        [
            (&self.raw_event, DataType::String, ColumnSource::RawEvent),
            (
                &self.timestamp,
                DataType::Timestamp,
                ColumnSource::KafkaTimestamp,
            ),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: DataType,
    pub nullable: bool,
    pub source: ColumnSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSource {
    /// The message value as text, as the seed's `raw_event`.
    RawEvent,
    /// The Kafka message timestamp, as the seed's `timestamp`.
    KafkaTimestamp,
    /// A field of the topic's schema, by its JSON key.
    Field(String),
}

/// The columns every sink can select besides its schema's fields, by the
/// names they have unless the sink renames them.
pub const METADATA_COLUMNS: [(&str, DataType); 2] = [
    ("raw_event", DataType::String),
    ("timestamp", DataType::Timestamp),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Drain what the topic holds at start, write, stop.
    Once,
    /// Whichever bound is reached first.
    Every {
        interval_ms: Option<u64>,
        rows: Option<u64>,
    },
}

/// As the file writes it after `trigger`: `once`, `every 10s or 500 rows`.
impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Once => f.write_str("once"),
            Trigger::Every { interval_ms, rows } => {
                let mut bounds = Vec::new();
                if let Some(ms) = interval_ms {
                    bounds.push(duration(*ms));
                }
                if let Some(rows) = rows {
                    bounds.push(format!("{rows} rows"));
                }
                write!(f, "every {}", bounds.join(" or "))
            }
        }
    }
}

/// Milliseconds in the largest unit that divides them: `10s`, `1m`, `250ms`.
pub fn duration(ms: u64) -> String {
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    Snappy,
    Zstd,
    Gzip,
    Lz4,
    None,
}

impl Compression {
    pub const ALL: [Compression; 5] = [
        Compression::Snappy,
        Compression::Zstd,
        Compression::Gzip,
        Compression::Lz4,
        Compression::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
            Compression::None => "none",
        }
    }

    /// The value of Hive's `parquet.compress` table property.
    pub fn hive_name(self) -> &'static str {
        match self {
            Compression::None => "UNCOMPRESSED",
            Compression::Snappy => "SNAPPY",
            Compression::Zstd => "ZSTD",
            Compression::Gzip => "GZIP",
            Compression::Lz4 => "LZ4",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Partitioning {
    /// `column=value/` directories.
    Column { column: String, data_type: DataType },
    /// `column=YYYY-MM-DD/` directories from a timestamp's UTC date.
    Date { source: String, column: String },
}

impl Partitioning {
    /// The directory-level column: its name and type.
    pub fn column(&self) -> (&str, DataType) {
        match self {
            Partitioning::Column { column, data_type } => (column, *data_type),
            Partitioning::Date { column, .. } => (column, DataType::String),
        }
    }
}

/// Where files go: a path relative to the data directory, an absolute local
/// path, or an object-store URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Location {
    Relative(String),
    Absolute(String),
    Url(String),
}

impl Location {
    pub fn as_str(&self) -> &str {
        match self {
            Location::Relative(p) | Location::Absolute(p) | Location::Url(p) => p,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub database: String,
    pub name: String,
    pub sink: Ref<Sink>,
    pub columns: Vec<TableColumn>,
    pub partition_columns: Vec<TableColumn>,
    /// `None`: the sink's path.
    pub location: Option<String>,
    pub properties: BTreeMap<String, String>,
}

impl Table {
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: DataType,
}

/// A column type, including those only the dead-letter table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Data(DataType),
    Binary,
    Int32,
}

/// The dead-letter table's file columns, in order, with whether each may be
/// null: the one definition the sinks' writer, the catalog and the DDL use.
/// `raw` keeps the exact bytes; `raw_text` is the same as text, with
/// invalid UTF-8 replaced, so `select reason, raw_text` always works.
pub const DEAD_LETTER_COLUMNS: [(&str, ColumnType, bool); 7] = [
    ("raw", ColumnType::Binary, true),
    ("raw_text", ColumnType::Data(DataType::String), true),
    ("reason", ColumnType::Data(DataType::String), false),
    ("topic", ColumnType::Data(DataType::String), false),
    ("kafka_partition", ColumnType::Int32, false),
    ("kafka_offset", ColumnType::Data(DataType::Int), false),
    ("timestamp", ColumnType::Data(DataType::Timestamp), false),
];

/// The dead-letter table's partition column: one directory per sink, since
/// each sink keeps its own dead letters.
pub const DEAD_LETTER_PARTITION: &str = "sink";

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetters {
    pub path: Location,
    pub database: String,
    pub table: String,
}
