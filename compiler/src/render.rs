//! The one place diagnostics become text: rustc-style for people, JSON for
//! editors and CI.

use crate::diagnostic::{Diagnostic, Label, Severity};
use crate::source::{Position, Source, Span};
use serde::Serialize;
use std::fmt::Write;

/// Whether to colour the text (for a terminal) or not (for files, pipes and
/// snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Color,
}

const TAB_WIDTH: usize = 4;

struct Paint {
    style: Style,
}

impl Paint {
    fn paint(&self, code: &str, text: &str) -> String {
        match self.style {
            Style::Plain => text.to_string(),
            Style::Color => format!("\x1b[{code}m{text}\x1b[0m"),
        }
    }
    fn severity(&self, severity: Severity, text: &str) -> String {
        match severity {
            Severity::Error => self.paint("1;31", text),
            Severity::Warning => self.paint("1;33", text),
        }
    }
    fn blue(&self, text: &str) -> String {
        self.paint("1;34", text)
    }
    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// `error[E0101]: ...`, the location, the source lines with carets, help.
pub fn render(source: &Source, diagnostic: &Diagnostic, style: Style) -> String {
    let paint = Paint { style };
    let mut out = String::new();
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(
        out,
        "{}{}",
        paint.severity(
            diagnostic.severity,
            &format!("{severity}[{}]", diagnostic.code.as_str())
        ),
        paint.bold(&format!(": {}", diagnostic.message))
    );
    let primary = diagnostic.primary_span();
    let start = source.position(primary.start);

    let mut labels: Vec<&Label> = diagnostic.labels.iter().collect();
    labels.sort_by_key(|l| (source.line_index(l.span.start), !l.primary, l.span.start));
    let max_line = labels
        .iter()
        .map(|l| source.line_index(l.span.start) + 1)
        .max()
        .unwrap_or(1);
    let width = max_line.to_string().len();
    let pad = " ".repeat(width);

    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        paint.blue("-->"),
        source.name,
        start.line,
        start.column
    );
    let _ = writeln!(out, "{pad} {}", paint.blue("|"));
    let mut previous_line: Option<usize> = None;
    let mut index = 0;
    while index < labels.len() {
        let line = source.line_index(labels[index].span.start);
        let on_line: Vec<&Label> = labels[index..]
            .iter()
            .take_while(|l| source.line_index(l.span.start) == line)
            .copied()
            .collect();
        index += on_line.len();
        if let Some(previous) = previous_line {
            if line > previous + 1 {
                let _ = writeln!(out, "{}", paint.blue("..."));
            }
        }
        previous_line = Some(line);
        let text = source.line_text(line);
        let _ = writeln!(
            out,
            "{} {} {}",
            paint.blue(&format!("{:>width$}", line + 1)),
            paint.blue("|"),
            expand_tabs(text)
        );
        for label in on_line {
            let (column, length) = underline(source, line, label.span);
            let marker = if label.primary { "^" } else { "-" };
            let markers = marker.repeat(length);
            let markers = if label.primary {
                paint.severity(diagnostic.severity, &markers)
            } else {
                paint.blue(&markers)
            };
            let message = if label.message.is_empty() {
                String::new()
            } else {
                format!(" {}", label.message)
            };
            let _ = writeln!(
                out,
                "{pad} {} {}{markers}{message}",
                paint.blue("|"),
                " ".repeat(column)
            );
        }
    }
    if !diagnostic.help.is_empty() {
        let _ = writeln!(out, "{pad} {}", paint.blue("|"));
    }
    for help in &diagnostic.help {
        let _ = writeln!(out, "{pad} {} {help}", paint.blue("= help:"));
    }
    out
}

/// The display column and width of the carets for `span` on `line`; a span
/// running past the line is underlined to its end, an empty one gets one caret.
fn underline(source: &Source, line: usize, span: Span) -> (usize, usize) {
    let line_start = source.line_start(line);
    let text = source.line_text(line);
    let from = span.start.saturating_sub(line_start).min(text.len());
    let to = span.end.saturating_sub(line_start).clamp(from, text.len());
    let column = display_width(text.get(..from).unwrap_or(text));
    let length = display_width(text.get(from..to).unwrap_or("")).max(1);
    (column, length)
}

fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if c == '\t' { TAB_WIDTH } else { 1 })
        .sum()
}

fn expand_tabs(text: &str) -> String {
    text.replace('\t', &" ".repeat(TAB_WIDTH))
}

/// A diagnostic for machines: positions are 1-based, columns in characters.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub severity: Severity,
    pub code: &'static str,
    pub message: &'a str,
    pub start: Position,
    pub end: Position,
    pub labels: Vec<JsonLabel<'a>>,
    pub help: &'a [String],
    /// The text a person would see, for tools that show it as is.
    pub rendered: String,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub start: Position,
    pub end: Position,
    pub message: &'a str,
    pub primary: bool,
}

pub fn to_json<'a>(source: &'a Source, diagnostic: &'a Diagnostic) -> JsonDiagnostic<'a> {
    let primary = diagnostic.primary_span();
    JsonDiagnostic {
        file: &source.name,
        severity: diagnostic.severity,
        code: diagnostic.code.as_str(),
        message: &diagnostic.message,
        start: source.position(primary.start),
        end: source.position(primary.end),
        labels: diagnostic
            .labels
            .iter()
            .map(|l| JsonLabel {
                start: source.position(l.span.start),
                end: source.position(l.span.end),
                message: &l.message,
                primary: l.primary,
            })
            .collect(),
        help: &diagnostic.help,
        rendered: render(source, diagnostic, Style::Plain),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Code;

    #[test]
    fn renders_location_source_line_and_carets() {
        let source = Source::new("f.pipe", "topic events {\n  schema GameEvnt\n}\n");
        let diagnostic = Diagnostic::new(
            Code::UnknownSchema,
            Span::new(24, 32),
            "unknown schema `GameEvnt`",
        )
        .with_label("no schema has this name")
        .with_secondary(Span::new(0, 5), "in this topic")
        .with_help("did you mean `GameEvent`?");
        let text = render(&source, &diagnostic, Style::Plain);
        assert_eq!(
            text,
            "error[E0101]: unknown schema `GameEvnt`
 --> f.pipe:2:10
  |
1 | topic events {
  | ----- in this topic
2 |   schema GameEvnt
  |          ^^^^^^^^ no schema has this name
  |
  = help: did you mean `GameEvent`?
"
        );
    }

    #[test]
    fn an_empty_span_at_the_end_gets_one_caret() {
        let source = Source::new("f.pipe", "schema x {");
        let diagnostic = Diagnostic::new(Code::Syntax, Span::new(10, 10), "expected `}`");
        let text = render(&source, &diagnostic, Style::Plain);
        assert!(text.contains("1 | schema x {\n  |           ^\n"), "{text}");
    }
}
