//! `pipec run` on the embedded broker, driven over HTTP, read back with kcat.

mod common;

use common::{kcat_read, Pipec};
use serde_json::json;

const STOREFRONT: &str = "examples/storefront.pipe";
const TOKEN: &str = "test-token-5b1e";

fn storefront() -> Pipec {
    Pipec::start_with_env(
        &[STOREFRONT, "--listen", "127.0.0.1:0"],
        &[("SHOP_API_TOKEN", TOKEN)],
    )
}

fn auth() -> (&'static str, String) {
    ("Authorization", format!("Bearer {TOKEN}"))
}

fn post_purchase(pipec: &Pipec, body: &str) -> common::http::Response {
    let (name, value) = auth();
    pipec.post(
        "/v1/purchases",
        &[(name, value.as_str()), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The README's first command, as written: the seed pipeline on the
/// embedded broker, on the seed's port.
#[test]
fn the_readme_command_serves_the_seed_endpoints() {
    let data = common::scratch("readme");
    let data_env = data.display().to_string();
    let pipec = Pipec::start_with_env(
        &["pipelines/game_events.pipe"],
        &[("PIPEC_DATA_DIR", &data_env)],
    );
    assert_eq!(pipec.addr.to_string(), "127.0.0.1:5000");
    assert!(
        pipec
            .banner
            .iter()
            .any(|l| l.contains("embedded broker at")),
        "{:#?}",
        pipec.banner
    );
    for (path, body) in [
        ("/", "This is the default response!\n"),
        ("/purchase_a_sword", "Sword Purchased!\n"),
        ("/join_a_guild", "Guild Joined!\n"),
    ] {
        let response = pipec.get(path, &[("Host", "user1.comcast.com")]);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), body);
    }
    let events = kcat_read(&pipec.bootstrap, "events");
    let types: Vec<_> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["default", "purchase_sword", "join_guild"]);
    assert!(events.iter().all(|e| e["Host"] == "user1.comcast.com"));
    let status = pipec.stop();
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    // The embedded broker forgets everything at exit, so the sinks read the
    // topic to its end and wrote it before the process stopped.
    let files = common::files_below(&data);
    let parquet = |table: &str| {
        files
            .iter()
            .filter(|f| f.starts_with(table) && f.ends_with(".parquet"))
            .count()
    };
    assert_eq!(parquet("sword_purchases/"), 1, "{files:#?}");
    assert_eq!(parquet("guild_joins/"), 1, "{files:#?}");
}

#[test]
fn a_valid_batch_is_acknowledged_and_lands_in_the_topic() {
    let pipec = storefront();
    let response = post_purchase(
        &pipec,
        r#"[{"order_id":"o1","customer_id":"c1","sku":"sword","quantity":1,"unit_price":9.5,"placed_at":"2020-08-02T22:49:11Z"},
            {"order_id":"o2","customer_id":"c2","sku":"shield","quantity":2,"unit_price":4,"placed_at":"2020-08-02T22:50:00Z"}]"#,
    );
    assert_eq!(response.status, 202, "{}", response.text());
    assert_eq!(response.text(), "accepted\n");
    let mut events = kcat_read(&pipec.bootstrap, "purchases");
    assert_eq!(events.len(), 2);
    // Keyed by customer, so the two may sit on different partitions.
    events.sort_by_key(|e| e["order_id"].as_str().unwrap().to_string());
    assert_eq!(events[1]["quantity"], 2);
    assert_eq!(events[0]["placed_at"], "2020-08-02T22:49:11.000000Z");
    let ids: std::collections::BTreeSet<_> = events
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "each event gets its own request id");
    assert!(events.iter().all(|e| e["received_at"].as_str().is_some()));
}

