//! Hover text (Markdown) for the name under the cursor: a field's type, an
//! endpoint's topic and schema, a sink's columns and filter, a table's DDL.
//! The details come from the plan, so they show while the file checks; with
//! errors, the hover says what the name is and that details wait for them.

use super::{Index, Symbol, SymbolKind};
use crate::ddl::{self, DdlOptions, Dialect};
use crate::graph::expression;
use crate::plan::Plan;
use crate::source::Span;
use std::fmt::Write;

/// The hover at `offset`: the span it is about and its Markdown.
pub fn hover(index: &Index, plan: Option<&Plan>, offset: usize) -> Option<(Span, String)> {
    let symbol = index.symbol_at(offset)?;
    let span = std::iter::once(symbol.definition)
        .chain(symbol.references.iter().copied())
        .find(|s| s.start <= offset && offset <= s.end)?;
    let text = match plan {
        Some(plan) => detailed(symbol, plan),
        None => None,
    };
    let text = text.unwrap_or_else(|| {
        format!(
            "{} `{}`\n\n_details show once the file has no errors_",
            kind_name(symbol.kind),
            symbol.name
        )
    });
    Some((span, text))
}

fn kind_name(kind: SymbolKind) -> &'static str {
    match kind {
        SymbolKind::Schema => "schema",
        SymbolKind::Field => "field",
        SymbolKind::Topic => "topic",
        SymbolKind::Endpoint => "endpoint",
        SymbolKind::Sink => "sink",
        SymbolKind::Table => "table",
        SymbolKind::Test => "test",
    }
}

