//! Diagnostics are values: a severity, a stable code, a message, labelled
//! spans and help. They are rendered in one place, `render`.

use crate::source::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every diagnostic pipec can report. The doc comment of each is an input
/// that triggers it; `tests/fixtures/invalid/` has one file per code at least.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// `schema game_event {` with no closing brace
    Syntax,
    /// `respond 200 "ok\q"`
    BadEscape,
    /// `partitions 99999999999999999999`
    BadNumber,
    /// `topic events { schema GameEvnt }`
    UnknownSchema,
    /// `sink s { from evnts }`
    UnknownTopic,
    /// `table t { from sword_purchase }`
    UnknownSink,
    /// `where evnt_type == "x"`
    UnknownField,
    /// `count: integer`
    UnknownType,
    /// `where lenght(Host) > 3`
    UnknownFunction,
    /// `endpoint GTE "/"` or `compression brotli`
    UnknownValue,
    /// two `schema game_event` declarations
    Duplicate,
    /// `path` given twice in one sink
    DuplicateSetting,
    /// a sink without `checkpoint`
    MissingSetting,
    /// `where Host == 3`
    TypeMismatch,
    /// `where starts_with(Host)`
    WrongArity,
    /// `where Host`
    NotBoolean,
    /// `where event_type = "join_guild"`
    SingleEquals,
    /// `set event_type = 42` on a string field
    ValueType,
    /// two `endpoint GET "/"`
    DuplicateRoute,
    /// a required field that no statement of an endpoint sets
    RequiredFieldNotSet,
    /// `endpoint GET "purchase"` (no leading slash) or `body json` on GET
    BadEndpoint,
    /// `respond 999`
    BadStatus,
    /// two sinks with `path "out"`, or one inside the other
    StorageOverlap,
    /// `trigger every 0s`
    BadTrigger,
    /// `partition by nickname` where `nickname` is not in the schema
    BadPartition,
    /// `compact every 1h` on a plain Parquet sink, or `compact every 1s`
    BadTableSetting,
    /// a table column the sink does not write
    ColumnNotWritten,
    /// `partitioned by day` on a table whose sink is not partitioned by `day`
    PartitionMismatch,
    /// a column named `` `User-Agent` ``
    HiveIdentifier,
    /// fields `Host` and `host` in one schema
    CaseClash,
    /// `properties { "parquet.compress" = "GZIP" }` on a snappy sink
    PropertyConflict,
    /// a field named `timestamp` in a sink that keeps the metadata column
    /// `timestamp` (without `metadata timestamp as kafka_time`)
    MetadataClash,
    /// `path "${DATA_ROOT}/x"` with `DATA_ROOT` unset and no default
    UnsetVariable,
    /// `topic "my topic"`-like names Kafka rejects, or `partitions 0`
    BadTopic,
    /// `request GET "/purchase_a_swrod"` in a test, where no endpoint
    /// answers that method and path
    UnknownRoute,
    /// `expect sword_purchase { ... }` in a test, where no table, sink or
    /// dead-letter table has that name
    UnknownTarget,
    /// `row { evnt_type = "x" }` in a test, where the table has no such column
    UnknownColumn,
    /// `row { quantity = "2" }` on an `int` column, `= null` on a column that
    /// is never null, `contains` on a number, a timestamp that does not parse
    CellType,
    /// `body json {...}` in a test's request to an endpoint without
    /// `body json`, a bad header name, or `expect 999`
    BadTestRequest,
    /// `matches "(unclosed"` in a test
    BadPattern,
    /// a test without any `expect`: nothing to check
    EmptyTest,
    /// a filter no endpoint can satisfy (warning)
    UnsatisfiableFilter,
    /// `trigger every 500 rows` with no time bound: rows of a quiet
    /// partition wait without bound (warning)
    RowsOnlyTrigger,

    // ---- `pipec diff`: what a change to a running pipeline does. Each
    // doc comment is the edit between `OLD.pipe` and `NEW.pipe`; the pairs
    // are under `tests/fixtures/evolve/`. Breaking changes are errors,
    // changes that need care are warnings, and compatible changes carry a
    // W082x code too but are never reported as diagnostics.
    /// `n: int` became `n: string` while a sink keeps writing `n` where
    /// files of the old type are
    TypeChanged,
    /// `partition by event_type` became `partition by date(timestamp) as day`
    /// (or was added or dropped) at the same path
    PartitioningChanged,
    /// `host: string` became `hostname: string` (no `from "host"`): old
    /// messages and files have `host`
    ColumnRenamed,
    /// `coupon: string` added: messages already in the topic lack it
    RequiredFieldAdded,
    /// a sink's `path`, `checkpoint` or `from` changed
    SinkStartsOver,
    /// `Accept: string?` removed from a schema, or a column from `columns`
    FieldRemoved,
    /// `host: string` became `host: string from "Host"`: a different JSON key
    FieldKeyChanged,
    /// `coupon: string?` became `coupon: string`
    FieldNowRequired,
    /// `host: string` became `hostname: string from "host"`: the key is
    /// kept, the column is renamed
    FieldRenamed,
    /// an endpoint, topic, sink or table removed
    DeclarationRemoved,
    /// `partitions 1` became `partitions 4`, or the topic's `key` changed
    TopicChanged,
    /// `coupon: string?` added (compatible)
    OptionalFieldAdded,
    /// an endpoint, topic, sink or table added (compatible)
    DeclarationAdded,
    /// a sink's `where` changed (compatible)
    FilterChanged,
    /// a sink's `trigger` changed (compatible)
    TriggerChanged,
    /// a sink's `compression` changed (compatible)
    CompressionChanged,
    /// a column added to a sink's `columns` (compatible)
    ColumnAdded,
    /// `coupon: string` became `coupon: string?` (compatible)
    FieldNowOptional,
}