#[test]
fn every_bad_request_gets_a_4xx_with_a_json_reason() {
    let pipec = storefront();
    let valid = r#"{"order_id":"o1","customer_id":"c1","sku":"sword","quantity":1,"unit_price":9.5,"placed_at":"2020-08-02T22:49:11Z"}"#;
    let cases: Vec<(&str, common::http::Response, u16, &str)> = vec![
        (
            "invalid JSON",
            post_purchase(&pipec, "{\"order_id\": "),
            400,
            "invalid_json",
        ),
        ("empty body", post_purchase(&pipec, ""), 400, "missing_body"),
        (
            "wrong type",
            post_purchase(
                &pipec,
                &valid.replace("\"quantity\":1", "\"quantity\":\"one\""),
            ),
            400,
            "wrong_type",
        ),
        (
            "missing required field",
            post_purchase(&pipec, &valid.replace("\"sku\":\"sword\",", "")),
            400,
            "missing_field",
        ),
        (
            "not an object",
            post_purchase(&pipec, "[1, 2]"),
            400,
            "not_an_object",
        ),
        (
            "body over the limit",
            post_purchase(&pipec, &format!("[{}]", vec![valid; 12_000].join(","))),
            413,
            "body_too_large",
        ),
        (
            "no token",
            pipec.post("/v1/purchases", &[], valid.as_bytes()),
            401,
            "missing_token",
        ),
        (
            "wrong token",
            pipec.post(
                "/v1/purchases",
                &[("Authorization", "Bearer nope")],
                valid.as_bytes(),
            ),
            401,
            "wrong_token",
        ),
        (
            "unknown path",
            pipec.get("/v2/purchases", &[]),
            404,
            "not_found",
        ),
        (
            "wrong method",
            pipec.get("/v1/purchases", &[]),
            405,
            "method_not_allowed",
        ),
        (
            "missing query parameter",
            pipec.get("/v1/purchase?order=o1&customer=c1&sku=s&price=2", &[]),
            400,
            "missing_input",
        ),
        (
            "query parameter of the wrong type",
            pipec.get(
                "/v1/purchase?order=o1&customer=c1&sku=s&qty=many&price=2",
                &[],
            ),
            400,
            "bad_input",
        ),
        (
            "headers over the limit",
            pipec.get("/v1/purchase", &[("X-Padding", &"x".repeat(20_000))]),
            431,
            "headers_too_large",
        ),
    ];
    for (what, response, status, code) in cases {
        assert_eq!(response.status, status, "{what}: {}", response.text());
        let body = response.json();
        assert_eq!(body["error"], code, "{what}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    let wrong = post_purchase(
        &pipec,
        &valid.replace("\"quantity\":1", "\"quantity\":\"one\""),
    );
    assert_eq!(
        wrong.json()["message"],
        "field `quantity` must be a whole number, not a string (\"one\")"
    );
    let unauthorized = pipec.post("/v1/purchases", &[], valid.as_bytes());
    assert_eq!(unauthorized.header("WWW-Authenticate"), Some("Bearer"));
    // Nothing bad reached the topic; a good request still works afterwards.
    assert_eq!(post_purchase(&pipec, valid).status, 202);
    assert_eq!(kcat_read(&pipec.bootstrap, "purchases").len(), 1);
}

#[test]
fn query_parameters_and_headers_fill_fields() {
    let pipec = storefront();
    let response = pipec.get(
        "/v1/purchase?order=o7&customer=c%207&sku=sword&qty=3&price=2.5",
        &[("User-Agent", "pixel/1.0")],
    );
    assert_eq!(response.status, 204, "{}", response.text());
    let events = kcat_read(&pipec.bootstrap, "purchases");
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["customer_id"], "c 7");
    assert_eq!(event["quantity"], 3);
    assert_eq!(event["unit_price"], 2.5);
    assert_eq!(event["User-Agent"], "pixel/1.0");
}

