//! How one HTTP request becomes events: pure, so every rule is unit-tested.
//!
//! An event is a JSON object keyed by the schema's field keys (the seed's
//! `log_to_kafka` merged the request headers into the event dict, so header
//! fields keep their HTTP names). Precedence, lowest first: copied headers,
//! the JSON body, the endpoint's own `set`s.

use pipec_compiler::plan::{Endpoint, Field, HeaderCapture, Schema, Value, ValueSource};
use pipec_compiler::time::{format_timestamp, parse_timestamp};
use pipec_compiler::types::DataType;
use serde_json::{Map, Value as Json};

/// What the event builder needs of a request.
#[derive(Debug, Default)]
pub struct RequestParts<'a> {
    /// Header names as received (any case) with their values.
    pub headers: Vec<(&'a str, String)>,
    /// Headers whose value is not UTF-8 text: refused if the event would
    /// copy them, rather than stored with replacement characters.
    pub non_utf8_headers: Vec<&'a str>,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The body of an endpoint that reads one.
    pub body: Option<&'a [u8]>,
    pub received_at_micros: i64,
}

/// One event ready for Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub key: Option<String>,
    pub payload: Vec<u8>,
}

/// A request that cannot become events: the client's mistake, answered 400.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request has no JSON body")]
    MissingBody,
    #[error("{}the body must be a JSON object (one event) or an array of objects", at(*.index))]
    NotAnObject { index: Option<usize> },
    #[error("the body is an empty array: send at least one event")]
    EmptyBatch,
    #[error("{}field `{field}` must be {expected}, not {found}", at(*.index))]
    WrongType {
        index: Option<usize>,
        field: String,
        expected: &'static str,
        found: String,
    },
    #[error("{}required field `{field}` is missing", at(*.index))]
    MissingField { index: Option<usize>, field: String },
    #[error("{}field `{field}` is not in schema `{schema}`, which takes no other fields", at(*.index))]
    ExtraField {
        index: Option<usize>,
        field: String,
        schema: String,
    },
    #[error("header `{name}` is not valid UTF-8 text")]
    NonUtf8Header { name: String },
    #[error("required {what} `{name}` is missing")]
    MissingInput { what: &'static str, name: String },
    #[error("{what} `{name}` must be {expected}, not {value:?}")]
    BadInput {
        what: &'static str,
        name: String,
        expected: &'static str,
        value: String,
    },
}

fn at(index: Option<usize>) -> String {
    index.map_or(String::new(), |i| format!("event {i}: "))
}

impl RequestError {
    /// A stable machine-readable name for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidJson(_) => "invalid_json",
            RequestError::MissingBody => "missing_body",
            RequestError::NotAnObject { .. } => "not_an_object",
            RequestError::EmptyBatch => "empty_batch",
            RequestError::WrongType { .. } => "wrong_type",
            RequestError::MissingField { .. } => "missing_field",
            RequestError::ExtraField { .. } => "extra_field",
            RequestError::NonUtf8Header { .. } => "invalid_header",
            RequestError::MissingInput { .. } => "missing_input",
            RequestError::BadInput { .. } => "bad_input",
        }
    }
}

/// The events of one request, validated against the schema.
pub fn build_events(
    endpoint: &Endpoint,
    schema: &Schema,
    key_field: Option<&Field>,
    request: &RequestParts,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Vec<Event>, RequestError> {
    refuse_non_utf8_headers(endpoint, request)?;
    let base = captured_headers(&endpoint.headers, schema, &request.headers)?;
    let bodies: Vec<BodyObject> = if endpoint.json_body {
        body_objects(request.body.unwrap_or_default(), schema)?
    } else {
        vec![(None, Map::new())]
    };
    let mut events = Vec::with_capacity(bodies.len());
    for (index, body) in bodies {
        let mut event = base.clone();
        event.extend(body);
        for assignment in &endpoint.fields {
            let field = schema.field(&assignment.field);
            if let Some(value) = assigned_value(field, &assignment.value, request, new_id)? {
                event.insert(field.key.clone(), value);
            }
        }
        for field in schema.fields.iter().filter(|f| !f.optional) {
            if event.get(&field.key).is_none_or(Json::is_null) {
                return Err(RequestError::MissingField {
                    index,
                    field: field.key.clone(),
                });
            }
        }
        let key = key_field.and_then(|f| match event.get(&f.key) {
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Null) | None => None,
            Some(other) => Some(other.to_string()),
        });
        let payload = serde_json::to_vec(&event).expect("a JSON map always serialises");
        events.push(Event { key, payload });
    }
    Ok(events)
}

