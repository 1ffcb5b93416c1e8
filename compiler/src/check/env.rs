//! Environment values in settings: `"${KAFKA_BROKERS:-localhost:9092}/x"`.
//!
//! The compiler does no I/O, so the caller hands it the environment.

use super::Checker;
use crate::ast::StringLit;
use crate::diagnostic::{did_you_mean, Code, Diagnostic};
use crate::source::Span;
use std::collections::{BTreeMap, HashMap};

/// Where `${NAME}` looks its values up.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    /// The names it knows, for did-you-mean; may be empty.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Environment for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Environment for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Checker<'_> {
    /// The string with every `${NAME}` and `${NAME:-default}` replaced.
    /// Reports unset variables and malformed references; `None` then.
    pub(super) fn interpolate(&mut self, literal: &StringLit) -> Option<String> {
        let value = &literal.value;
        let mut out = String::with_capacity(value.len());
        let mut ok = true;
        let mut rest_start = 0;
        let mut search_from = 0;
        while let Some(found) = value[search_from..].find("${") {
            let start = search_from + found;
            if literal.escaped_dollars.contains(&start) {
                search_from = start + 1;
                continue;
            }
            out.push_str(&value[rest_start..start]);
            let Some(close) = value[start..].find('}') else {
                self.report(
                    Diagnostic::new(
                        Code::Syntax,
                        self.inner_span(literal, start, value.len()),
                        "`${` is not closed",
                    )
                    .with_label("this environment value has no `}`")
                    .with_help("write `${NAME}` or `${NAME:-default}`; `\\${` is a literal `${`"),
                );
                return None;
            };
            let end = start + close + 1;
            let reference = &value[start + 2..end - 1];
            let (name, default) = match reference.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (reference, None),
            };
            let span = self.inner_span(literal, start, end);
            let valid_name = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                self.report(
                    Diagnostic::new(
                        Code::Syntax,
                        span,
                        format!("`{name}` is not an environment variable name"),
                    )
                    .with_label("expected `${NAME}` or `${NAME:-default}`")
                    .with_help("names are letters, digits and `_`, not starting with a digit"),
                );
                ok = false;
            } else {
                match (self.env.var(name), default) {
                    (Some(found), _) => out.push_str(&found),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => {
                        let names = self.env.names();
                        let help = did_you_mean(name, names.iter().map(String::as_str))
                            .unwrap_or_else(|| {
                                format!("set it, or give a default: `${{{name}:-value}}`")
                            });
                        self.report(
                            Diagnostic::new(
                                Code::UnsetVariable,
                                span,
                                format!("environment variable `{name}` is not set"),
                            )
                            .with_label("not set, and no default")
                            .with_help(help),
                        );
                        ok = false;
                    }
                }
            }
            rest_start = end;
            search_from = end;
        }
        out.push_str(&value[rest_start..]);
        ok.then_some(out)
    }

    /// The source span of `value[start..end]`, exact when the literal has no
    /// escapes before `end`, else the whole literal.
    fn inner_span(&self, literal: &StringLit, start: usize, end: usize) -> Span {
        let written = self.source.slice(literal.span);
        let body = written
            .strip_prefix('"')
            .and_then(|w| w.strip_suffix('"'))
            .unwrap_or(written);
        if body.get(..end) == literal.value.get(..end) {
            let base = literal.span.start + 1;
            Span::new(base + start, base + end)
        } else {
            literal.span
        }
    }
}
