//! `test` blocks: requests, messages, expected rows, and the JSON they carry.

use super::{content, first, name, qualified_name, span, tight_span, AstBuilder, Rule};
use crate::ast::*;
use pest::iterators::Pair;

impl AstBuilder {
    pub(super) fn test_decl(&mut self, pair: Pair<Rule>) -> TestDecl {
        let mut inner = content(pair);
        let test_name = name(first(&mut inner));
        let statements = inner.map(|s| self.test_stmt(s)).collect();
        TestDecl {
            name: test_name,
            statements,
        }
    }

    fn test_stmt(&mut self, pair: Pair<Rule>) -> Spanned<TestStmt> {
        let stmt_span = tight_span(&pair);
        let node = match pair.as_rule() {
            Rule::test_request => TestStmt::Request(self.test_request(pair)),
            Rule::test_message => {
                let mut topic = None;
                let mut key = None;
                let mut payload = None;
                for part in content(pair) {
                    match part.as_rule() {
                        Rule::name => topic = Some(name(part)),
                        Rule::message_key => key = Some(self.string(first(content(part)))),
                        _ => payload = Some(self.payload(part)),
                    }
                }
                TestStmt::Message(TestMessageDecl {
                    topic: topic.expect("a message names its topic"),
                    key,
                    payload: payload.expect("a message has a payload"),
                })
            }
            Rule::test_expect => TestStmt::Expect(self.table_expect(pair)),
            rule => unreachable!("the grammar yields no test statement {rule:?}"),
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    fn test_request(&mut self, pair: Pair<Rule>) -> TestRequestDecl {
        let keyword = span(&first(pair.clone().into_inner()));
        let mut inner = content(pair);
        let method_pair = first(&mut inner);
        let method = Name {
            text: method_pair.as_str().to_string(),
            span: span(&method_pair),
            quoted: false,
        };
        let path = self.string(first(&mut inner));
        let statements = inner
            .flat_map(content)
            .map(|s| self.request_stmt(s))
            .collect();
        TestRequestDecl {
            head: keyword.to(path.span),
            method,
            path,
            statements,
        }
    }

    fn request_stmt(&mut self, pair: Pair<Rule>) -> Spanned<RequestStmt> {
        let stmt_span = tight_span(&pair);
        let node = match pair.as_rule() {
            Rule::request_header | Rule::request_query => {
                let header = pair.as_rule() == Rule::request_header;
                let mut inner = content(pair);
                let name = self.string(first(&mut inner));
                let value = self.string(first(&mut inner));
                if header {
                    RequestStmt::Header { name, value }
                } else {
                    RequestStmt::Query { name, value }
                }
            }
            Rule::request_bearer => RequestStmt::Bearer(self.string(first(content(pair)))),
            Rule::request_body => RequestStmt::Body(self.payload(first(content(pair)))),
            Rule::request_expect => {
                let mut inner = content(pair);
                let status = self.integer(first(&mut inner));
                let body = inner.next().map(|p| self.text_pattern(p));
                RequestStmt::Expect { status, body }
            }
            rule => unreachable!("the grammar yields no request statement {rule:?}"),
        };
        Spanned {
            node,
            span: stmt_span,
        }
    }

    fn text_pattern(&mut self, pair: Pair<Rule>) -> TextPattern {
        let mut inner = pair.into_inner();
        let head = first(&mut inner);
        match head.as_rule() {
            Rule::kw_contains => TextPattern::Contains(self.string(first(inner))),
            Rule::kw_matches => TextPattern::Matches(self.string(first(inner))),
            _ => TextPattern::Equals(self.string(head)),
        }
    }

    fn payload(&mut self, pair: Pair<Rule>) -> Payload {
        let value = first(content(pair));
        match value.as_rule() {
            Rule::json_value => {
                let value_span = span(&value);
                Payload::Json(Spanned {
                    node: self.json_value(value),
                    span: value_span,
                })
            }
            _ => Payload::Text(self.string(value)),
        }
    }

    fn json_value(&mut self, pair: Pair<Rule>) -> JsonValue {
        let inner = first(pair.into_inner());
        match inner.as_rule() {
            Rule::json_object => JsonValue::Object(
                content(inner)
                    .map(|member| {
                        let mut parts = content(member);
                        let key = self.string(first(&mut parts)).value;
                        (key, self.json_value(first(parts)))
                    })
                    .collect(),
            ),
            Rule::json_array => {
                JsonValue::Array(content(inner).map(|v| self.json_value(v)).collect())
            }
            Rule::string => JsonValue::String(self.string(inner).value),
            Rule::integer => JsonValue::Int(self.integer(inner).node),
            Rule::float => JsonValue::Float(self.float(inner)),
            Rule::boolean => JsonValue::Bool(inner.as_str() == "true"),
            _ => JsonValue::Null,
        }
    }

    fn table_expect(&mut self, pair: Pair<Rule>) -> TableExpectDecl {
        let keyword = span(&pair.clone().into_inner().next().expect("keyword"));
        let mut head = keyword;
        let mut target = None;
        let mut mode = ExpectRows::Exactly;
        let mut rows = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::qualified_name => {
                    head = head.to(span(&part));
                    target = Some(qualified_name(part));
                }
                Rule::kw_empty => {
                    head = head.to(span(&part));
                    mode = ExpectRows::Empty;
                }
                Rule::rows_contains => {
                    let mut inner = part.into_inner();
                    head = head.to(span(&first(&mut inner)));
                    mode = ExpectRows::Contains;
                    rows = self.rows(first(inner));
                }
                Rule::rows_block => rows = self.rows(part),
                _ => {}
            }
        }
        let (database, name) = target.expect("an expectation names its table");
        TableExpectDecl {
            database,
            name,
            mode,
            rows,
            head,
        }
    }

    fn rows(&mut self, block: Pair<Rule>) -> Vec<RowDecl> {
        content(block)
            .map(|row| RowDecl {
                span: span(&row),
                cells: content(row).map(|cell| self.cell(cell)).collect(),
            })
            .collect()
    }

    fn cell(&mut self, pair: Pair<Rule>) -> CellDecl {
        let cell_span = span(&pair);
        let mut inner = pair.into_inner();
        let column = name(first(&mut inner));
        let test = first(inner);
        let matcher = match test.as_rule() {
            Rule::cell_equals => {
                // `any` is a keyword, which `content` would drop.
                let value = first(test.into_inner().skip(1));
                if value.as_rule() == Rule::kw_any {
                    CellMatcher::Any
                } else {
                    CellMatcher::Equals(self.literal(value))
                }
            }
            Rule::cell_contains => CellMatcher::Contains(self.string(first(content(test)))),
            _ => CellMatcher::Matches(self.string(first(content(test)))),
        };
        CellDecl {
            column,
            matcher,
            span: cell_span,
        }
    }
}
