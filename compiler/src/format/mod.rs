//! `pipec fmt`: a file in pipec's one canonical layout.
//!
//! The formatter moves tokens, never rewrites them. A small lexer
//! ([`lex`]) cuts each line into tokens (strings with their escapes,
//! backtick names, numbers, punctuation) and its comment; every token is
//! copied to the output byte for byte, so string contents, escapes, numbers
//! and names cannot change. Only the whitespace between tokens is chosen
//! ([`layout`]), and line breaks are the author's: a statement written over
//! several lines keeps its breaks, two statements on one line stay on it.
//! Newlines are whitespace to the grammar, so none of this changes what the
//! file means.
//!
//! The parse does two jobs: a file that does not parse is refused with its
//! diagnostics (there is no layout for text the grammar cannot read), and
//! the AST's spans say where each statement starts, which a lexer alone
//! cannot tell in a `where` expression spread over lines. Everything else
//! (which block a brace opens, how deep a line is) follows from the tokens.
//!
//! Before answering, the result is checked: it must lex to the same tokens
//! and comments and parse again. If it did not, that would be a bug here;
//! the file is then returned unchanged (and debug builds panic), so
//! formatting can never damage a file.
//!
//! The layout rules are listed on [`format`].

mod layout;
mod lex;
#[cfg(test)]
mod tests;

use crate::ast::{Ast, Declaration, TableStmt, TestStmt};
use crate::{parse, Diagnostics, Source};
use std::collections::HashSet;

/// The file in pipec's one canonical layout, or the syntax errors that stop it from being formatted.
///
/// The layout:
/// - two spaces of indentation per open block, `{` `}` of declarations,
///   `request` blocks, `expect` rows, a `row` written over lines,
///   `properties`; a line that closes a bracket first sits where the line
///   that opened it does; a line continuing a statement is indented two
///   more;
/// - inside a JSON value or a list (`[...]`, `(...)`) spread over lines,
///   the lines sit two spaces in from the opening line, or, when the
///   bracket is followed by text on its own line, under that text (as in
///   `body json { "a": 1,` / `            "b": 2 }`);
/// - one space between tokens, none before `,` `:` `?` `)` `]`, none after
///   `(` `[`, none around `.`, none between a function and its `(`, `{}`
///   for an empty block;
/// - in a block, a run of one-line statements (not broken by a blank line,
///   a comment line or a statement over several lines) aligns its values
///   in a column one space after its longest keyword (`partitioned by` is
///   one keyword, a schema field's is `name:`, a row's cell's is its
///   column), the `=` of `set`, request `header` and `query`, and
///   `properties` lines, and its trailing comments, two spaces after its
///   longest commented line. `test` and `request` blocks align only those
///   `=`: their statements differ too much to share a column. A field's
///   `from "key"` follows its type after two spaces;
/// - a comment on its own line keeps its line, at the indentation of the
///   code that follows it; a trailing comment stays on its line, two spaces
///   after the code unless a run aligns it further;
/// - blank lines are the author's, at most one in a row, none at the start
///   or end of the file, after an opening bracket or before a closing one;
///   no trailing whitespace; one newline at the end.
pub fn format(source: &Source) -> Result<String, Diagnostics> {
    let ast = parse(source)?;
    let formatted = layout::layout(&lex::lines(&source.text), &statement_starts(&ast));
    let reparsed = parse(&Source::new(source.name.clone(), formatted.clone()));
    let same = lex::fingerprint(&formatted) == lex::fingerprint(&source.text);
    if same && reparsed.is_ok() {
        Ok(formatted)
    } else {
        debug_assert!(false, "formatting changed {}:\n{formatted}", source.name);
        Ok(source.text.clone())
    }
}

/// The byte offset where each statement inside a block starts: a line that
/// starts elsewhere continues the statement above it.
fn statement_starts(ast: &Ast) -> HashSet<usize> {
    let mut starts = HashSet::new();
    for declaration in &ast.declarations {
        match declaration {
            Declaration::Pipeline(_) => {}
            Declaration::Kafka(kafka) => {
                starts.extend(kafka.statements.iter().map(|s| s.span.start));
            }
            Declaration::Schema(schema) => {
                starts.extend(schema.fields.iter().map(|f| f.span.start));
                starts.extend(schema.extra_fields.iter().map(|e| e.span.start));
            }
            Declaration::Topic(topic) => {
                starts.extend(topic.statements.iter().map(|s| s.span.start));
            }
            Declaration::Endpoint(endpoint) => {
                starts.extend(endpoint.statements.iter().map(|s| s.span.start));
            }
            Declaration::Sink(sink) => {
                starts.extend(sink.statements.iter().map(|s| s.span.start));
            }
            Declaration::Table(table) => {
                for statement in &table.statements {
                    starts.insert(statement.span.start);
                    if let TableStmt::Properties(properties) = &statement.node {
                        starts.extend(properties.iter().map(|(key, _)| key.span.start));
                    }
                }
            }
            Declaration::DeadLetters(dead_letters) => {
                starts.extend(dead_letters.statements.iter().map(|s| s.span.start));
            }
            Declaration::Test(test) => {
                for statement in &test.statements {
                    starts.insert(statement.span.start);
                    match &statement.node {
                        TestStmt::Request(request) => {
                            starts.extend(request.statements.iter().map(|s| s.span.start));
                        }
                        TestStmt::Expect(expect) => {
                            for row in &expect.rows {
                                starts.insert(row.span.start);
                                starts.extend(row.cells.iter().map(|c| c.span.start));
                            }
                        }
                        TestStmt::Message(_) => {}
                    }
                }
            }
        }
    }
    starts
}
