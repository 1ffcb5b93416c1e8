//! Completions at the cursor: the keywords a block takes at the start of a
//! statement, and after a keyword the names that fit there (topics after
//! `into` and `from`, a schema's fields in `set`, `where`, `columns` and
//! `partition`, a table's columns in a test's `row`).
//!
//! The context is read from the text before the cursor, not the AST: while
//! a statement is being typed the file does not parse. Names come from the
//! index of the last version that did.

use super::{Index, SymbolKind};
use crate::expr::Function;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Field,
    Name,
    Function,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub detail: Option<String>,
}

const DECLARATIONS: &[&str] = &[
    "pipeline",
    "kafka",
    "schema",
    "topic",
    "endpoint",
    "sink",
    "table",
    "dead_letters",
    "test",
];

/// The statements each block takes, by the keyword that opens it.
fn statements(block: &str) -> &'static [&'static str] {
    match block {
        "kafka" => &["brokers", "option"],
        "schema" => &["extra fields reject"],
        "topic" => &["schema", "partitions", "key"],
        "endpoint" => &[
            "into",
            "set",
            "headers",
            "body json",
            "auth bearer",
            "respond",
        ],
        "sink" => &[
            "from",
            "where",
            "columns",
            "path",
            "checkpoint",
            "trigger",
            "compression",
            "partition by",
            "metadata",
            "format",
            "compact",
            "vacuum after",
        ],
        "table" => &[
            "from",
            "columns",
            "location",
            "partitioned by",
            "properties",
        ],
        "dead_letters" => &["path", "table"],
        "test" => &["request", "message", "expect"],
        "request" => &["header", "query", "bearer", "body", "expect"],
        "expect" | "contains" => &["row"],
        _ => &[],
    }
}

/// An open block: the keyword that opened it and the name after it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    keyword: String,
    name: Option<String>,
}

/// The blocks open at the end of `text`, outermost first, and whether the
/// end is inside a string or a comment.
fn open_blocks(text: &str) -> (Vec<Block>, bool) {
    let mut blocks = Vec::new();
    // The words of the statement being read, for the block it may open.
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    let mut in_text = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                in_text = !closed;
                words.push("\"\"".into());
            }
            '#' => {
                in_text = true;
                for c in chars.by_ref() {
                    if c == '\n' {
                        in_text = false;
                        break;
                    }
                }
                if !in_text {
                    words.clear();
                }
            }
            '{' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                let keyword = match words.first().map(String::as_str) {
                    // `expect t contains {`, `expect t {`: rows follow.
                    Some("expect") => "expect".to_string(),
                    Some(first) => first.to_string(),
                    None => "{".to_string(),
                };
                let name = words.get(1).cloned();
                blocks.push(Block { keyword, name });
                words.clear();
            }
            '}' => {
                blocks.pop();
                words.clear();
                word.clear();
            }
            '\n' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.clear();
            }
            c if c.is_whitespace() || c == ',' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    (blocks, in_text)
}