/// The mock cluster drops the oldest events past ~5 MB per partition; with
/// no sink writing, the API must refuse (503) before that, and everything it
/// acknowledged must still be in the topic.
#[test]
fn the_embedded_broker_pushes_back_before_it_would_drop_events() {
    let pipec = storefront();
    let batch: Vec<String> = (0..1_000)
        .map(|i| {
            json!({
                "order_id": format!("order-{i:06}"), "customer_id": "c1", "sku": "sword",
                "quantity": 1, "unit_price": 1.0, "placed_at": "2020-08-02T22:49:11Z",
                "country": "a country name long enough to make the event a few hundred bytes",
            })
            .to_string()
        })
        .collect();
    let body = format!("[{}]", batch.join(","));
    let mut acknowledged = 0;
    let mut refused = None;
    for _ in 0..100 {
        let response = post_purchase(&pipec, &body);
        match response.status {
            202 => acknowledged += 1_000,
            503 => {
                refused = Some(response.json());
                break;
            }
            other => panic!("unexpected {other}: {}", response.text()),
        }
    }
    let refused = refused.expect("the API pushed back before 100,000 unwritten events");
    assert_eq!(refused["error"], "backpressure", "{refused}");
    assert!(
        acknowledged >= 3_000,
        "accepted {acknowledged} events before pushing back"
    );
    let events = kcat_read(&pipec.bootstrap, "purchases");
    assert_eq!(
        events.len(),
        acknowledged,
        "every acknowledged event is still in the broker"
    );
    // Still refusing while nothing is written.
    assert_eq!(post_purchase(&pipec, &body).status, 503);
    let metrics = pipec.get("/metrics", &[]).text();
    assert!(
        metrics.contains("pipec_backpressure_rejections_total{topic=\"purchases\"} 2"),
        "{metrics}"
    );
}

