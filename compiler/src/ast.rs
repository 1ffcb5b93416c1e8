//! The untyped syntax tree: what the user wrote, by name, with spans.
//!
//! Nothing here is resolved or validated beyond syntax; the checker turns it
//! into a [`crate::plan::Plan`]. Every block keeps its statements as a list,
//! so the checker can report a setting given twice or missing.

use crate::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Ast {
    pub declarations: Vec<Declaration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub text: String,
    pub span: Span,
    /// Written in backticks, so any characters were allowed.
    pub quoted: bool,
}

/// A string literal as written; `${VAR:-default}` is resolved by the checker
/// where the language allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringLit {
    pub value: String,
    pub span: Span,
    /// Byte offsets in `value` of each `$` written as `\$`, which never
    /// starts an environment value.
    pub escaped_dollars: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Declaration {
    Pipeline(Name),
    Kafka(KafkaDecl),
    Schema(SchemaDecl),
    Topic(TopicDecl),
    Endpoint(EndpointDecl),
    Sink(SinkDecl),
    Table(TableDecl),
    DeadLetters(DeadLettersDecl),
    Test(TestDecl),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KafkaDecl {
    pub keyword: Span,
    pub statements: Vec<Spanned<KafkaStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KafkaStmt {
    Brokers(StringLit),
    Option { key: StringLit, value: StringLit },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDecl {
    pub name: Name,
    pub fields: Vec<FieldDecl>,
    /// Each `extra fields reject|keep` written, so the checker can say "set twice".
    pub extra_fields: Vec<Spanned<ExtraFields>>,
}

/// What happens to the keys of an event that its schema does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraFields {
    /// Kept in `raw_event` only (the default).
    Keep,
    /// The event is refused: a 400 from the API, a dead letter in a sink.
    Reject,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    pub name: Name,
    pub type_name: Name,
    pub optional: bool,
    /// The key in the JSON event when it differs from the column name.
    pub source: Option<StringLit>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopicDecl {
    pub name: Name,
    pub statements: Vec<Spanned<TopicStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TopicStmt {
    Schema(Name),
    Partitions(Spanned<i64>),
    Key(Name),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointDecl {
    pub method: Name,
    pub path: StringLit,
    pub statements: Vec<Spanned<EndpointStmt>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EndpointStmt {
    Into(Name),
    Set {
        field: Name,
        value: Spanned<FieldValue>,
    },
    Headers(HeaderSelection),
    BodyJson,
    AuthBearer(StringLit),
    Respond {
        status: Spanned<i64>,
        body: Option<StringLit>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Literal(Literal),
    Header(StringLit),
    Query(StringLit),
    ReceivedTime,
    RequestId,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HeaderSelection {
    All,
    Named(Vec<StringLit>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SinkDecl {
    pub name: Name,
    pub statements: Vec<Spanned<SinkStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SinkStmt {
    From(Name),
    Where(Expr),
    Columns(Vec<Name>),
    Path(StringLit),
    Checkpoint(StringLit),
    Trigger(TriggerSpec),
    Compression(Name),
    Partition(PartitionSpec),
    /// `metadata timestamp as kafka_time`
    Metadata {
        column: Name,
        alias: Name,
    },
    /// `format delta`
    Format(Name),
    /// `compact every 1h to 128MB`, or `compact off` (`None`).
    Compact(Option<CompactSpec>),
    /// `vacuum after 7d`
    Vacuum(Spanned<Duration>),
}

/// How often a sink merges its small files, and into files of what size.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactSpec {
    pub every: Spanned<Duration>,
    pub target: Option<Spanned<ByteSize>>,
}

/// A size literal such as `128MB`, kept in the unit it was written in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByteSize {
    pub amount: i64,
    /// Bytes per unit: 1024 (`KB`), 1024² (`MB`) or 1024³ (`GB`).
    pub unit: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerSpec {
    Once,
    Every(Vec<Spanned<TriggerBound>>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerBound {
    Duration(Duration),
    Rows(i64),
}

/// A duration literal such as `10s`, kept in the unit it was written in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Duration {
    pub amount: i64,
    pub unit: DurationUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Millis,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl Duration {
    /// The duration in milliseconds (saturating).
    pub fn millis(&self) -> i64 {
        self.amount.saturating_mul(self.unit.millis())
    }
}

impl DurationUnit {
    pub fn millis(self) -> i64 {
        match self {
            DurationUnit::Millis => 1,
            DurationUnit::Seconds => 1_000,
            DurationUnit::Minutes => 60_000,
            DurationUnit::Hours => 3_600_000,
            DurationUnit::Days => 86_400_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartitionSpec {
    Column(Name),
    /// `partition by date(timestamp) as dt`
    Date {
        column: Name,
        alias: Option<Name>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableDecl {
    pub database: Option<Name>,
    pub name: Name,
    pub statements: Vec<Spanned<TableStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TableStmt {
    From(Name),
    Columns(Vec<Name>),
    Location(StringLit),
    PartitionedBy(Vec<Name>),
    Properties(Vec<(StringLit, StringLit)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLettersDecl {
    pub keyword: Span,
    pub statements: Vec<Spanned<DeadLettersStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeadLettersStmt {
    Path(StringLit),
    Table { database: Option<Name>, name: Name },
}

// ---------------------------------------------------------------- tests --

#[derive(Debug, Clone, PartialEq)]
pub struct TestDecl {
    pub name: Name,
    /// In the order written: requests and messages are sent in it.
    pub statements: Vec<Spanned<TestStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestStmt {
    Request(TestRequestDecl),
    Message(TestMessageDecl),
    Expect(TableExpectDecl),
}

/// `request GET "/path" { ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct TestRequestDecl {
    pub method: Name,
    pub path: StringLit,
    /// From `request` to the path: the statement's first line.
    pub head: Span,
    pub statements: Vec<Spanned<RequestStmt>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestStmt {
    Header {
        name: StringLit,
        value: StringLit,
    },
    Query {
        name: StringLit,
        value: StringLit,
    },
    Bearer(StringLit),
    Body(Payload),
    Expect {
        status: Spanned<i64>,
        body: Option<TextPattern>,
    },
}

/// What a request or message carries: `json {...}` or a string as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Json(Spanned<JsonValue>),
    Text(StringLit),
}

/// A JSON literal, its object keys in the order written.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonValue {
    Object(Vec<(String, JsonValue)>),
    Array(Vec<JsonValue>),
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// How a text is compared: `"exact"`, `contains "part"`, `matches "re"`.
#[derive(Debug, Clone, PartialEq)]
pub enum TextPattern {
    Equals(StringLit),
    Contains(StringLit),
    Matches(StringLit),
}

/// `message TOPIC key "K" json {...}`
#[derive(Debug, Clone, PartialEq)]
pub struct TestMessageDecl {
    pub topic: Name,
    pub key: Option<StringLit>,
    pub payload: Payload,
}

/// `expect TARGET { row {...} }`, `expect TARGET contains {...}`,
/// `expect TARGET empty`
#[derive(Debug, Clone, PartialEq)]
pub struct TableExpectDecl {
    pub database: Option<Name>,
    pub name: Name,
    pub mode: ExpectRows,
    pub rows: Vec<RowDecl>,
    /// From `expect` to the target (and `contains` or `empty`).
    pub head: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectRows {
    Exactly,
    Contains,
    Empty,
}

/// `row { column = value, ... }`
#[derive(Debug, Clone, PartialEq)]
pub struct RowDecl {
    pub cells: Vec<CellDecl>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellDecl {
    pub column: Name,
    pub matcher: CellMatcher,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CellMatcher {
    Equals(Spanned<Literal>),
    /// `= any`: any value but null.
    Any,
    Contains(StringLit),
    Matches(StringLit),
}

// ---------------------------------------------------------- expressions --

pub type Expr = Spanned<ExprKind>;

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    Column(Name),
    Call {
        function: Name,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Binary {
        op: Spanned<BinaryOp>,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Spanned<Literal>>,
        negated: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    And,
    Or,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `=` where a comparison was meant; always an error, kept to explain it.
    SingleEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::SingleEq => "=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}
