//! What an editor asks of a pipeline file: the names it declares and every
//! place each is used (go to definition, find references, rename, the
//! outline), hover text and completions. Pure functions of the source, its
//! AST and, when the file checks, its plan; `pipec lsp` turns them into
//! Language Server Protocol messages.
//!
//! The index is built from the AST alone, so it works while the file has
//! type errors; only a syntax error (no AST) leaves the editor with the
//! last good index.

pub mod complete;
pub mod hover;

use crate::ast::{
    Ast, CellDecl, Declaration, EndpointStmt, Expr, ExprKind, Name, PartitionSpec, SinkStmt,
    TableStmt, TestStmt, TopicStmt,
};
use crate::source::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Schema,
    Field,
    Topic,
    Endpoint,
    Sink,
    Table,
    Test,
}

/// A declared name and where the file uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    /// The schema of a field.
    pub container: Option<String>,
    /// The name where it is declared.
    pub definition: Span,
    pub references: Vec<Span>,
}

#[derive(Debug, Clone, Default)]
pub struct Index {
    pub symbols: Vec<Symbol>,
    links: Links,
}

impl Index {
    /// The symbol whose definition or a reference covers `offset` (the
    /// end counts, so a cursor just after a name finds it).
    pub fn symbol_at(&self, offset: usize) -> Option<&Symbol> {
        let covers = |span: &Span| span.start <= offset && offset <= span.end;
        self.symbols
            .iter()
            .find(|s| covers(&s.definition) || s.references.iter().any(covers))
    }

    pub fn find(&self, kind: SymbolKind, name: &str) -> Option<&Symbol> {
        self.symbols
            .iter()
            .find(|s| s.kind == kind && s.name == name)
    }

    /// A field of `schema`, by the name a column or `set` uses: exact, else
    /// ignoring case (SQL's and Hive's rule for column names).
    pub fn field(&self, schema: &str, name: &str) -> Option<&Symbol> {
        let fields = || {
            self.symbols.iter().filter(move |s| {
                s.kind == SymbolKind::Field && s.container.as_deref() == Some(schema)
            })
        };
        fields()
            .find(|s| s.name == name)
            .or_else(|| fields().find(|s| s.name.eq_ignore_ascii_case(name)))
    }

    /// The fields of a schema, in the order declared.
    pub fn fields_of_schema(&self, schema: &str) -> Vec<&Symbol> {
        self.symbols
            .iter()
            .filter(|s| s.kind == SymbolKind::Field && s.container.as_deref() == Some(schema))
            .collect()
    }

    /// The fields events of a topic carry.
    pub fn fields_of_topic(&self, topic: &str) -> Vec<&Symbol> {
        self.links
            .schema_of_topic(topic)
            .map(|schema| self.fields_of_schema(schema))
            .unwrap_or_default()
    }

    /// The fields a sink reads.
    pub fn fields_of_sink(&self, sink: &str) -> Vec<&Symbol> {
        self.links
            .schema_of_sink(sink)
            .map(|schema| self.fields_of_schema(schema))
            .unwrap_or_default()
    }

    /// The fields behind a test's `expect` target (a table or a sink).
    pub fn fields_of_target(&self, target: &str) -> Vec<&Symbol> {
        self.links
            .sink_of_target(target)
            .map(|sink| self.fields_of_sink(sink))
            .unwrap_or_default()
    }

    /// The topic an endpoint (`METHOD /path`) or a sink names.
    pub fn topic_of_sink(&self, sink: &str) -> Option<&str> {
        Links::lookup(&self.links.sink_topic, sink)
    }

    /// The sink a table reads.
    pub fn sink_of_table(&self, table: &str) -> Option<&str> {
        self.links.sink_of_target(table)
    }

    fn reference(&mut self, kind: SymbolKind, name: &str, span: Span) {
        if let Some(symbol) = self
            .symbols
            .iter_mut()
            .find(|s| s.kind == kind && s.name == name)
        {
            symbol.references.push(span);
        }
    }

    fn field_reference(&mut self, schema: Option<&str>, name: &Name) {
        let Some(schema) = schema else { return };
        let Some(field) = self.field(schema, &name.text).map(|f| f.name.clone()) else {
            return;
        };
        if let Some(symbol) = self.symbols.iter_mut().find(|s| {
            s.kind == SymbolKind::Field && s.container.as_deref() == Some(schema) && s.name == field
        }) {
            symbol.references.push(name.span);
        }
    }
}

/// How declarations point at each other, by name, as the file wrote them.
#[derive(Debug, Clone, Default)]
struct Links {
    /// topic → schema
    topic_schema: Vec<(String, String)>,
    /// sink → topic
    sink_topic: Vec<(String, String)>,
    /// table (`name` and `db.name`) → sink
    table_sink: Vec<(String, String)>,
}

