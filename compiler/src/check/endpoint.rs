//! Endpoints: routes, the fields each one sets, and their responses.

use super::settings::Slot;
use super::{Checker, Declared, Scope};
use crate::ast::{self, Ast, Declaration, EndpointStmt, FieldValue, HeaderSelection, Literal};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::plan::{self, HeaderCapture, Method, Ref, Response, Secret, Value, ValueSource};
use crate::types::DataType;

/// Paths the runtime serves itself.
const RESERVED_PATHS: [&str; 3] = ["/metrics", "/sql", "/health"];
/// The prefix of the runtime's status page and whatever it serves later.
const RESERVED_PREFIX: &str = "/_pipec";

impl Checker<'_> {
    pub(super) fn endpoints(
        &mut self,
        ast: &Ast,
        topics: &Declared<ast::TopicDecl>,
        scope: &Scope,
    ) -> Vec<plan::Endpoint> {
        let mut endpoints: Vec<(plan::Endpoint, &ast::EndpointDecl)> = Vec::new();
        // (method, path) → index into `endpoints`.
        let mut routes: std::collections::HashMap<(Method, String), usize> =
            std::collections::HashMap::new();
        for decl in ast.declarations.iter().filter_map(|d| match d {
            Declaration::Endpoint(e) => Some(e),
            _ => None,
        }) {
            let Some(endpoint) = self.endpoint(decl, topics, scope) else {
                continue;
            };
            let route = (endpoint.method, endpoint.path.clone());
            if let Some((_, first)) = routes.get(&route).map(|&i| &endpoints[i]) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateRoute,
                        decl.method.span.to(decl.path.span),
                        format!(
                            "two endpoints answer {} {}",
                            endpoint.method.as_str(),
                            endpoint.path
                        ),
                    )
                    .with_label("this route is already taken")
                    .with_secondary(first.method.span.to(first.path.span), "first declared here")
                    .with_help("each method and path may have one endpoint"),
                );
                continue;
            }
            routes.insert(route, endpoints.len());
            endpoints.push((endpoint, decl));
        }
        endpoints.into_iter().map(|(e, _)| e).collect()
    }

    fn endpoint(
        &mut self,
        decl: &ast::EndpointDecl,
        topics: &Declared<ast::TopicDecl>,
        scope: &Scope,
    ) -> Option<plan::Endpoint> {
        let method = self.method(&decl.method);
        self.check_route_path(&decl.path);

        let mut into = Slot::new("into");
        let mut headers = Slot::new("headers");
        let mut body = Slot::new("body");
        let mut auth = Slot::new("auth");
        let mut respond = Slot::new("respond");
        let mut sets = Vec::new();
        for statement in &decl.statements {
            match &statement.node {
                EndpointStmt::Into(name) => into.set(self, name, statement.span),
                EndpointStmt::Headers(selection) => headers.set(self, selection, statement.span),
                EndpointStmt::BodyJson => body.set(self, (), statement.span),
                EndpointStmt::AuthBearer(token) => auth.set(self, token, statement.span),
                EndpointStmt::Respond { status, body } => {
                    respond.set(self, (status, body), statement.span)
                }
                EndpointStmt::Set { field, value } => sets.push((field, value, statement.span)),
            }
        }

        if let (Some(method), Some(span)) = (method, body.span()) {
            if !method.accepts_body() {
                self.report(
                    Diagnostic::new(
                        Code::BadEndpoint,
                        span,
                        format!("a {} request has no body to read", method.as_str()),
                    )
                    .with_label("`body json` needs POST, PUT or PATCH")
                    .with_help("use `endpoint POST ...`, or set fields from `query` or `header`"),
                );
            }
        }
        let auth = auth.get().and_then(|token| {
            let value = self.interpolate(token)?;
            if value.trim().is_empty() {
                self.report(
                    Diagnostic::new(Code::BadEndpoint, token.span, "the bearer token is empty")
                        .with_label("every request would need an empty token")
                        .with_help("set a token, for example `auth bearer \"${API_TOKEN}\"`"),
                );
                return None;
            }
            Some(Secret::new(value))
        });
        let response = match respond.get() {
            Some((status, body)) => {
                if !(200..=299).contains(&status.node) {
                    self.report(
                        Diagnostic::new(
                            Code::BadStatus,
                            status.span,
                            format!("`{}` is not a success status", status.node),
                        )
                        .with_label("expected 200 to 299")
                        .with_help(
                            "the response tells the client its event is stored; errors get their own 4xx and 503 answers",
                        ),
                    );
                }
                Response {
                    status: status.node.clamp(200, 299) as u16,
                    body: body.as_ref().map_or(String::new(), |b| b.value.clone()),
                }
            }
            None => Response {
                status: 200,
                body: String::new(),
            },
        };

        let topic_name = into.require(
            self,
            decl.method.span.to(decl.path.span),
            "the endpoint",
            "into my_topic",
        )?;
        let Some(topic_index) = topics.index_of(&topic_name.text) else {
            self.unknown(Code::UnknownTopic, "topic", topic_name, topics.names());
            return None;
        };
        let schema = scope.topic_schema(topic_index)?;

        let mut fields: Vec<plan::FieldAssignment> = Vec::new();
        let mut set_spans = Vec::new();
        for (field_name, value, span) in sets {
            let Some(index) = schema.fields.iter().position(|f| f.name == field_name.text) else {
                let help = match schema.fields.iter().find(|f| f.key == field_name.text) {
                    Some(f) => Some(format!(
                        "the field reading `{}` is named `{}`",
                        f.key, f.name
                    )),
                    None => closest(
                        &field_name.text,
                        schema.fields.iter().map(|f| f.name.as_str()),
                    )
                    .map(|c| format!("did you mean `{c}`?")),
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        field_name.span,
                        format!(
                            "schema `{}` has no field `{}`",
                            schema.name, field_name.text
                        ),
                    )
                    .with_label("not a field of the topic's schema")
                    .with_help_opt(help)
                    .with_help(format!(
                        "add `{}: ...` to schema `{}`",
                        field_name.text, schema.name
                    )),
                );
                continue;
            };
            if let Some((_, first)) = set_spans.iter().find(|(i, _)| *i == index) {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateSetting,
                        span,
                        format!("field `{}` is set twice", field_name.text),
                    )
                    .with_secondary(*first, "first set here"),
                );
                continue;
            }
            set_spans.push((index, span));
            let field = &schema.fields[index];
            if let Some(source) = self.value_source(field, value) {
                fields.push(plan::FieldAssignment {
                    field: Ref::new(index, field.name.clone()),
                    value: source,
                });
            }
        }

        let headers_span = headers.span();
        let headers = match headers.take() {
            None => HeaderCapture::None,
            Some(HeaderSelection::All) => {
                if schema.reject_extra_fields {
                    self.report(
                        Diagnostic::new(
                            Code::BadEndpoint,
                            headers_span.unwrap_or(decl.span),
                            format!(
                                "`headers all` copies every request header into the event, but schema `{}` refuses fields it does not name",
                                schema.name
                            ),
                        )
                        .with_label("would make every event carry extra fields")
                        .with_help("name the headers to copy, each read by a field of the schema: `headers \"Host\", \"User-Agent\"`"),
                    );
                }
                HeaderCapture::All
            }
            Some(HeaderSelection::Named(names)) => {
                for name in names {
                    self.check_header_name(name);
                    let read = schema
                        .fields
                        .iter()
                        .any(|f| f.key.eq_ignore_ascii_case(&name.value));
                    if schema.reject_extra_fields && !read {
                        let column: String = name
                            .value
                            .chars()
                            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                            .collect();
                        self.report(
                            Diagnostic::new(
                                Code::BadEndpoint,
                                name.span,
                                format!(
                                    "no field of schema `{}` reads the header `{}`, and the schema refuses extra fields",
                                    schema.name, name.value
                                ),
                            )
                            .with_label("would be an extra field in every event")
                            .with_help(format!(
                                "add a field for it (`{column}: string? from \"{}\"`), or leave it out",
                                name.value
                            )),
                        );
                    }
                }
                HeaderCapture::Named(names.iter().map(|n| n.value.clone()).collect())
            }
        };
        let json_body = body.get().is_some();
        for field in schema.fields.iter().filter(|f| !f.optional) {
            let set = set_spans
                .iter()
                .any(|(i, _)| schema.fields[*i].name == field.name);
            let from_headers = match &headers {
                HeaderCapture::All => true,
                HeaderCapture::Named(names) => {
                    names.iter().any(|n| n.eq_ignore_ascii_case(&field.key))
                }
                HeaderCapture::None => false,
            };
            if !(set || from_headers || json_body) {
                self.report(
                    Diagnostic::new(
                        Code::RequiredFieldNotSet,
                        decl.method.span.to(decl.path.span),
                        format!(
                            "this endpoint never sets the required field `{}`",
                            field.name
                        ),
                    )
                    .with_label(format!("events from here would lack `{}`", field.name))
                    .with_help(format!(
                        "set it (`set {} = ...`), or make it optional in schema `{}` (`{}: {}?`)",
                        field.name, schema.name, field.name, field.data_type
                    )),
                );
            }
        }

        Some(plan::Endpoint {
            method: method?,
            path: decl.path.value.clone(),
            topic: Ref::new(topic_index, topic_name.text.clone()),
            fields,
            headers,
            json_body,
            auth,
            response,
        })
    }

    pub(super) fn method(&mut self, name: &ast::Name) -> Option<Method> {
        if let Some(method) = Method::ALL.into_iter().find(|m| m.as_str() == name.text) {
            return Some(method);
        }
        let upper = name.text.to_ascii_uppercase();
        let help = match Method::ALL.into_iter().find(|m| m.as_str() == upper) {
            Some(m) => format!("methods are upper case: `{}`", m.as_str()),
            None => closest(&name.text, Method::ALL.iter().map(|m| m.as_str()))
                .map_or("methods are GET, POST, PUT, PATCH and DELETE".into(), |m| {
                    format!("did you mean `{m}`?")
                }),
        };
        self.report(
            Diagnostic::new(
                Code::UnknownValue,
                name.span,
                format!("`{}` is not an HTTP method", name.text),
            )
            .with_label("unknown method")
            .with_help(help),
        );
        None
    }

    fn check_route_path(&mut self, path: &ast::StringLit) {
        let value = &path.value;
        let problem = if !value.starts_with('/') {
            Some((
                "a path starts with `/`".to_string(),
                format!("write \"/{value}\""),
            ))
        } else if let Some(bad) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/-._~".contains(*c)))
        {
            Some((
                format!("`{bad}` cannot appear in an endpoint path"),
                "paths are letters, digits and `/ - . _ ~`; query parameters are read with `query \"name\"`".to_string(),
            ))
        } else if value.contains("//") {
            Some((
                "empty path segment `//`".to_string(),
                "remove the extra `/`".to_string(),
            ))
        } else if RESERVED_PATHS.contains(&value.as_str()) {
            Some((
                format!("pipec serves `{value}` itself"),
                "choose another path".to_string(),
            ))
        } else if value == RESERVED_PREFIX || value.starts_with(&format!("{RESERVED_PREFIX}/")) {
            Some((
                format!(
                    "pipec serves everything under `{RESERVED_PREFIX}/` itself (its status page)"
                ),
                "choose a path outside `/_pipec/`".to_string(),
            ))
        } else {
            None
        };
        if let Some((message, help)) = problem {
            self.report(
                Diagnostic::new(Code::BadEndpoint, path.span, message)
                    .with_label("invalid endpoint path")
                    .with_help(help),
            );
        }
    }

    fn check_header_name(&mut self, name: &ast::StringLit) {
        if !is_header_name(&name.value) {
            self.report(
                Diagnostic::new(
                    Code::BadEndpoint,
                    name.span,
                    format!("`{}` is not an HTTP header name", name.value),
                )
                .with_label("invalid header name")
                .with_help("header names are letters, digits and `-`, such as `User-Agent`"),
            );
        }
    }

    fn value_source(
        &mut self,
        field: &plan::Field,
        value: &ast::Spanned<FieldValue>,
    ) -> Option<ValueSource> {
        let expected = field.data_type;
        let mismatch = |found: &str| {
            Diagnostic::new(
                Code::ValueType,
                value.span,
                format!(
                    "field `{}` is {} {expected}, not {found}",
                    field.name,
                    article(expected)
                ),
            )
        };
        Some(match &value.node {
            FieldValue::Header(name) => {
                self.check_header_name(name);
                ValueSource::Header(name.value.clone())
            }
            FieldValue::Query(name) => ValueSource::Query(name.value.clone()),
            FieldValue::ReceivedTime => {
                if !matches!(expected, DataType::Timestamp | DataType::String) {
                    self.report(
                        mismatch("a time")
                            .with_label("`received_time` is a timestamp")
                            .with_help(format!("declare `{}: timestamp`", field.name)),
                    );
                    return None;
                }
                ValueSource::ReceivedTime
            }
            FieldValue::RequestId => {
                if expected != DataType::String {
                    self.report(
                        mismatch("an id")
                            .with_label("`request_id` is a string")
                            .with_help(format!("declare `{}: string`", field.name)),
                    );
                    return None;
                }
                ValueSource::RequestId
            }
            FieldValue::Literal(literal) => {
                let (value_type, converted) = match literal {
                    Literal::String(s) => (Some(DataType::String), Value::String(s.clone())),
                    Literal::Int(i) if expected == DataType::Float => {
                        (Some(DataType::Float), Value::Float(*i as f64))
                    }
                    Literal::Int(i) => (Some(DataType::Int), Value::Int(*i)),
                    Literal::Float(f) => (Some(DataType::Float), Value::Float(*f)),
                    Literal::Bool(b) => (Some(DataType::Bool), Value::Bool(*b)),
                    Literal::Null => (None, Value::Null),
                };
                match value_type {
                    None => {
                        self.report(
                            mismatch("null")
                                .with_label("an endpoint sets a value or leaves the field out")
                                .with_help(
                                    "remove this `set`; an optional field left unset is null",
                                ),
                        );
                        return None;
                    }
                    Some(DataType::String) if expected == DataType::Timestamp => {
                        let text = match &converted {
                            Value::String(s) => s,
                            _ => unreachable!("a string literal converts to a string"),
                        };
                        match crate::time::parse_timestamp(text) {
                            Some(micros) => ValueSource::Literal(Value::Timestamp(micros)),
                            None => {
                                self.report(
                                    mismatch("this text")
                                        .with_label("not an RFC 3339 time")
                                        .with_help("write a time such as \"2020-08-02T22:49:11Z\""),
                                );
                                return None;
                            }
                        }
                    }
                    Some(found) if found == expected => ValueSource::Literal(converted),
                    Some(found) => {
                        let help = (expected == DataType::String)
                            .then(|| format!("quote it: `\"{}\"`", self.source.slice(value.span)));
                        self.report(
                            mismatch(&format!("{} {found}", article(found)))
                                .with_label(format!("this is {} {found}", article(found)))
                                .with_help_opt(help),
                        );
                        return None;
                    }
                }
            }
        })
    }
}

/// An HTTP header name is a token: RFC 9110's `tchar`s, at least one.
pub(super) fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

pub(super) fn article(data_type: DataType) -> &'static str {
    match data_type {
        DataType::Int => "an",
        _ => "a",
    }
}
