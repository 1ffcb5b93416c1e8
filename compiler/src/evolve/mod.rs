//! Beside the stages: what a change to a running pipeline does.
//!
//! [`diff`] compares the plan that ran with the new one and classifies
//! every difference by what happens to the messages already in the topics,
//! the files and checkpoints already written, and the clients:
//!
//! | class | changes |
//! | --- | --- |
//! | compatible | optional field added, field made optional, endpoint/topic/sink/table added, filter, trigger or compression changed, column added |
//! | needs care | required field added, field made required, field's JSON key changed, field renamed keeping its key (`from`), field or column removed, path/checkpoint/topic of a sink moved (it starts over), topic's partitions or key changed, endpoint/topic/sink/table removed |
//! | breaking | type changed, partitioning changed (same path), field renamed without `from` |
//!
//! Things are matched by name: topics, sinks, tables, endpoints (method and
//! path), and fields within the schemas of topics of the same name. A field
//! the new schema does not have by name is a rename when the old schema had
//! a field of the same JSON key (the new one says `from "key"`: the topic's
//! messages still decode, but the files' column changes name), or, without
//! one, when the old field at the same place in the schema has the same type
//! and its name is gone: the user edited the name in place, and both the
//! messages and the files still carry the old one. Anything else is a
//! removal and an addition.
//!
//! A field's change is reported once, at the field, for every topic and
//! sink it reaches; the sinks then report only what their own statements
//! changed. [`compare_columns`] gives the same column classification for a
//! caller that knows only what the files on disk hold.

mod columns;
mod locate;
mod schema;
mod sinks;
mod top;

pub use columns::{compare_columns, WrittenColumn, WrittenLayout};

use crate::ast::Ast;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::plan::Plan;
use crate::render::Style;
use crate::source::{Source, Span};
use locate::Locate;
use serde::Serialize;

/// What a change does to a running pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Nothing written or queued is affected; only what comes next changes.
    Compatible,
    /// It runs, but messages, files or clients are affected: read the message.
    NeedsCare,
    /// Files or messages already there cannot be read with the new file.
    Breaking,
}

impl Class {
    /// The class of a `pipec diff` code: breaking codes are errors
    /// (`E080x`), changes that need care `W081x`, compatible ones `W082x`.
    pub fn of(code: Code) -> Class {
        let text = code.as_str();
        if text.starts_with('E') {
            Class::Breaking
        } else if text.starts_with("W082") {
            Class::Compatible
        } else {
            Class::NeedsCare
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Class::Compatible => "compatible",
            Class::NeedsCare => "needs care",
            Class::Breaking => "breaking",
        }
    }
}

/// One difference between the plan that ran and the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub class: Class,
    pub code: Code,
    pub message: String,
    /// In the new file. A removal points at what it belonged to and the new
    /// file still has: a field's schema, an endpoint's or a sink's topic, a
    /// table's sink; `Span::default()` when nothing is left (a topic).
    pub span: Span,
    pub help: Option<String>,
}

impl Change {
    pub(crate) fn new(code: Code, span: Option<Span>, message: impl Into<String>) -> Self {
        Change {
            class: Class::of(code),
            code,
            message: message.into(),
            span: span.unwrap_or_default(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every difference between the plan that ran and the new one, in new-file
/// order (a removal with nothing left to point at, such as a topic's, first).
pub fn diff(old: &Plan, new: &Plan, new_ast: &Ast) -> Vec<Change> {
    let locate = Locate::new(new_ast);
    let fields = schema::compare(old, new, locate);
    let mut changes = fields.changes;
    changes.extend(top::topics(old, new, locate));
    changes.extend(top::endpoints(old, new, locate));
    changes.extend(sinks::compare(old, new, locate, &fields.explained));
    changes.extend(top::tables(old, new, locate, &fields.explained));
    changes.sort_by_key(|c| (c.span.start, c.span.end));
    changes
}

/// The changes that need care as warnings and the breaking ones as errors,
/// each message led by its class; compatible changes are left out.
pub fn to_diagnostics(changes: &[Change]) -> Diagnostics {
    Diagnostics(
        changes
            .iter()
            .filter(|c| c.class != Class::Compatible)
            .map(to_diagnostic)
            .collect(),
    )
}

fn to_diagnostic(change: &Change) -> Diagnostic {
    let mut diagnostic = Diagnostic::new(
        change.code,
        change.span,
        format!("{}: {}", change.class.label(), change.message),
    )
    .with_help_opt(change.help.clone());
    if change.span == Span::default() {
        // Nothing left in the new file to point at: no source line.
        diagnostic.labels.clear();
    }
    diagnostic
}

/// A change as `pipec diff` prints it: a diagnostic for the breaking and
/// needing-care ones; a line and the position for a compatible one.
pub fn render(source: &Source, change: &Change, style: Style) -> String {
    if change.class != Class::Compatible {
        return crate::render::render(source, &to_diagnostic(change), style);
    }
    let at = source.position(change.span.start);
    let mut out = format!(
        "compatible[{}]: {}\n  --> {}:{}:{}\n",
        change.code.as_str(),
        change.message,
        source.name,
        at.line,
        at.column
    );
    if let Some(help) = &change.help {
        out.push_str(&format!("  = help: {help}\n"));
    }
    out
}

/// `a`, `a` and `b`, `a`, `b` and `c`: names in backticks, for messages.
pub(crate) fn list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests;