fn detailed(symbol: &Symbol, plan: &Plan) -> Option<String> {
    let mut out = String::new();
    match symbol.kind {
        SymbolKind::Field => {
            let schema = plan
                .schemas
                .iter()
                .find(|s| Some(s.name.as_str()) == symbol.container.as_deref())?;
            let field = schema.fields.iter().find(|f| f.name == symbol.name)?;
            let optional = if field.optional { "?" } else { "" };
            let _ = writeln!(
                out,
                "```pipec\n{}: {}{optional}\n```\nfield of schema `{}`",
                field.name, field.data_type, schema.name
            );
            if field.key != field.name {
                let _ = writeln!(out, "\nread from the event key `{}`", field.key);
            }
            if !field.optional {
                out.push_str(
                    "\nrequired: an event without it is refused (API) or a dead letter (sink)\n",
                );
            }
        }
        SymbolKind::Schema => {
            let schema = plan.schemas.iter().find(|s| s.name == symbol.name)?;
            let _ = writeln!(out, "```pipec\nschema {} {{", schema.name);
            for field in &schema.fields {
                let optional = if field.optional { "?" } else { "" };
                let _ = writeln!(out, "  {}: {}{optional}", field.name, field.data_type);
            }
            out.push_str("}\n```\n");
        }
        SymbolKind::Topic => {
            let (index, topic) = plan
                .topics
                .iter()
                .enumerate()
                .find(|(_, t)| t.name == symbol.name)?;
            let _ = writeln!(
                out,
                "topic `{}`: schema `{}`, {} partition{}",
                topic.name,
                topic.schema.name,
                topic.partitions,
                if topic.partitions == 1 { "" } else { "s" }
            );
            if let Some(key) = &topic.key {
                let _ = writeln!(out, "\nkeyed by `{}`", key.name);
            }
            let writers: Vec<String> = plan
                .endpoints
                .iter()
                .filter(|e| e.topic.index() == index)
                .map(|e| format!("`{} {}`", e.method.as_str(), e.path))
                .collect();
            let readers: Vec<String> = plan
                .sinks
                .iter()
                .filter(|s| s.topic.index() == index)
                .map(|s| format!("`{}`", s.name))
                .collect();
            if !writers.is_empty() {
                let _ = writeln!(out, "\nwritten by {}", writers.join(", "));
            }
            if !readers.is_empty() {
                let _ = writeln!(out, "\nread by {}", readers.join(", "));
            }
        }
        SymbolKind::Endpoint => {
            let endpoint = plan
                .endpoints
                .iter()
                .find(|e| format!("{} {}", e.method.as_str(), e.path) == symbol.name)?;
            let topic = plan.topic(&endpoint.topic);
            let _ = writeln!(
                out,
                "endpoint `{}`\n\ninto topic `{}` (schema `{}`)",
                symbol.name, topic.name, topic.schema.name
            );
            let _ = writeln!(
                out,
                "\nanswers {} {:?}{}{}",
                endpoint.response.status,
                endpoint.response.body,
                if endpoint.json_body {
                    "; takes a JSON body"
                } else {
                    ""
                },
                if endpoint.auth.is_some() {
                    "; needs a bearer token"
                } else {
                    ""
                }
            );
        }
        SymbolKind::Sink => {
            let sink = plan.sinks.iter().find(|s| s.name == symbol.name)?;
            let _ = writeln!(
                out,
                "sink `{}` from topic `{}`",
                sink.name,
                plan.topic(&sink.topic).name
            );
            if let Some(filter) = &sink.filter {
                let _ = writeln!(out, "\nkeeps `{}`", expression(filter));
            }
            let _ = writeln!(
                out,
                "\nwrites {}, to `{}`\n",
                sink.trigger,
                sink.path.as_str()
            );
            out.push_str("| column | type |\n| --- | --- |\n");
            for column in &sink.columns {
                let nullable = if column.nullable { "" } else { " not null" };
                let _ = writeln!(
                    out,
                    "| `{}` | {}{nullable} |",
                    column.name, column.data_type
                );
            }
        }
        SymbolKind::Table => {
            let table = plan.tables.iter().find(|t| t.name == symbol.name)?;
            let sql = ddl::generate(
                plan,
                Dialect::Hive,
                &DdlOptions::new("DATA_DIR"),
                Some(&table.qualified_name()),
            )
            .ok()?;
            let _ = writeln!(
                out,
                "table `{}` from sink `{}`\n\n```sql\n{}\n```",
                table.qualified_name(),
                table.sink.name,
                sql.trim()
            );
        }
        SymbolKind::Test => {
            let test = plan.tests.iter().find(|t| t.name == symbol.name)?;
            let _ = writeln!(
                out,
                "test `{}`: {} request{} or message{}, {} table expectation{}; run with `pipec test`",
                test.name,
                test.given.len(),
                if test.given.len() == 1 { "" } else { "s" },
                if test.given.len() == 1 { "" } else { "s" },
                test.expect.len(),
                if test.expect.len() == 1 { "" } else { "s" }
            );
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ide::index;
    use crate::parse::parse;
    use crate::{compile, Source};
    use std::collections::BTreeMap;

    const SEED: &str = include_str!("../../../pipelines/game_events.pipe");

    fn at(needle: &str) -> usize {
        SEED.find(needle).unwrap() + 1
    }

    fn hover_at(offset: usize) -> String {
        let source = Source::new("seed.pipe", SEED);
        let plan = compile(&source, &BTreeMap::new()).unwrap().plan;
        let index = index(&parse(&source).unwrap());
        hover(&index, Some(&plan), offset).unwrap().1
    }

    #[test]
    fn a_field_shows_its_type_and_key() {
        let text = hover_at(at("User_Agent: string?"));
        assert!(text.contains("User_Agent: string?"), "{text}");
        assert!(text.contains("event key `User-Agent`"), "{text}");
    }

    #[test]
    fn a_sink_shows_its_filter_and_columns_and_a_table_its_ddl() {
        let text = hover_at(at("sink sword_purchases") + 5);
        assert!(
            text.contains("keeps `event_type == \"purchase_sword\"`"),
            "{text}"
        );
        assert!(text.contains("| `raw_event` | string not null |"), "{text}");
        let text = hover_at(at("table default.guild_joins") + 14);
        assert!(text.contains("CREATE EXTERNAL TABLE"), "{text}");
    }

    #[test]
    fn without_a_plan_the_hover_names_the_symbol() {
        let source = Source::new("seed.pipe", SEED);
        let index = index(&parse(&source).unwrap());
        let (_, text) = hover(&index, None, at("topic events") + 6).unwrap();
        assert!(text.starts_with("topic `events`"), "{text}");
    }
}
