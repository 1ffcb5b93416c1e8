//! Stage 1: source text → [`Ast`]. pest's `Pair`s never leave this module.

mod expr;
mod syntax_error;
mod test;

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::source::{Source, Span};
use pest::iterators::Pair;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct PipelineParser;

/// Parses a pipeline file. A syntax error stops the parse (pest cannot
/// recover), but every bad string escape or number in a file that parses is
/// reported together.
pub fn parse(source: &Source) -> Result<Ast, Diagnostics> {
    let mut pairs = PipelineParser::parse(Rule::file, &source.text)
        .map_err(|error| Diagnostics::from(syntax_error::diagnostic(source, &error)))?;
    let file = pairs.next().expect("the file rule always yields one pair");
    let mut builder = AstBuilder::default();
    let declarations = file
        .into_inner()
        .filter(|pair| pair.as_rule() != Rule::EOI)
        .map(|pair| builder.declaration(pair))
        .collect();
    if builder.diagnostics.is_empty() {
        Ok(Ast { declarations })
    } else {
        Err(builder.diagnostics)
    }
}

/// Builds owned AST nodes; collects literal errors instead of stopping.
#[derive(Default)]
struct AstBuilder {
    diagnostics: Diagnostics,
}

fn span(pair: &Pair<Rule>) -> Span {
    pair.as_span().into()
}

/// The pair's span up to the end of its last token: a rule ending in an
/// optional part (`expect 200 "body"?`) otherwise takes in the whitespace
/// and comments skipped before that part was found missing.
fn tight_span(pair: &Pair<Rule>) -> Span {
    let end = pair
        .clone()
        .into_inner()
        .last()
        .map_or(pair.as_span().end(), |last| last.as_span().end());
    Span::new(pair.as_span().start(), end)
}

/// The pairs below `pair`, without the keyword and punctuation tokens, which
/// exist only for error messages.
fn content(pair: Pair<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    pair.into_inner().filter(|p| !is_token(p.as_rule()))
}

fn is_token(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        lbrace | rbrace | lparen | rparen | lbracket | rbracket | comma | colon | dot | assign
    ) || syntax_error::is_keyword(rule)
}

impl AstBuilder {
    fn declaration(&mut self, pair: Pair<Rule>) -> Declaration {
        match pair.as_rule() {
            Rule::pipeline_decl => Declaration::Pipeline(name(first(content(pair)))),
            Rule::kafka_decl => {
                let keyword = span(&pair.clone().into_inner().next().expect("keyword"));
                let statements = content(pair).map(|s| self.kafka_stmt(s)).collect();
                Declaration::Kafka(KafkaDecl {
                    keyword,
                    statements,
                })
            }
            Rule::schema_decl => {
                let mut inner = content(pair);
                let schema_name = name(first(&mut inner));
                let mut fields = Vec::new();
                let mut extra_fields = Vec::new();
                for statement in inner {
                    if statement.as_rule() == Rule::schema_extra {
                        let stmt_span = span(&statement);
                        let reject = statement
                            .into_inner()
                            .any(|p| p.as_rule() == Rule::kw_reject);
                        extra_fields.push(Spanned {
                            node: if reject {
                                ExtraFields::Reject
                            } else {
                                ExtraFields::Keep
                            },
                            span: stmt_span,
                        });
                    } else {
                        fields.push(self.field_decl(statement));
                    }
                }
                Declaration::Schema(SchemaDecl {
                    name: schema_name,
                    fields,
                    extra_fields,
                })
            }
            Rule::topic_decl => {
                let mut inner = content(pair);
                let topic_name = name(first(&mut inner));
                let statements = inner.map(|s| self.topic_stmt(s)).collect();
                Declaration::Topic(TopicDecl {
                    name: topic_name,
                    statements,
                })
            }
            Rule::endpoint_decl => {
                let decl_span = span(&pair);
                let mut inner = content(pair);
                let method_pair = first(&mut inner);
                let method = Name {
                    text: method_pair.as_str().to_string(),
                    span: span(&method_pair),
                    quoted: false,
                };
                let path = self.string(first(&mut inner));
                let statements = inner.map(|s| self.endpoint_stmt(s)).collect();
                Declaration::Endpoint(EndpointDecl {
                    method,
                    path,
                    statements,
                    span: decl_span,
                })
            }
            Rule::sink_decl => {
                let mut inner = content(pair);
                let sink_name = name(first(&mut inner));
                let statements = inner.map(|s| self.sink_stmt(s)).collect();
                Declaration::Sink(SinkDecl {
                    name: sink_name,
                    statements,
                })
            }
            Rule::table_decl => {
                let mut inner = content(pair);
                let (database, table_name) = qualified_name(first(&mut inner));
                let statements = inner.map(|s| self.table_stmt(s)).collect();
                Declaration::Table(TableDecl {
                    database,
                    name: table_name,
                    statements,
                })
            }
            Rule::dead_letters_decl => {
                let keyword = span(&pair.clone().into_inner().next().expect("keyword"));
                let statements = content(pair)
                    .map(|s| {
                        let s_span = span(&s);
                        let node = match s.as_rule() {
                            Rule::dead_letters_path => {
                                DeadLettersStmt::Path(self.string(first(content(s))))
                            }
                            _ => {
                                let (database, name) = qualified_name(first(content(s)));
                                DeadLettersStmt::Table { database, name }
                            }
                        };
                        Spanned { node, span: s_span }
                    })
                    .collect();
                Declaration::DeadLetters(DeadLettersDecl {
                    keyword,
                    statements,
                })
            }
            Rule::test_decl => Declaration::Test(self.test_decl(pair)),
            rule => unreachable!("the grammar yields no declaration {rule:?}"),
        }
    }