/// Headers about the connection or the message framing, not the client's
/// data (RFC 9110 §7.6.1), and credentials: `headers all` leaves them out.
const NOT_COPIED_BY_ALL: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "authorization",
    "proxy-authorization",
];

/// Whether `headers all` copies the header (any case; no allocation: this
/// runs for every header of every request).
fn copied_by_all(name: &str) -> bool {
    !NOT_COPIED_BY_ALL
        .iter()
        .any(|skipped| skipped.eq_ignore_ascii_case(name))
}

/// A header the event would take whose value is not text is the client's
/// mistake: 400 with its name, never a value with replacement characters.
fn refuse_non_utf8_headers(
    endpoint: &Endpoint,
    request: &RequestParts,
) -> Result<(), RequestError> {
    for name in &request.non_utf8_headers {
        let copied = match &endpoint.headers {
            HeaderCapture::None => false,
            HeaderCapture::All => copied_by_all(name),
            HeaderCapture::Named(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        };
        let set = endpoint.fields.iter().any(|a| {
            matches!(&a.value, ValueSource::Header(header) if header.eq_ignore_ascii_case(name))
        });
        if copied || set {
            return Err(RequestError::NonUtf8Header {
                name: name.to_string(),
            });
        }
    }
    Ok(())
}

/// `User-Agent` for `user-agent`: the names Flask (Werkzeug) gave the seed's
/// events, and the keys schemas use for header fields.
pub fn canonical_header_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn header_field<'s>(schema: &'s Schema, header: &str) -> Option<&'s Field> {
    schema
        .fields
        .iter()
        .find(|f| f.key.eq_ignore_ascii_case(header))
}

fn captured_headers(
    capture: &HeaderCapture,
    schema: &Schema,
    headers: &[(&str, String)],
) -> Result<Map<String, Json>, RequestError> {
    let mut out = Map::new();
    let wanted = |name: &str| match capture {
        HeaderCapture::None => None,
        HeaderCapture::All if !copied_by_all(name) => None,
        HeaderCapture::All => Some(canonical_header_name(name)),
        HeaderCapture::Named(names) => names.iter().find(|n| n.eq_ignore_ascii_case(name)).cloned(),
    };
    for (name, value) in headers {
        let Some(mut key) = wanted(name) else {
            continue;
        };
        let field = header_field(schema, name);
        if let Some(field) = field {
            key = field.key.clone();
        }
        // A repeated header is one value, comma-joined, as HTTP defines it.
        let joined = match out.get(&key) {
            Some(Json::String(previous))
                if field.is_none_or(|f| f.data_type == DataType::String) =>
            {
                format!("{previous}, {value}")
            }
            _ => value.clone(),
        };
        let json = match field {
            Some(field) => from_text(field, &joined, "header", name)?,
            None => Json::String(joined),
        };
        out.insert(key, json);
    }
    Ok(out)
}

/// One object of a body, with its index when the body was a batch.
type BodyObject = (Option<usize>, Map<String, Json>);

fn body_objects(body: &[u8], schema: &Schema) -> Result<Vec<BodyObject>, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::MissingBody);
    }
    let parsed: Json =
        serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let objects: Vec<(Option<usize>, Json)> = match parsed {
        Json::Array(items) if items.is_empty() => return Err(RequestError::EmptyBatch),
        Json::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Some(i), v))
            .collect(),
        object @ Json::Object(_) => vec![(None, object)],
        _ => return Err(RequestError::NotAnObject { index: None }),
    };
    objects
        .into_iter()
        .map(|(index, value)| {
            let Json::Object(mut object) = value else {
                return Err(RequestError::NotAnObject { index });
            };
            if schema.reject_extra_fields {
                if let Some(extra) = object
                    .keys()
                    .find(|key| !schema.fields.iter().any(|f| &f.key == *key))
                {
                    return Err(RequestError::ExtraField {
                        index,
                        field: extra.clone(),
                        schema: schema.name.clone(),
                    });
                }
            }
            for field in &schema.fields {
                if let Some(value) = object.get_mut(&field.key) {
                    *value = from_json(field, std::mem::take(value), index)?;
                }
            }
            Ok((index, object))
        })
        .collect()
}