impl Links {
    fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn schema_of_topic(&self, topic: &str) -> Option<&str> {
        Self::lookup(&self.topic_schema, topic)
    }

    fn schema_of_sink(&self, sink: &str) -> Option<&str> {
        self.schema_of_topic(Self::lookup(&self.sink_topic, sink)?)
    }

    /// The sink a test's `expect` target reads: a table's, or a sink.
    fn sink_of_target(&self, target: &str) -> Option<&str> {
        let by_table = self
            .table_sink
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(target))
            .map(|(_, s)| s.as_str());
        by_table.or_else(|| {
            self.sink_topic
                .iter()
                .find(|(s, _)| s == target)
                .map(|(s, _)| s.as_str())
        })
    }
}

pub fn index(ast: &Ast) -> Index {
    let mut index = Index::default();
    let mut links = Links::default();
    let declare = |index: &mut Index, kind, name: &Name, container: Option<String>| {
        index.symbols.push(Symbol {
            kind,
            name: name.text.clone(),
            container,
            definition: name.span,
            references: Vec::new(),
        });
    };
    // Declarations first, so references may come before what they name.
    for declaration in &ast.declarations {
        match declaration {
            Declaration::Schema(schema) => {
                declare(&mut index, SymbolKind::Schema, &schema.name, None);
                for field in &schema.fields {
                    declare(
                        &mut index,
                        SymbolKind::Field,
                        &field.name,
                        Some(schema.name.text.clone()),
                    );
                }
            }
            Declaration::Topic(topic) => {
                declare(&mut index, SymbolKind::Topic, &topic.name, None);
                for statement in &topic.statements {
                    if let TopicStmt::Schema(schema) = &statement.node {
                        links
                            .topic_schema
                            .push((topic.name.text.clone(), schema.text.clone()));
                    }
                }
            }
            Declaration::Endpoint(endpoint) => index.symbols.push(Symbol {
                kind: SymbolKind::Endpoint,
                name: format!("{} {}", endpoint.method.text, endpoint.path.value),
                container: None,
                definition: endpoint.method.span.to(endpoint.path.span),
                references: Vec::new(),
            }),
            Declaration::Sink(sink) => {
                declare(&mut index, SymbolKind::Sink, &sink.name, None);
                for statement in &sink.statements {
                    if let SinkStmt::From(topic) = &statement.node {
                        links
                            .sink_topic
                            .push((sink.name.text.clone(), topic.text.clone()));
                    }
                }
            }
            Declaration::Table(table) => {
                declare(&mut index, SymbolKind::Table, &table.name, None);
                for statement in &table.statements {
                    if let TableStmt::From(sink) = &statement.node {
                        links
                            .table_sink
                            .push((table.name.text.clone(), sink.text.clone()));
                        if let Some(database) = &table.database {
                            links.table_sink.push((
                                format!("{}.{}", database.text, table.name.text),
                                sink.text.clone(),
                            ));
                        }
                    }
                }
            }
            Declaration::Test(test) => declare(&mut index, SymbolKind::Test, &test.name, None),
            Declaration::Pipeline(_) | Declaration::Kafka(_) | Declaration::DeadLetters(_) => {}
        }
    }
    for declaration in &ast.declarations {
        match declaration {
            Declaration::Topic(topic) => {
                for statement in &topic.statements {
                    match &statement.node {
                        TopicStmt::Schema(schema) => {
                            index.reference(SymbolKind::Schema, &schema.text, schema.span)
                        }
                        TopicStmt::Key(field) => {
                            let schema = links.schema_of_topic(&topic.name.text);
                            index.field_reference(schema, field);
                        }
                        TopicStmt::Partitions(_) => {}
                    }
                }
            }
            Declaration::Endpoint(endpoint) => {
                let topic = endpoint.statements.iter().find_map(|s| match &s.node {
                    EndpointStmt::Into(topic) => Some(topic),
                    _ => None,
                });
                if let Some(topic) = topic {
                    index.reference(SymbolKind::Topic, &topic.text, topic.span);
                }
                let schema = topic.and_then(|t| links.schema_of_topic(&t.text));
                for statement in &endpoint.statements {
                    if let EndpointStmt::Set { field, .. } = &statement.node {
                        index.field_reference(schema, field);
                    }
                }
            }
            Declaration::Sink(sink) => {
                let schema = links.schema_of_sink(&sink.name.text);
                for statement in &sink.statements {
                    match &statement.node {
                        SinkStmt::From(topic) => {
                            index.reference(SymbolKind::Topic, &topic.text, topic.span)
                        }
                        SinkStmt::Where(expr) => {
                            for column in columns_of(expr) {
                                index.field_reference(schema, column);
                            }
                        }
                        SinkStmt::Columns(names) => {
                            for name in names {
                                index.field_reference(schema, name);
                            }
                        }
                        SinkStmt::Partition(PartitionSpec::Column(name))
                        | SinkStmt::Partition(PartitionSpec::Date { column: name, .. }) => {
                            index.field_reference(schema, name)
                        }
                        _ => {}
                    }
                }
            }
            Declaration::Table(table) => {
                let sink = table.statements.iter().find_map(|s| match &s.node {
                    TableStmt::From(sink) => Some(sink),
                    _ => None,
                });
                if let Some(sink) = sink {
                    index.reference(SymbolKind::Sink, &sink.text, sink.span);
                }
                let schema = sink.and_then(|s| links.schema_of_sink(&s.text));
                for statement in &table.statements {
                    if let TableStmt::Columns(names) | TableStmt::PartitionedBy(names) =
                        &statement.node
                    {
                        for name in names {
                            index.field_reference(schema, name);
                        }
                    }
                }
            }
            Declaration::Test(test) => {
                for statement in &test.statements {
                    match &statement.node {
                        TestStmt::Message(message) => index.reference(
                            SymbolKind::Topic,
                            &message.topic.text,
                            message.topic.span,
                        ),
                        TestStmt::Expect(expect) => {
                            let target = expect.name.text.clone();
                            let qualified = expect
                                .database
                                .as_ref()
                                .map(|d| format!("{}.{target}", d.text));
                            let is_table = index.find(SymbolKind::Table, &target).is_some();
                            if is_table {
                                index.reference(SymbolKind::Table, &target, expect.name.span);
                            } else {
                                index.reference(SymbolKind::Sink, &target, expect.name.span);
                            }
                            let sink = links
                                .sink_of_target(qualified.as_deref().unwrap_or(&target))
                                .map(str::to_string);
                            let schema = sink.and_then(|s| links.schema_of_sink(&s));
                            for CellDecl { column, .. } in expect.rows.iter().flat_map(|r| &r.cells)
                            {
                                index.field_reference(schema, column);
                            }
                        }
                        TestStmt::Request(_) => {}
                    }
                }
            }
            _ => {}
        }
    }
    index.links = links;
    index
}