    fn kafka_stmt(&mut self, pair: Pair<Rule>) -> Spanned<KafkaStmt> {
        let stmt_span = span(&pair);
        let node = match pair.as_rule() {
            Rule::kafka_brokers => KafkaStmt::Brokers(self.string(first(content(pair)))),
            _ => {
                let mut inner = content(pair);
                let key = self.string(first(&mut inner));
                let value = self.string(first(&mut inner));
                KafkaStmt::Option { key, value }
            }
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    fn field_decl(&mut self, pair: Pair<Rule>) -> FieldDecl {
        let field_span = span(&pair);
        let mut field_name = None;
        let mut type_name = None;
        let mut optional = false;
        let mut source = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::name if field_name.is_none() => field_name = Some(name(part)),
                Rule::name => type_name = Some(name(part)),
                Rule::question => optional = true,
                Rule::field_source => source = Some(self.string(first(content(part)))),
                _ => {}
            }
        }
        FieldDecl {
            name: field_name.expect("a field has a name"),
            type_name: type_name.expect("a field has a type"),
            optional,
            source,
            span: field_span,
        }
    }

    fn topic_stmt(&mut self, pair: Pair<Rule>) -> Spanned<TopicStmt> {
        let stmt_span = span(&pair);
        let rule = pair.as_rule();
        let value = first(content(pair));
        let node = match rule {
            Rule::topic_schema => TopicStmt::Schema(name(value)),
            Rule::topic_key => TopicStmt::Key(name(value)),
            _ => TopicStmt::Partitions(self.integer(value)),
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    fn endpoint_stmt(&mut self, pair: Pair<Rule>) -> Spanned<EndpointStmt> {
        let stmt_span = span(&pair);
        let node = match pair.as_rule() {
            Rule::endpoint_into => EndpointStmt::Into(name(first(content(pair)))),
            Rule::endpoint_set => {
                let mut inner = content(pair);
                let field = name(first(&mut inner));
                let value = self.field_value(first(&mut inner));
                EndpointStmt::Set { field, value }
            }
            Rule::endpoint_headers => {
                let mut inner = pair.into_inner().skip(1).peekable();
                if inner.peek().map(Pair::as_rule) == Some(Rule::kw_all) {
                    EndpointStmt::Headers(HeaderSelection::All)
                } else {
                    let names = inner
                        .filter(|p| p.as_rule() == Rule::string)
                        .map(|p| self.string(p))
                        .collect();
                    EndpointStmt::Headers(HeaderSelection::Named(names))
                }
            }
            Rule::endpoint_body => EndpointStmt::BodyJson,
            Rule::endpoint_auth => EndpointStmt::AuthBearer(self.string(first(content(pair)))),
            Rule::endpoint_respond => {
                let mut inner = content(pair);
                let status = self.integer(first(&mut inner));
                let body = inner.next().map(|p| self.string(p));
                EndpointStmt::Respond { status, body }
            }
            rule => unreachable!("the grammar yields no endpoint statement {rule:?}"),
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    fn field_value(&mut self, pair: Pair<Rule>) -> Spanned<FieldValue> {
        let value_span = span(&pair);
        let inner = pair.into_inner().next().expect("a field value has content");
        let node = match inner.as_rule() {
            Rule::header_value => FieldValue::Header(self.string(first(content(inner)))),
            Rule::query_value => FieldValue::Query(self.string(first(content(inner)))),
            Rule::kw_received_time => FieldValue::ReceivedTime,
            Rule::kw_request_id => FieldValue::RequestId,
            _ => FieldValue::Literal(self.literal(inner).node),
        };
        Spanned {
            node,
            span: value_span,
        }
    }

    fn sink_stmt(&mut self, pair: Pair<Rule>) -> Spanned<SinkStmt> {
        let stmt_span = span(&pair);
        let node = match pair.as_rule() {
            Rule::sink_from => SinkStmt::From(name(first(content(pair)))),
            Rule::sink_where => SinkStmt::Where(self.expr(first(content(pair)))),
            Rule::sink_columns => SinkStmt::Columns(name_list(first(content(pair)))),
            Rule::sink_path => SinkStmt::Path(self.string(first(content(pair)))),
            Rule::sink_checkpoint => SinkStmt::Checkpoint(self.string(first(content(pair)))),
            Rule::sink_trigger => {
                let bounds: Vec<_> = pair
                    .into_inner()
                    .filter(|p| p.as_rule() == Rule::trigger_bound)
                    .map(|p| self.trigger_bound(p))
                    .collect();
                if bounds.is_empty() {
                    SinkStmt::Trigger(TriggerSpec::Once)
                } else {
                    SinkStmt::Trigger(TriggerSpec::Every(bounds))
                }
            }
            Rule::sink_compression => SinkStmt::Compression(name(first(content(pair)))),
            Rule::sink_partition => {
                let spec = first(content(pair));
                if spec.as_rule() == Rule::date_partition {
                    let mut names = content(spec).map(name);
                    let column = names.next().expect("date() names a column");
                    SinkStmt::Partition(PartitionSpec::Date {
                        column,
                        alias: names.next(),
                    })
                } else {
                    SinkStmt::Partition(PartitionSpec::Column(name(spec)))
                }
            }
            Rule::sink_metadata => {
                let mut names = content(pair).map(name);
                let column = names.next().expect("metadata names a column");
                let alias = names.next().expect("metadata gives a name");
                SinkStmt::Metadata { column, alias }
            }
            Rule::sink_format => SinkStmt::Format(name(first(content(pair)))),
            Rule::sink_compact => {
                let mut parts = content(pair);
                match parts.next() {
                    None => SinkStmt::Compact(None),
                    Some(every) => {
                        let every = Spanned {
                            span: span(&every),
                            node: self.duration(every),
                        };
                        let target = parts.next().map(|size| Spanned {
                            span: span(&size),
                            node: self.byte_size(size),
                        });
                        SinkStmt::Compact(Some(CompactSpec { every, target }))
                    }
                }
            }
            Rule::sink_vacuum => {
                let after = first(content(pair));
                SinkStmt::Vacuum(Spanned {
                    span: span(&after),
                    node: self.duration(after),
                })
            }
            rule => unreachable!("the grammar yields no sink statement {rule:?}"),
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    fn trigger_bound(&mut self, pair: Pair<Rule>) -> Spanned<TriggerBound> {
        let bound_span = span(&pair);
        let inner = first(pair.into_inner());
        let node = match inner.as_rule() {
            Rule::duration => TriggerBound::Duration(self.duration(inner)),
            _ => TriggerBound::Rows(self.integer(first(content(inner))).node),
        };
        Spanned {
            node,
            span: bound_span,
        }
    }

    fn duration(&mut self, pair: Pair<Rule>) -> Duration {
        let text = pair.as_str();
        let digits_end = text
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let unit = match &text[digits_end..] {
            "ms" => DurationUnit::Millis,
            "s" => DurationUnit::Seconds,
            "m" => DurationUnit::Minutes,
            "h" => DurationUnit::Hours,
            _ => DurationUnit::Days,
        };
        let amount = self.parse_i64(&text[..digits_end], span(&pair));
        Duration { amount, unit }
    }

    fn byte_size(&mut self, pair: Pair<Rule>) -> ByteSize {
        let text = pair.as_str();
        let digits_end = text.len() - 2;
        let unit = match &text[digits_end..] {
            "KB" => 1 << 10,
            "MB" => 1 << 20,
            _ => 1 << 30,
        };
        let amount = self.parse_i64(&text[..digits_end], span(&pair));
        ByteSize { amount, unit }
    }

    fn table_stmt(&mut self, pair: Pair<Rule>) -> Spanned<TableStmt> {
        let stmt_span = span(&pair);
        let node = match pair.as_rule() {
            Rule::table_from => TableStmt::From(name(first(content(pair)))),
            Rule::table_columns => TableStmt::Columns(name_list(first(content(pair)))),
            Rule::table_location => TableStmt::Location(self.string(first(content(pair)))),
            Rule::table_partitioned => TableStmt::PartitionedBy(name_list(first(content(pair)))),
            Rule::table_properties => TableStmt::Properties(
                content(pair)
                    .map(|property| {
                        let mut inner = content(property);
                        let key = self.string(first(&mut inner));
                        let value = self.string(first(&mut inner));
                        (key, value)
                    })
                    .collect(),
            ),
            rule => unreachable!("the grammar yields no table statement {rule:?}"),
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    // ------------------------------------------------------- literals --

    fn string(&mut self, pair: Pair<Rule>) -> StringLit {
        debug_assert_eq!(pair.as_rule(), Rule::string);
        let string_span = span(&pair);
        let mut value = String::new();
        let mut escaped_dollars = Vec::new();
        for part in pair.into_inner() {
            let text = part.as_str();
            match part.as_rule() {
                Rule::string_text => value.push_str(text),
                Rule::string_escape => match unescape(text) {
                    Some(c) => {
                        if text == "\\$" {
                            escaped_dollars.push(value.len());
                        }
                        value.push(c)
                    }
                    None => self.diagnostics.push(
                        Diagnostic::new(
                            Code::BadEscape,
                            span(&part),
                            format!("`{text}` is not a character"),
                        )
                        .with_label("no character has this code")
                        .with_help("a `\\u{...}` escape takes a Unicode scalar value in hex"),
                    ),
                },
                _ => self.diagnostics.push(
                    Diagnostic::new(
                        Code::BadEscape,
                        span(&part),
                        format!("unknown escape `{text}` in a string"),
                    )
                    .with_label("not an escape")
                    .with_help(
                        "strings know `\\n`, `\\t`, `\\r`, `\\0`, `\\\"`, `\\\\`, `\\$` and `\\u{...}`; write `\\\\` for a backslash",
                    ),
                ),
            }
        }
        StringLit {
            value,
            span: string_span,
            escaped_dollars,
        }
    }

    fn integer(&mut self, pair: Pair<Rule>) -> Spanned<i64> {
        let int_span = span(&pair);
        Spanned {
            node: self.parse_i64(pair.as_str(), int_span),
            span: int_span,
        }
    }

    fn parse_i64(&mut self, text: &str, at: Span) -> i64 {
        text.parse().unwrap_or_else(|_| {
            self.diagnostics.push(
                Diagnostic::new(Code::BadNumber, at, format!("`{text}` is too large"))
                    .with_label("does not fit in a 64-bit integer"),
            );
            0
        })
    }

    fn float(&mut self, pair: Pair<Rule>) -> f64 {
        match pair.as_str().parse::<f64>() {
            Ok(value) if value.is_finite() => value,
            _ => {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::BadNumber,
                        span(&pair),
                        format!("`{}` is out of range", pair.as_str()),
                    )
                    .with_label("not a finite 64-bit float"),
                );
                0.0
            }
        }
    }

    fn literal(&mut self, pair: Pair<Rule>) -> Spanned<Literal> {
        let literal_span = span(&pair);
        let inner = first(pair.into_inner());
        let node = match inner.as_rule() {
            Rule::string => Literal::String(self.string(inner).value),
            Rule::integer => Literal::Int(self.integer(inner).node),
            Rule::float => Literal::Float(self.float(inner)),
            Rule::boolean => Literal::Bool(inner.as_str() == "true"),
            _ => Literal::Null,
        };
        Spanned {
            node,
            span: literal_span,
        }
    }
}

fn first<'i>(mut pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Pair<'i, Rule> {
    pairs
        .next()
        .expect("the grammar guarantees this element is present")
}

/// A `name`, or directly one of its two forms.
fn name(pair: Pair<Rule>) -> Name {
    let name_span = span(&pair);
    let inner = match pair.as_rule() {
        Rule::name => first(pair.into_inner()),
        _ => pair,
    };
    match inner.as_rule() {
        Rule::quoted_name => Name {
            text: first(inner.into_inner()).as_str().to_string(),
            span: name_span,
            quoted: true,
        },
        _ => Name {
            text: inner.as_str().to_string(),
            span: name_span,
            quoted: false,
        },
    }
}

fn name_list(pair: Pair<Rule>) -> Vec<Name> {
    content(pair).map(name).collect()
}

fn qualified_name(pair: Pair<Rule>) -> (Option<Name>, Name) {
    let mut names: Vec<Name> = content(pair).map(name).collect();
    let last = names.pop().expect("a qualified name has a name");
    (names.pop(), last)
}

fn unescape(escape: &str) -> Option<char> {
    Some(match &escape[1..] {
        "n" => '\n',
        "t" => '\t',
        "r" => '\r',
        "0" => '\0',
        "\"" => '"',
        "\\" => '\\',
        "$" => '$',
        hex => {
            return u32::from_str_radix(&hex[2..hex.len() - 1], 16)
                .ok()?
                .try_into()
                .ok()
        }
    })
}

#[cfg(test)]
mod tests;