/// A body value checked against its field's type; timestamps normalised.
fn from_json(field: &Field, value: Json, index: Option<usize>) -> Result<Json, RequestError> {
    let ok = match (&value, field.data_type) {
        (Json::Null, _) => true,
        (Json::String(_), DataType::String) => true,
        (Json::Number(n), DataType::Int) => n.is_i64(),
        (Json::Number(_), DataType::Float) => true,
        (Json::Bool(_), DataType::Bool) => true,
        (Json::String(s), DataType::Timestamp) => {
            if let Some(micros) = parse_timestamp(s) {
                return Ok(Json::String(format_timestamp(micros)));
            }
            false
        }
        _ => false,
    };
    if ok {
        Ok(value)
    } else {
        Err(RequestError::WrongType {
            index,
            field: field.key.clone(),
            expected: expected(field.data_type),
            found: describe(&value),
        })
    }
}

fn expected(data_type: DataType) -> &'static str {
    match data_type {
        DataType::String => "a string",
        DataType::Int => "a whole number",
        DataType::Float => "a number",
        DataType::Bool => "true or false",
        DataType::Timestamp => {
            "an RFC 3339 time such as \"2020-08-02T22:49:11Z\" (numbers are not read as epoch times)"
        }
    }
}

/// `a string ("3")`: a JSON value's kind and how it starts, for messages.
pub(crate) fn describe(value: &Json) -> String {
    let text = value.to_string();
    let shown = if text.len() > 40 {
        format!("{}...", &text[..text.floor_char_boundary(40)])
    } else {
        text
    };
    let kind = match value {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    };
    format!("{kind} ({shown})")
}

/// Text from a header or query parameter, as the field's type.
fn from_text(
    field: &Field,
    text: &str,
    what: &'static str,
    name: &str,
) -> Result<Json, RequestError> {
    let bad = || RequestError::BadInput {
        what,
        name: name.to_string(),
        expected: expected(field.data_type),
        value: text.chars().take(80).collect(),
    };
    Ok(match field.data_type {
        DataType::String => Json::String(text.to_string()),
        DataType::Int => Json::from(text.trim().parse::<i64>().map_err(|_| bad())?),
        DataType::Float => {
            let value: f64 = text.trim().parse().map_err(|_| bad())?;
            serde_json::Number::from_f64(value)
                .map(Json::Number)
                .ok_or_else(bad)?
        }
        DataType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Json::Bool(true),
            "false" | "0" => Json::Bool(false),
            _ => return Err(bad()),
        },
        DataType::Timestamp => Json::String(format_timestamp(
            parse_timestamp(text.trim()).ok_or_else(bad)?,
        )),
    })
}

fn assigned_value(
    field: &Field,
    source: &ValueSource,
    request: &RequestParts,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Option<Json>, RequestError> {
    let from_input = |what: &'static str, name: &str, found: Option<&String>| match found {
        Some(text) => from_text(field, text, what, name).map(Some),
        None if field.optional => Ok(None),
        None => Err(RequestError::MissingInput {
            what,
            name: name.to_string(),
        }),
    };
    match source {
        ValueSource::Literal(value) => Ok(Some(literal(value))),
        ValueSource::Header(name) => {
            let found = request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            from_input("header", name, found)
        }
        ValueSource::Query(name) => {
            let found = request
                .query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v);
            from_input("query parameter", name, found)
        }
        ValueSource::ReceivedTime => Ok(Some(Json::String(format_timestamp(
            request.received_at_micros,
        )))),
        ValueSource::RequestId => Ok(Some(Json::String(new_id()))),
    }
}

fn literal(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.clone()),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        Value::Timestamp(micros) => Json::String(format_timestamp(*micros)),
        Value::Null => Json::Null,
    }
}

#[cfg(test)]
mod tests;