fn columns_of(expr: &Expr) -> Vec<&Name> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(expr) = stack.pop() {
        match &expr.node {
            ExprKind::Column(name) => out.push(name),
            ExprKind::Call { args, .. } => stack.extend(args),
            ExprKind::Not(inner) => stack.push(inner),
            ExprKind::Binary { lhs, rhs, .. } => {
                stack.push(lhs);
                stack.push(rhs);
            }
            ExprKind::IsNull { expr, .. } | ExprKind::InList { expr, .. } => stack.push(expr),
            ExprKind::Literal(_) => {}
        }
    }
    out
}

/// Whether `text` can be written as a plain name (no backticks).
pub fn is_plain_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use crate::Source;

    const SEED: &str = include_str!("../../../pipelines/game_events.pipe");

    fn seed_index() -> (Source, Index) {
        let source = Source::new("seed.pipe", SEED);
        let ast = parse(&source).unwrap();
        let index = index(&ast);
        (source, index)
    }

    #[test]
    fn a_topic_is_used_by_its_endpoints_sinks_and_test_messages() {
        let (source, index) = seed_index();
        let events = index.find(SymbolKind::Topic, "events").unwrap();
        assert_eq!(source.slice(events.definition), "events");
        // Three endpoints, two sinks and three test messages.
        assert_eq!(events.references.len(), 3 + 2 + 3, "{events:?}");
        for reference in &events.references {
            assert_eq!(source.slice(*reference), "events");
        }
    }

    #[test]
    fn a_field_is_found_in_set_where_and_test_rows() {
        let (source, index) = seed_index();
        let event_type = index.field("game_event", "event_type").unwrap();
        let lines: Vec<usize> = event_type
            .references
            .iter()
            .map(|r| source.position(r.start).line)
            .collect();
        let line_of = |needle: &str| {
            SEED.lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .unwrap()
        };
        assert!(lines.contains(&line_of("set     event_type = \"purchase_sword\"")));
        assert!(lines.contains(&line_of("where      event_type == \"purchase_sword\"")));
        assert!(lines.contains(&line_of(
            "row { event_type = \"join_guild\", Host = \"user2.att.com\""
        )));
        // `Host` in a test row names the field `Host`.
        let host = index.field("game_event", "host").unwrap();
        assert_eq!(host.name, "Host");
        assert!(!host.references.is_empty());
    }

    #[test]
    fn the_symbol_under_the_cursor_is_found_at_either_end() {
        let (_, index) = seed_index();
        let sink = index.find(SymbolKind::Sink, "guild_joins").unwrap();
        let reference = sink.references[0];
        assert_eq!(
            index.symbol_at(reference.start).unwrap().name,
            "guild_joins"
        );
        assert_eq!(index.symbol_at(reference.end).unwrap().name, "guild_joins");
        assert!(is_plain_name("guild_joins") && !is_plain_name("User-Agent"));
    }
}
