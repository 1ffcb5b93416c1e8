//! The checked form of `test NAME { ... }` blocks: requests and raw
//! messages in, then what each table (or sink, or the dead letters) must
//! hold. `pipec test` runs them against an in-memory bus.
//!
//! Spans point at the statement each check came from, so a failure can name
//! its line in the file.

use crate::plan::{Method, Ref, Sink, Table, Topic};
use crate::source::Span;
use crate::types::Value;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct PipelineTest {
    pub name: String,
    /// The test's name in the file.
    #[serde(skip)]
    pub span: Span,
    /// In the order written: requests and messages reach the bus in it.
    pub given: Vec<Given>,
    pub expect: Vec<TableExpectation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Given {
    Request(TestRequest),
    Message(TestMessage),
}

/// An HTTP request, sent through the real API. Its method and path are
/// those of a declared endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct TestRequest {
    pub method: Method,
    pub path: String,
    /// Sent in this order; `bearer "T"` is `Authorization: Bearer T` here.
    pub headers: Vec<(String, String)>,
    /// Query parameters, URL-encoded when sent.
    pub query: Vec<(String, String)>,
    /// `body json {...}` as compact JSON text, or `body "..."` as written.
    pub body: Option<String>,
    pub expect: Option<ExpectedResponse>,
    /// From `request` to the path: the statement's first line.
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpectedResponse {
    pub status: u16,
    pub body: Option<TextMatch>,
    /// The request's `expect` statement.
    #[serde(skip)]
    pub span: Span,
}

/// How a text (a response body) is compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TextMatch {
    Equals(String),
    Contains(String),
    /// A regular expression (Rust `regex` syntax, checked to compile),
    /// matched anywhere unless anchored.
    Matches(String),
}

/// A raw message written straight to a topic, as another producer (or
/// `kcat`) would: valid JSON or not.
#[derive(Debug, Clone, Serialize)]
pub struct TestMessage {
    pub topic: Ref<Topic>,
    pub key: Option<String>,
    pub payload: String,
    /// The whole `message` statement.
    #[serde(skip)]
    pub span: Span,
}

/// What one table holds once every request and message is written.
#[derive(Debug, Clone, Serialize)]
pub struct TableExpectation {
    pub target: ExpectTarget,
    /// As the test wrote it; failures print it.
    pub name: String,
    pub mode: RowsMode,
    /// Empty for [`RowsMode::Empty`].
    pub rows: Vec<ExpectedRow>,
    /// From `expect` to the table's name (and `contains` or `empty`): the
    /// statement's first line.
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectTarget {
    Table(Ref<Table>),
    /// A sink without a table: its default table, `default.SINK`.
    Sink(Ref<Sink>),
    /// The dead-letter table (every sink's; its `sink` column tells whose).
    DeadLetters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowsMode {
    /// These rows and no others, in any order.
    Exactly,
    /// At least these rows, in any order.
    Contains,
    /// No rows at all.
    Empty,
}

/// One expected row: only the columns it names are compared.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectedRow {
    pub cells: Vec<ExpectedCell>,
    /// `row { ... }`
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpectedCell {
    /// The column's name as the table has it (its declared spelling).
    pub column: String,
    pub matcher: CellMatch,
    /// The cell: `Host = "..."`.
    #[serde(skip)]
    pub span: Span,
}

/// How one cell is compared. The checker made sure the matcher fits the
/// column's type (`contains` and `matches` only on strings, `null` only on
/// nullable columns, a timestamp literal parsed).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CellMatch {
    /// Equal to the literal, converted to the column's type (an `int`
    /// literal in a `float` column is a float; a string in a `timestamp`
    /// column is the instant it names, as `Value::Timestamp`).
    Equals(Value),
    /// Any value that is not null: for what the server fills in
    /// (`request_id`, `received_time`, `timestamp`).
    Any,
    Contains(String),
    Matches(String),
}
