//! `test` blocks: each request answered by a declared endpoint, each message
//! sent to a declared topic, each expectation on a table that exists. The
//! rows they expect are checked in `rows`.

mod rows;

use super::settings::Slot;
use super::{endpoint, Checker, Declared, Scope};
use crate::ast::{self, Ast, Declaration, JsonValue, Payload, RequestStmt, TestStmt, TextPattern};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::plan::{self, Method, Ref};
use crate::source::Span;
use crate::test_plan::{
    ExpectedResponse, Given, PipelineTest, TestMessage, TestRequest, TextMatch,
};

/// What the tests refer to, checked before them.
pub(super) struct Built<'p> {
    pub(super) ast: &'p Ast,
    pub(super) topics: &'p Declared<'p, ast::TopicDecl>,
    pub(super) scope: &'p Scope<'p>,
    pub(super) endpoints: &'p [plan::Endpoint],
    pub(super) sinks: &'p [plan::Sink],
    pub(super) tables: &'p [plan::Table],
    pub(super) dead_letters: &'p plan::DeadLetters,
}

impl Checker<'_> {
    pub(super) fn tests(&mut self, built: &Built) -> Vec<PipelineTest> {
        let decls: Vec<&ast::TestDecl> = built
            .ast
            .declarations
            .iter()
            .filter_map(|d| match d {
                Declaration::Test(t) => Some(t),
                _ => None,
            })
            .collect();
        let declared = Declared::collect(self, "test", decls.iter().map(|d| (&d.name, *d)));
        // A test of a repeated name is still checked, then left out.
        decls
            .into_iter()
            .filter_map(|decl| {
                let test = self.test(decl, built);
                let kept = declared
                    .items
                    .iter()
                    .any(|(_, first)| std::ptr::eq(*first, decl));
                kept.then_some(test)
            })
            .collect()
    }

    fn test(&mut self, decl: &ast::TestDecl, built: &Built) -> PipelineTest {
        let mut given = Vec::new();
        let mut expect = Vec::new();
        let mut checks_something = false;
        for statement in &decl.statements {
            match &statement.node {
                TestStmt::Request(request) => {
                    checks_something |= request
                        .statements
                        .iter()
                        .any(|s| matches!(s.node, RequestStmt::Expect { .. }));
                    if let Some(request) = self.test_request(request, built) {
                        given.push(Given::Request(request));
                    }
                }
                TestStmt::Message(message) => {
                    if let Some(message) = self.test_message(message, statement.span, built) {
                        given.push(Given::Message(message));
                    }
                }
                TestStmt::Expect(expectation) => {
                    checks_something = true;
                    if let Some(expectation) = self.table_expectation(expectation, built) {
                        expect.push(expectation);
                    }
                }
            }
        }
        if !checks_something {
            self.report(
                Diagnostic::new(
                    Code::EmptyTest,
                    decl.name.span,
                    format!("test `{}` checks nothing", decl.name.text),
                )
                .with_label("no `expect` in this test")
                .with_help(
                    "expect rows in a table (`expect my_table { row { ... } }`, `expect my_table empty`) or a response (`expect 200` in a request's block)",
                ),
            );
        }
        PipelineTest {
            name: decl.name.text.clone(),
            span: decl.name.span,
            given,
            expect,
        }
    }

    fn test_request(&mut self, decl: &ast::TestRequestDecl, built: &Built) -> Option<TestRequest> {
        let method = self.method(&decl.method);
        let mut headers = Vec::new();
        let mut query = Vec::new();
        let mut body = Slot::new("body");
        let mut expect = Slot::new("expect");
        for statement in &decl.statements {
            match &statement.node {
                RequestStmt::Header { name, value } => {
                    self.check_test_header(name, value);
                    headers.push((name.value.clone(), value.value.clone()));
                }
                RequestStmt::Bearer(token) => {
                    let value = format!("Bearer {}", token.value);
                    if is_header_value(&value) {
                        headers.push(("Authorization".to_string(), value));
                    } else {
                        self.report(bad_header_value(token.span));
                    }
                }
                RequestStmt::Query { name, value } => {
                    query.push((name.value.clone(), value.value.clone()))
                }
                RequestStmt::Body(payload) => body.set(self, payload, statement.span),
                RequestStmt::Expect { status, body } => {
                    expect.set(self, (status, body), statement.span)
                }
            }
        }
        let endpoint = method.and_then(|method| self.route(method, decl, built));
        if let (Some(endpoint), Some(span)) = (endpoint, body.span()) {
            if !endpoint.json_body {
                self.report(
                    Diagnostic::new(
                        Code::BadTestRequest,
                        span,
                        format!(
                            "endpoint {} {} reads no body",
                            endpoint.method.as_str(),
                            endpoint.path
                        ),
                    )
                    .with_label("this body would be ignored")
                    .with_help(if endpoint.method.accepts_body() {
                        "add `body json` to the endpoint, or remove the body here"
                    } else {
                        "remove the body: the endpoint sets its fields from the path, query and headers"
                    }),
                );
            }
        }
        let response_span = expect.span();
        let expected = match expect.take() {
            Some((status, pattern)) => Some(self.expected_response(
                status,
                pattern.as_ref(),
                response_span.unwrap_or(decl.head),
            )?),
            None => None,
        };
        Some(TestRequest {
            method: method?,
            path: decl.path.value.clone(),
            headers,
            query,
            body: body.take().map(payload_text),
            expect: expected,
            span: decl.head,
        })
    }

    fn check_test_header(&mut self, name: &ast::StringLit, value: &ast::StringLit) {
        if !endpoint::is_header_name(&name.value) {
            self.report(
                Diagnostic::new(
                    Code::BadTestRequest,
                    name.span,
                    format!("`{}` is not an HTTP header name", name.value),
                )
                .with_label("invalid header name")
                .with_help("header names are letters, digits and `-`, such as `User-Agent`"),
            );
        }
        if !is_header_value(&value.value) {
            self.report(bad_header_value(value.span));
        }
    }

    /// The endpoint answering the request, or an error saying which routes
    /// exist.
    fn route<'p>(
        &mut self,
        method: Method,
        decl: &ast::TestRequestDecl,
        built: &Built<'p>,
    ) -> Option<&'p plan::Endpoint> {
        let path = &decl.path.value;
        if let Some(found) = built
            .endpoints
            .iter()
            .find(|e| e.method == method && &e.path == path)
        {
            return Some(found);
        }
        // An endpoint declared with errors of its own: those say enough.
        let declared = built.ast.declarations.iter().any(|d| {
            matches!(d, Declaration::Endpoint(e) if e.method.text == method.as_str() && &e.path.value == path)
        });
        if declared {
            return None;
        }
        let wanted = format!("{} {path}", method.as_str());
        let routes: Vec<String> = built
            .endpoints
            .iter()
            .map(|e| format!("{} {}", e.method.as_str(), e.path))
            .collect();
        let other_methods: Vec<&str> = built
            .endpoints
            .iter()
            .filter(|e| &e.path == path)
            .map(|e| e.method.as_str())
            .collect();
        let without_query = path.split_once('?').map(|(p, _)| p);
        let help = if !other_methods.is_empty() {
            format!(
                "`{path}` answers {}: write `request {} \"{path}\"`",
                or_list(&other_methods),
                other_methods[0]
            )
        } else if let Some(bare) = without_query {
            format!(
                "write the path without its query (`request {} \"{bare}\"`) and each parameter as `query \"name\" = \"value\"` in the request's block",
                method.as_str()
            )
        } else if let Some(near) = closest(&wanted, routes.iter().map(String::as_str)) {
            format!("did you mean `{near}`?")
        } else if routes.is_empty() {
            "this file declares no endpoint".to_string()
        } else if routes.len() <= 8 {
            let listed: Vec<String> = routes.iter().map(|r| format!("`{r}`")).collect();
            format!("the endpoints are {}", listed.join(", "))
        } else {
            "a test's requests go to the file's endpoints".to_string()
        };
        self.report(
            Diagnostic::new(
                Code::UnknownRoute,
                decl.method.span.to(decl.path.span),
                format!("no endpoint answers {wanted}"),
            )
            .with_label("not a route of this pipeline")
            .with_help(help),
        );
        None
    }

    fn expected_response(
        &mut self,
        status: &ast::Spanned<i64>,
        pattern: Option<&TextPattern>,
        span: Span,
    ) -> Option<ExpectedResponse> {
        let mut ok = true;
        if !(100..=599).contains(&status.node) {
            self.report(
                Diagnostic::new(
                    Code::BadTestRequest,
                    status.span,
                    format!("`{}` is not an HTTP status", status.node),
                )
                .with_label("expected 100 to 599")
                .with_help("an HTTP status is a number from 100 to 599, such as `200` or `400`"),
            );
            ok = false;
        }
        let body = match pattern {
            None => None,
            Some(TextPattern::Equals(text)) => Some(TextMatch::Equals(text.value.clone())),
            Some(TextPattern::Contains(text)) => Some(TextMatch::Contains(text.value.clone())),
            Some(TextPattern::Matches(pattern)) => {
                ok &= self.check_pattern(pattern);
                Some(TextMatch::Matches(pattern.value.clone()))
            }
        };
        ok.then_some(ExpectedResponse {
            status: status.node as u16,
            body,
            span,
        })
    }

    /// Whether `matches "..."` compiles; an error if it does not.
    pub(super) fn check_pattern(&mut self, pattern: &ast::StringLit) -> bool {
        let Err(error) = regex::Regex::new(&pattern.value) else {
            return true;
        };
        let reason = match &error {
            regex::Error::Syntax(text) => text
                .lines()
                .find_map(|line| line.strip_prefix("error: "))
                .unwrap_or("not a regular expression")
                .to_string(),
            regex::Error::CompiledTooBig(_) => "the pattern is too large".to_string(),
            _ => error.to_string(),
        };
        self.report(
            Diagnostic::new(
                Code::BadPattern,
                pattern.span,
                "this pattern is not a regular expression",
            )
            .with_label(reason)
            .with_help(
                "patterns are Rust `regex` syntax (`\\\\.` for a literal dot); `contains \"...\"` compares plain text",
            ),
        );
        false
    }

    fn test_message(
        &mut self,
        decl: &ast::TestMessageDecl,
        span: Span,
        built: &Built,
    ) -> Option<TestMessage> {
        let Some(index) = built.topics.index_of(&decl.topic.text) else {
            self.unknown(
                Code::UnknownTopic,
                "topic",
                &decl.topic,
                built.topics.names(),
            );
            return None;
        };
        Some(TestMessage {
            topic: Ref::new(index, decl.topic.text.clone()),
            key: decl.key.as_ref().map(|k| k.value.clone()),
            payload: payload_text(&decl.payload),
            span,
        })
    }
}

