use super::*;
use pipec_compiler::{compile, Plan, Source};
use std::collections::BTreeMap;

fn plan(text: &str) -> Plan {
    let env = BTreeMap::new();
    match compile(&Source::new("t.pipe", text), &env) {
        Ok(checked) => checked.plan,
        Err(d) => panic!("{d:?}"),
    }
}

const SEED: &str = include_str!("../../../pipelines/game_events.pipe");

const SHOP: &str = r#"
schema purchase {
  order_id:    string
  quantity:    int
  price:       float?
  gift:        bool?
  placed_at:   timestamp?
  received_at: timestamp
  request_id:  string
  client:      string? from "User-Agent"
}
topic purchases { schema purchase
  key order_id }
endpoint POST "/buy" {
  into purchases
  body json
  set received_at = received_time
  set request_id = request_id
  headers "User-Agent"
}
endpoint GET "/buy" {
  into purchases
  set order_id = query "order"
  set quantity = query "qty"
  set gift = header "X-Gift"
  set received_at = received_time
  set request_id = request_id
}
"#;

fn build(plan: &Plan, endpoint: usize, request: &RequestParts) -> Result<Vec<Json>, RequestError> {
    let endpoint = &plan.endpoints[endpoint];
    let topic = plan.topic(&endpoint.topic);
    let schema = plan.topic_schema(topic);
    let key_field = topic.key.as_ref().map(|k| schema.field(k));
    let mut ids = 0;
    let mut new_id = || {
        ids += 1;
        format!("id-{ids}")
    };
    let events = build_events(endpoint, schema, key_field, request, &mut new_id)?;
    Ok(events
        .into_iter()
        .map(|e| {
            let mut json: Json = serde_json::from_slice(&e.payload).unwrap();
            if let Some(key) = e.key {
                json["__key"] = Json::String(key);
            }
            json
        })
        .collect())
}

#[test]
fn the_seed_event_is_its_type_plus_every_header() {
    let plan = plan(SEED);
    let request = RequestParts {
        headers: vec![
            ("host", "user1.comcast.com".into()),
            ("user-agent", "ApacheBench/2.3".into()),
            ("accept", "*/*".into()),
        ],
        ..RequestParts::default()
    };
    let events = build(&plan, 1, &request).unwrap();
    assert_eq!(
        events,
        [serde_json::json!({
            "event_type": "purchase_sword",
            "Host": "user1.comcast.com",
            "User-Agent": "ApacheBench/2.3",
            "Accept": "*/*",
        })]
    );
}

#[test]
fn header_names_are_canonical_and_repeats_are_joined() {
    assert_eq!(canonical_header_name("x-forwarded-for"), "X-Forwarded-For");
    assert_eq!(canonical_header_name("HOST"), "Host");
    let plan = plan(SEED);
    let request = RequestParts {
        headers: vec![("x-trace", "a".into()), ("X-Trace", "b".into())],
        ..RequestParts::default()
    };
    let events = build(&plan, 0, &request).unwrap();
    assert_eq!(events[0]["X-Trace"], "a, b");
}

#[test]
fn a_json_batch_becomes_one_event_each_with_server_fields() {
    let plan = plan(SHOP);
    let body = br#"[{"order_id": "o1", "quantity": 2, "placed_at": "2020-08-02T22:49:11+02:00"},
                    {"order_id": "o2", "quantity": 1, "price": 3, "extra": [1]}]"#;
    let request = RequestParts {
        headers: vec![("user-agent", "curl".into()), ("accept", "*/*".into())],
        body: Some(body),
        received_at_micros: 1_000_000,
        ..RequestParts::default()
    };
    let events = build(&plan, 0, &request).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["placed_at"], "2020-08-02T20:49:11.000000Z");
    assert_eq!(events[0]["received_at"], "1970-01-01T00:00:01.000000Z");
    assert_eq!(events[0]["request_id"], "id-1");
    assert_eq!(events[1]["request_id"], "id-2");
    assert_eq!(events[0]["User-Agent"], "curl");
    assert!(
        events[0].get("Accept").is_none(),
        "only named headers are copied"
    );
    assert_eq!(
        events[1]["extra"],
        serde_json::json!([1]),
        "unknown keys are kept"
    );
    assert_eq!(events[0]["__key"], "o1");
}

#[test]
fn bad_bodies_name_the_problem() {
    let plan = plan(SHOP);
    let request = |body: &'static [u8]| RequestParts {
        body: Some(body),
        ..RequestParts::default()
    };
    let error = |body| build(&plan, 0, &request(body)).unwrap_err();
    assert_eq!(error(b"{").code(), "invalid_json");
    assert_eq!(error(b"  ").code(), "missing_body");
    assert_eq!(error(b"[]").code(), "empty_batch");
    assert_eq!(error(b"42").code(), "not_an_object");
    assert_eq!(
        error(br#"[{"order_id":"a","quantity":1}, 7]"#),
        RequestError::NotAnObject { index: Some(1) }
    );
    let wrong = error(br#"{"order_id": "a", "quantity": "2"}"#);
    assert_eq!(
        wrong.to_string(),
        "field `quantity` must be a whole number, not a string (\"2\")"
    );
    assert_eq!(
        error(br#"{"order_id": "a", "quantity": 2.5}"#).code(),
        "wrong_type"
    );
    assert_eq!(
        error(br#"[{"order_id": "a", "quantity": 1}, {"quantity": 1}]"#).to_string(),
        "event 1: required field `order_id` is missing"
    );
    assert_eq!(
        error(br#"{"order_id": null, "quantity": 1}"#).code(),
        "missing_field"
    );
    assert_eq!(
        error(br#"{"order_id": "a", "quantity": 1, "placed_at": "tomorrow"}"#).code(),
        "wrong_type"
    );
}

#[test]
fn query_and_header_values_take_their_field_types() {
    let plan = plan(SHOP);
    let request = RequestParts {
        headers: vec![("x-gift", "TRUE".into())],
        query: vec![("order".into(), "o9".into()), ("qty".into(), "3".into())],
        ..RequestParts::default()
    };
    let events = build(&plan, 1, &request).unwrap();
    assert_eq!(events[0]["quantity"], 3);
    assert_eq!(events[0]["gift"], true);

    let missing = RequestParts {
        query: vec![("order".into(), "o9".into())],
        ..RequestParts::default()
    };
    assert_eq!(
        build(&plan, 1, &missing).unwrap_err().to_string(),
        "required query parameter `qty` is missing"
    );
    let bad = RequestParts {
        query: vec![
            ("order".into(), "o9".into()),
            ("qty".into(), "three".into()),
        ],
        ..RequestParts::default()
    };
    assert_eq!(
        build(&plan, 1, &bad).unwrap_err().to_string(),
        "query parameter `qty` must be a whole number, not \"three\""
    );
    // An optional field whose header is absent is left out.
    let no_gift = RequestParts {
        query: vec![("order".into(), "o9".into()), ("qty".into(), "1".into())],
        ..RequestParts::default()
    };
    assert!(build(&plan, 1, &no_gift).unwrap()[0].get("gift").is_none());
}

#[test]
fn the_endpoint_s_own_values_win_over_the_body() {
    let plan = plan(SHOP);
    let request = RequestParts {
        body: Some(br#"{"order_id": "o1", "quantity": 1, "request_id": "spoofed"}"#),
        ..RequestParts::default()
    };
    assert_eq!(build(&plan, 0, &request).unwrap()[0]["request_id"], "id-1");
}