#[test]
fn metrics_count_requests_and_events() {
    let pipec = Pipec::start(&["pipelines/game_events.pipe", "--listen", "127.0.0.1:0"]);
    for _ in 0..3 {
        assert_eq!(pipec.get("/join_a_guild", &[]).status, 200);
    }
    let metrics = pipec.get("/metrics", &[]);
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for expected in [
        "pipec_http_requests_total{endpoint=\"GET /join_a_guild\",status=\"200\"} 3",
        "pipec_events_produced_total{topic=\"events\"} 3",
        "pipec_delivery_seconds_count{topic=\"events\"} 3",
        "pipec_producer_queue_depth 0",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
    assert_eq!(pipec.get("/health", &[]).json()["status"], "ok");
}

#[test]
fn a_pipeline_with_errors_starts_nothing_and_exits_1() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args([
            "run",
            "tests/fixtures/invalid/unknown_schema.pipe",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(common::ROOT)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error[E0101]"), "{stderr}");
    assert!(stderr.contains("nothing was started"), "{stderr}");
}

/// `examples/seed_load.sh`, the seed's `ab` loop, against a running pipec:
/// what it reports as sent is what the topic holds.
#[test]
fn the_seed_load_script_reports_what_it_sent() {
    let pipec = Pipec::start(&["pipelines/game_events.pipe", "--listen", "127.0.0.1:0"]);
    let output = std::process::Command::new("bash")
        .arg(common::path("examples/seed_load.sh"))
        .arg(format!("http://{}", pipec.addr))
        .args(["2", "1"])
        .output()
        .expect("seed_load.sh runs (tests/services/tools.sh installs ab)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reported: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for line in stdout.lines().skip(1) {
        let fields: Vec<_> = line.split_whitespace().collect();
        assert_eq!(fields.len(), 4, "{line}");
        assert_eq!(fields[3], "0", "failed requests: {line}");
        let event_type = match fields[1] {
            "/" => "default",
            "/purchase_a_sword" => "purchase_sword",
            "/join_a_guild" => "join_guild",
            other => panic!("unexpected endpoint {other}"),
        };
        reported.insert(
            (event_type.to_string(), fields[0].to_string()),
            fields[2].parse().unwrap(),
        );
    }
    assert_eq!(reported.len(), 6, "{stdout}");
    let mut received: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for event in kcat_read(&pipec.bootstrap, "events") {
        let key = (
            event["event_type"].as_str().unwrap().to_string(),
            event["Host"].as_str().unwrap().to_string(),
        );
        *received.entry(key).or_default() += 1;
    }
    assert_eq!(received, reported);
}

/// A profile supplies `${NAME}` values and Kafka settings without touching
/// the pipeline file.
#[test]
fn a_profile_supplies_environment_values() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("profile");
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("laptop.yaml");
    std::fs::write(
        &profile,
        "listen: 127.0.0.1:0\nkafka:\n  client.id: from-profile\nenv:\n  SHOP_API_TOKEN: profile-token\n",
    )
    .unwrap();
    let pipec = Pipec::start(&[STOREFRONT, "--profile", profile.to_str().unwrap()]);
    let valid = r#"{"order_id":"o1","customer_id":"c1","sku":"s","quantity":1,"unit_price":1,"placed_at":"2020-08-02T22:49:11Z"}"#;
    let ok = pipec.post(
        "/v1/purchases",
        &[("Authorization", "Bearer profile-token")],
        valid.as_bytes(),
    );
    assert_eq!(ok.status, 202, "{}", ok.text());
    let wrong = pipec.post(
        "/v1/purchases",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        valid.as_bytes(),
    );
    assert_eq!(wrong.status, 401);
}

/// The status page and its figures are behind the endpoints' token, as a
/// header or (for a browser's address bar) as `?token=`; a refusal is JSON.
#[test]
fn the_status_page_is_behind_the_endpoints_token() {
    let pipec = storefront();
    for path in ["/_pipec/", "/_pipec/status.json"] {
        let refused = pipec.get(path, &[]);
        assert_eq!(refused.status, 401, "{path}: {}", refused.text());
        assert_eq!(refused.json()["error"], "missing_token");
        let wrong = pipec.get(&format!("{path}?token=nope"), &[]);
        assert_eq!(wrong.status, 401, "{path}: {}", wrong.text());
        assert_eq!(wrong.json()["error"], "wrong_token");
        let (name, value) = auth();
        let by_header = pipec.get(path, &[(name, value.as_str())]);
        assert_eq!(by_header.status, 200, "{path}: {}", by_header.text());
        let by_query = pipec.get(&format!("{path}?token={TOKEN}"), &[]);
        assert_eq!(by_query.status, 200, "{path}: {}", by_query.text());
    }
    let (name, value) = auth();
    let page = pipec.get("/_pipec/", &[(name, value.as_str())]);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    // Everything the page needs is in it: no script or style from elsewhere.
    let html = page.text();
    assert!(html.contains("<svg") && html.contains("id=\"live-endpoint_0-0\""));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    // The figures follow the counters: one accepted purchase, one refused.
    let valid = r#"{"order_id":"o1","customer_id":"c1","sku":"sword","quantity":1,"unit_price":9.5,"placed_at":"2020-08-02T22:49:11Z"}"#;
    let accepted = post_purchase(&pipec, valid);
    assert_eq!(accepted.status, 202, "{}", accepted.text());
    assert_eq!(post_purchase(&pipec, r#"{"sku": 7}"#).status, 400);
    let figures = pipec
        .get("/_pipec/status.json", &[(name, value.as_str())])
        .json();
    let endpoint = &figures["nodes"]["endpoint_0"];
    assert_eq!(endpoint["kind"], "endpoint");
    assert_eq!(endpoint["requests"], 2, "{figures:#}");
    assert_eq!(endpoint["errors"], 1, "{figures:#}");
    assert_eq!(figures["events_in"], 1, "{figures:#}");
    // `/_pipec` without the slash keeps the token on its way to the page.
    let bare = pipec.get(&format!("/_pipec?token={TOKEN}"), &[]);
    assert_eq!(bare.status, 308);
    assert_eq!(
        bare.header("location"),
        Some(format!("/_pipec/?token={TOKEN}").as_str())
    );
}