/// What may be typed at `offset` of `text`.
pub fn complete(text: &str, index: &Index, offset: usize) -> Vec<Completion> {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let (blocks, in_text) = open_blocks(before);
    if in_text {
        return Vec::new();
    }
    let line = before.rsplit('\n').next().unwrap_or("");
    // The words before the one being typed.
    let typed: Vec<&str> = line.split_whitespace().collect();
    let done: Vec<&str> = if line.ends_with(char::is_whitespace) {
        typed.clone()
    } else {
        typed[..typed.len().saturating_sub(1)].to_vec()
    };
    let block = blocks.last();
    let keywords = |list: &[&str]| -> Vec<Completion> {
        list.iter()
            .map(|k| Completion {
                label: k.to_string(),
                kind: CompletionKind::Keyword,
                detail: None,
            })
            .collect()
    };
    let names = |kind: SymbolKind, detail: &str| -> Vec<Completion> {
        index
            .symbols
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| Completion {
                label: s.name.clone(),
                kind: CompletionKind::Name,
                detail: Some(detail.to_string()),
            })
            .collect()
    };
    let fields = |symbols: Vec<&super::Symbol>| -> Vec<Completion> {
        symbols
            .into_iter()
            .map(|s| Completion {
                label: s.name.clone(),
                kind: CompletionKind::Field,
                detail: s.container.as_ref().map(|c| format!("field of {c}")),
            })
            .collect()
    };
    let Some(block) = block else {
        return if done.is_empty() {
            keywords(DECLARATIONS)
        } else {
            Vec::new()
        };
    };
    let block_name = block.name.as_deref().unwrap_or("");
    if block.keyword == "row" {
        // The enclosing `expect TARGET`.
        let target = blocks
            .iter()
            .rev()
            .find(|b| b.keyword == "expect")
            .and_then(|b| b.name.as_deref())
            .unwrap_or("");
        let expects_value = done.last().is_some_and(|w| *w == "=");
        if expects_value {
            return keywords(&["any", "null"]);
        }
        let mut out = fields(index.fields_of_target(target));
        out.extend(keywords(&["raw_event", "timestamp"]));
        return out;
    }
    let Some(first) = done.first() else {
        return keywords(statements(&block.keyword));
    };
    match (block.keyword.as_str(), *first) {
        ("endpoint", "into") | ("sink", "from") | ("test", "message") => {
            if done.len() == 1 {
                names(SymbolKind::Topic, "topic")
            } else {
                Vec::new()
            }
        }
        ("topic", "schema") => names(SymbolKind::Schema, "schema"),
        ("topic", "key") => fields(index.fields_of_topic(block_name)),
        ("table", "from") => names(SymbolKind::Sink, "sink"),
        ("table", "columns") | ("table", "partitioned") => {
            let table = index
                .sink_of_table(block_name)
                .or_else(|| {
                    block_name
                        .split('.')
                        .next_back()
                        .and_then(|t| index.sink_of_table(t))
                })
                .map(|sink| index.fields_of_sink(sink))
                .unwrap_or_default();
            fields(table)
        }
        ("test", "expect") => {
            let mut out = names(SymbolKind::Table, "table");
            out.extend(names(SymbolKind::Sink, "sink"));
            out.push(Completion {
                label: "dead_letters".into(),
                kind: CompletionKind::Name,
                detail: Some("the dead-letter table".into()),
            });
            out
        }
        ("test", "request") => keywords(&["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ("endpoint", "set") => {
            if done.contains(&"=") {
                keywords(&["header", "query", "received_time", "request_id"])
            } else if done.len() == 1 {
                let topic = topic_of_endpoint(text, offset);
                fields(index.fields_of_topic(&topic))
            } else {
                Vec::new()
            }
        }
        ("endpoint", "headers") => keywords(&["all"]),
        ("endpoint", "body") | ("request", "body") => keywords(&["json"]),
        ("endpoint", "auth") => keywords(&["bearer"]),
        ("sink", "where") => {
            let mut out = fields(index.fields_of_sink(block_name));
            out.extend(keywords(&[
                "raw_event",
                "timestamp",
                "and",
                "or",
                "not",
                "in",
                "is",
                "null",
            ]));
            out.extend(Function::ALL.iter().map(|f| Completion {
                label: f.name().to_string(),
                kind: CompletionKind::Function,
                detail: Some("function".into()),
            }));
            out
        }
        ("sink", "columns") | ("sink", "partition") => {
            let mut out = fields(index.fields_of_sink(block_name));
            if *first == "columns" {
                out.extend(keywords(&["raw_event", "timestamp"]));
            } else if done.len() == 1 {
                return keywords(&["by"]);
            } else {
                out.extend(keywords(&["date"]));
            }
            out
        }
        ("sink", "trigger") => keywords(&["every", "once"]),
        ("sink", "compression") => keywords(&["snappy", "zstd", "gzip", "lz4", "none"]),
        ("sink", "metadata") => keywords(&["raw_event", "timestamp"]),
        ("sink", "format") => keywords(&["parquet", "delta"]),
        ("sink", "compact") => keywords(&["every", "off"]),
        _ => Vec::new(),
    }
}

/// The topic of the endpoint block being edited: its `into`, read from the
/// text (an endpoint has no name to look it up by).
fn topic_of_endpoint(text: &str, offset: usize) -> String {
    let Some(start) = text[..offset].rfind("endpoint ") else {
        return String::new();
    };
    let body = &text[start..];
    let end = body.find('}').unwrap_or(body.len());
    body[..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("into "))
        .map(|rest| rest.trim().to_string())
        .next()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ide::index;
    use crate::parse::parse;
    use crate::Source;

    const SEED: &str = include_str!("../../../pipelines/game_events.pipe");

    fn labels_at(text: &str, cursor: &str) -> Vec<String> {
        let index = index(&parse(&Source::new("seed.pipe", SEED)).unwrap());
        let offset = text.find(cursor).unwrap() + cursor.len();
        complete(text, &index, offset)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    #[test]
    fn inside_where_the_sinks_fields_and_functions_are_offered() {
        let text = SEED.replace(
            "where      event_type == \"join_guild\"",
            "where      event_type == \"join_guild\" and Ho",
        );
        let labels = labels_at(&text, "and Ho");
        for expected in [
            "Host",
            "User_Agent",
            "event_type",
            "starts_with",
            "raw_event",
        ] {
            assert!(
                labels.contains(&expected.to_string()),
                "{expected}: {labels:?}"
            );
        }
    }

    #[test]
    fn statement_keywords_fit_the_block_and_names_follow_keywords() {
        let text = SEED.replace("  trigger    every 10s\n}", "  trigger    every 10s\n  \n}");
        let labels = labels_at(&text, "every 10s\n  ");
        assert!(labels.contains(&"checkpoint".to_string()), "{labels:?}");
        assert!(!labels.contains(&"respond".to_string()), "{labels:?}");
        let text = SEED.replace(
            "  into    events\n  set     event_type = \"default\"",
            "  into    ",
        );
        assert_eq!(labels_at(&text, "into    "), ["events"]);
        let text = SEED.replace("set     event_type = \"default\"", "set     ");
        let labels = labels_at(&text, "set     ");
        assert!(labels.contains(&"Accept".to_string()), "{labels:?}");
    }

    #[test]
    fn a_test_row_offers_the_columns_of_its_table_and_strings_offer_nothing() {
        let text = SEED.replace(
            "row { event_type = \"join_guild\", Host = \"user2.att.com\"",
            "row { event_type = \"join_guild\", Ho",
        );
        let labels = labels_at(&text, "\"join_guild\", Ho");
        assert!(labels.contains(&"Host".to_string()), "{labels:?}");
        assert!(labels_at(SEED, "\"Sword Pur").is_empty());
        assert!(labels_at("", "").contains(&"sink".to_string()));
    }
}
