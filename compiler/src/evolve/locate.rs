//! Where a plan's parts were written in the new file, for the spans of
//! changes. The plan keeps no spans, so each lookup goes back to the AST by
//! name; a part the new file no longer has gets no span.

use crate::ast::{
    Ast, Declaration, EndpointDecl, FieldDecl, SchemaDecl, SinkDecl, SinkStmt, TableDecl,
    TopicDecl, TopicStmt,
};
use crate::source::Span;

#[derive(Clone, Copy)]
pub(crate) struct Locate<'a> {
    ast: &'a Ast,
}

impl<'a> Locate<'a> {
    pub(crate) fn new(ast: &'a Ast) -> Self {
        Locate { ast }
    }

    fn declarations(&self) -> impl Iterator<Item = &'a Declaration> {
        self.ast.declarations.iter()
    }

    pub(crate) fn schema(&self, name: &str) -> Option<&'a SchemaDecl> {
        self.declarations().find_map(|d| match d {
            Declaration::Schema(s) if s.name.text == name => Some(s),
            _ => None,
        })
    }

    pub(crate) fn field(&self, schema: &str, field: &str) -> Option<&'a FieldDecl> {
        self.schema(schema)?
            .fields
            .iter()
            .find(|f| f.name.text == field)
    }

    /// The field's type as written: where a type change is seen.
    pub(crate) fn field_type(&self, schema: &str, field: &str) -> Option<Span> {
        self.field(schema, field).map(|f| f.type_name.span)
    }

    pub(crate) fn field_name(&self, schema: &str, field: &str) -> Option<Span> {
        self.field(schema, field).map(|f| f.name.span)
    }

    pub(crate) fn schema_name(&self, schema: &str) -> Option<Span> {
        self.schema(schema).map(|s| s.name.span)
    }

    pub(crate) fn topic(&self, name: &str) -> Option<&'a TopicDecl> {
        self.declarations().find_map(|d| match d {
            Declaration::Topic(t) if t.name.text == name => Some(t),
            _ => None,
        })
    }

    /// The schema a topic declares, by name.
    pub(crate) fn topic_schema(&self, topic: &str) -> Option<&'a str> {
        self.topic(topic)?
            .statements
            .iter()
            .find_map(|s| match &s.node {
                TopicStmt::Schema(name) => Some(name.text.as_str()),
                _ => None,
            })
    }

    pub(crate) fn topic_statement(
        &self,
        topic: &str,
        which: fn(&TopicStmt) -> bool,
    ) -> Option<Span> {
        let decl = self.topic(topic)?;
        decl.statements
            .iter()
            .find(|s| which(&s.node))
            .map(|s| s.span)
            .or(Some(decl.name.span))
    }

    pub(crate) fn topic_name(&self, topic: &str) -> Option<Span> {
        self.topic(topic).map(|t| t.name.span)
    }

    pub(crate) fn sink(&self, name: &str) -> Option<&'a SinkDecl> {
        self.declarations().find_map(|d| match d {
            Declaration::Sink(s) if s.name.text == name => Some(s),
            _ => None,
        })
    }

    pub(crate) fn sink_name(&self, sink: &str) -> Option<Span> {
        self.sink(sink).map(|s| s.name.span)
    }

    /// The sink's statement of one kind, else the sink's name (a setting
    /// left to its default is changed where the sink is declared).
    pub(crate) fn sink_statement(&self, sink: &str, which: fn(&SinkStmt) -> bool) -> Option<Span> {
        let decl = self.sink(sink)?;
        decl.statements
            .iter()
            .find(|s| which(&s.node))
            .map(|s| s.span)
            .or(Some(decl.name.span))
    }

    /// Where a sink's column is named: in its `columns` list, else in its
    /// `metadata` renames, else the sink's name.
    pub(crate) fn sink_column(&self, sink: &str, column: &str) -> Option<Span> {
        let decl = self.sink(sink)?;
        decl.statements
            .iter()
            .find_map(|s| match &s.node {
                SinkStmt::Columns(names) => names
                    .iter()
                    .find(|n| n.text == column)
                    .map(|n| n.span)
                    .or(Some(s.span)),
                SinkStmt::Metadata { alias, .. } if alias.text == column => Some(alias.span),
                _ => None,
            })
            .or(Some(decl.name.span))
    }

    pub(crate) fn endpoint(&self, method: &str, path: &str) -> Option<Span> {
        self.declarations().find_map(|d| match d {
            Declaration::Endpoint(EndpointDecl {
                method: m, path: p, ..
            }) if m.text.eq_ignore_ascii_case(method) && p.value == path => Some(m.span.to(p.span)),
            _ => None,
        })
    }

    pub(crate) fn table(&self, database: &str, name: &str) -> Option<Span> {
        self.declarations().find_map(|d| match d {
            Declaration::Table(TableDecl {
                database: db,
                name: n,
                ..
            }) if n.text.eq_ignore_ascii_case(name)
                && db
                    .as_ref()
                    .map_or("default", |db| db.text.as_str())
                    .eq_ignore_ascii_case(database) =>
            {
                Some(n.span)
            }
            _ => None,
        })
    }
}