fn bad_header_value(span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::BadTestRequest,
        span,
        "a header value cannot hold control characters",
    )
    .with_label("not sendable in an HTTP header")
    .with_help(
        "remove the line breaks and other control characters (`\\n`, `\\r`, `\\0`) from the value",
    )
}

/// RFC 9110 field values: visible characters, spaces and tabs (and any
/// non-ASCII, which HTTP passes as opaque bytes).
fn is_header_value(value: &str) -> bool {
    value
        .chars()
        .all(|c| c == ' ' || c == '\t' || !c.is_ascii() || c.is_ascii_graphic())
}

/// "`A`", "`A` or `B`", "`A`, `B` or `C`".
fn or_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The bytes a request or message carries: compact JSON, keys in the order
/// written, or the string as written.
fn payload_text(payload: &Payload) -> String {
    match payload {
        Payload::Text(text) => text.value.clone(),
        Payload::Json(value) => {
            let mut out = String::new();
            write_json(&value.node, &mut out);
            out
        }
    }
}

fn write_json(value: &JsonValue, out: &mut String) {
    let string = |s: &str| serde_json::to_string(s).expect("a string always serialises");
    match value {
        JsonValue::Object(members) => {
            out.push('{');
            for (i, (key, member)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&string(key));
                out.push(':');
                write_json(member, out);
            }
            out.push('}');
        }
        JsonValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        JsonValue::String(s) => out.push_str(&string(s)),
        JsonValue::Int(i) => out.push_str(&i.to_string()),
        JsonValue::Float(f) => {
            out.push_str(&serde_json::to_string(f).expect("a finite float serialises"))
        }
        JsonValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JsonValue::Null => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests;