impl Code {
    /// Every code, for tests that each one has a fixture.
    pub const ALL: &'static [Code] = &[
        Code::Syntax,
        Code::BadEscape,
        Code::BadNumber,
        Code::UnknownSchema,
        Code::UnknownTopic,
        Code::UnknownSink,
        Code::UnknownField,
        Code::UnknownType,
        Code::UnknownFunction,
        Code::UnknownValue,
        Code::Duplicate,
        Code::DuplicateSetting,
        Code::MissingSetting,
        Code::TypeMismatch,
        Code::WrongArity,
        Code::NotBoolean,
        Code::SingleEquals,
        Code::ValueType,
        Code::DuplicateRoute,
        Code::RequiredFieldNotSet,
        Code::BadEndpoint,
        Code::BadStatus,
        Code::StorageOverlap,
        Code::BadTrigger,
        Code::BadPartition,
        Code::BadTableSetting,
        Code::ColumnNotWritten,
        Code::PartitionMismatch,
        Code::HiveIdentifier,
        Code::CaseClash,
        Code::PropertyConflict,
        Code::MetadataClash,
        Code::UnsetVariable,
        Code::BadTopic,
        Code::UnknownRoute,
        Code::UnknownTarget,
        Code::UnknownColumn,
        Code::CellType,
        Code::BadTestRequest,
        Code::BadPattern,
        Code::EmptyTest,
        Code::UnsatisfiableFilter,
        Code::RowsOnlyTrigger,
        Code::TypeChanged,
        Code::PartitioningChanged,
        Code::ColumnRenamed,
        Code::RequiredFieldAdded,
        Code::SinkStartsOver,
        Code::FieldRemoved,
        Code::FieldKeyChanged,
        Code::FieldNowRequired,
        Code::FieldRenamed,
        Code::DeclarationRemoved,
        Code::TopicChanged,
        Code::OptionalFieldAdded,
        Code::DeclarationAdded,
        Code::FilterChanged,
        Code::TriggerChanged,
        Code::CompressionChanged,
        Code::ColumnAdded,
        Code::FieldNowOptional,
    ];

    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            Syntax => "E0001",
            BadEscape => "E0002",
            BadNumber => "E0003",
            UnknownSchema => "E0101",
            UnknownTopic => "E0102",
            UnknownSink => "E0103",
            UnknownField => "E0104",
            UnknownType => "E0105",
            UnknownFunction => "E0106",
            UnknownValue => "E0107",
            Duplicate => "E0110",
            DuplicateSetting => "E0111",
            MissingSetting => "E0112",
            TypeMismatch => "E0201",
            WrongArity => "E0202",
            NotBoolean => "E0203",
            SingleEquals => "E0204",
            ValueType => "E0205",
            DuplicateRoute => "E0301",
            RequiredFieldNotSet => "E0302",
            BadEndpoint => "E0303",
            BadStatus => "E0304",
            StorageOverlap => "E0401",
            BadTrigger => "E0402",
            BadPartition => "E0403",
            BadTableSetting => "E0404",
            ColumnNotWritten => "E0501",
            PartitionMismatch => "E0502",
            HiveIdentifier => "E0503",
            CaseClash => "E0504",
            PropertyConflict => "E0505",
            MetadataClash => "E0506",
            UnsetVariable => "E0601",
            BadTopic => "E0602",
            UnknownRoute => "E0701",
            UnknownTarget => "E0702",
            UnknownColumn => "E0703",
            CellType => "E0704",
            BadTestRequest => "E0705",
            BadPattern => "E0706",
            EmptyTest => "E0707",
            UnsatisfiableFilter => "W0001",
            RowsOnlyTrigger => "W0002",
            TypeChanged => "E0801",
            PartitioningChanged => "E0802",
            ColumnRenamed => "E0803",
            RequiredFieldAdded => "W0810",
            SinkStartsOver => "W0811",
            FieldRemoved => "W0812",
            FieldKeyChanged => "W0813",
            FieldNowRequired => "W0814",
            FieldRenamed => "W0815",
            DeclarationRemoved => "W0816",
            TopicChanged => "W0817",
            OptionalFieldAdded => "W0820",
            DeclarationAdded => "W0821",
            FilterChanged => "W0822",
            TriggerChanged => "W0823",
            CompressionChanged => "W0824",
            ColumnAdded => "W0825",
            FieldNowOptional => "W0826",
        }
    }

    pub fn severity(self) -> Severity {
        use Code::*;
        match self {
            UnsatisfiableFilter | RowsOnlyTrigger => Severity::Warning,
            // `pipec diff`: what needs care warns; compatible changes are
            // never shown as diagnostics, so their severity is the lower one.
            RequiredFieldAdded | SinkStartsOver | FieldRemoved | FieldKeyChanged
            | FieldNowRequired | FieldRenamed | DeclarationRemoved | TopicChanged
            | OptionalFieldAdded | DeclarationAdded | FilterChanged | TriggerChanged
            | CompressionChanged | ColumnAdded | FieldNowOptional => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
    /// The primary label is where the problem is; secondary ones give context.
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic whose severity follows from its code, pointing at `span`.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: code.severity(),
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                message: String::new(),
                primary: true,
            }],
            help: Vec::new(),
        }
    }

    /// Sets the text under the primary caret.
    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        if let Some(primary) = self.labels.iter_mut().find(|l| l.primary) {
            primary.message = message.into();
        }
        self
    }

    /// Adds a secondary label, such as "first declared here".
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    pub fn with_help_opt(self, help: Option<String>) -> Self {
        match help {
            Some(help) => self.with_help(help),
            None => self,
        }
    }

    pub fn primary_span(&self) -> Span {
        self.labels
            .iter()
            .find(|l| l.primary)
            .map_or(Span::default(), |l| l.span)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All diagnostics of a phase, in source order once sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.0.iter().filter(|d| d.severity == severity).count()
    }

    /// Source order, so that a reader meets problems top to bottom.
    pub fn sorted(mut self) -> Self {
        self.0
            .sort_by_key(|d| (d.primary_span().start, d.primary_span().end, d.code));
        self
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}

/// "did you mean `x`?" for the known name closest to `unknown`, if any is close.
pub fn did_you_mean<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(unknown, known).map(|name| format!("did you mean `{name}`?"))
}

/// The known name closest to `unknown`: same name ignoring case, or within a
/// small edit distance relative to its length.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = unknown.to_lowercase();
    let limit = (unknown.chars().count() / 3).clamp(1, 3);
    known
        .into_iter()
        .filter(|name| *name != unknown)
        .map(|name| {
            let distance = if name.to_lowercase() == lower {
                0
            } else {
                strsim::damerau_levenshtein(&lower, &name.to_lowercase())
            };
            (distance, name)
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, name)| (*distance, *name))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["purchase_sword", "join_guild", "default"];
        assert_eq!(closest("purchase_swords", known), Some("purchase_sword"));
        assert_eq!(closest("JOIN_GUILD", known), Some("join_guild"));
        assert_eq!(closest("sell_shield", known), None);
        assert_eq!(
            did_you_mean("defualt", known).as_deref(),
            Some("did you mean `default`?")
        );
    }

    #[test]
    fn codes_are_unique_and_warnings_are_w() {
        use std::collections::HashSet;
        let strings: HashSet<_> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(strings.len(), Code::ALL.len());
        for code in Code::ALL {
            let warning = code.severity() == Severity::Warning;
            assert_eq!(warning, code.as_str().starts_with('W'), "{code:?}");
        }
    }
}
