//! What new users hit (issue 18), end to end on the embedded broker: a field
//! named `timestamp`, a row trigger on a filtered sink, arithmetic and SQL's
//! `in (...)`, strict schemas, the accepted time forms, the HTTP edges, the
//! dead letters' text, and `pipec query`'s words for an empty data directory
//! and a misspelled table.

mod common;

use common::http::{send_raw, Response};
use common::{duckdb, files_below, pipec_query_rows, scratch, Pipec, ROOT};
use std::process::Command;
use std::time::{Duration, Instant};

const WEBSHOP: &str = "tests/pipelines/webshop.pipe";

fn order(id: &str, status: &str, price: f64, qty: i64, timestamp: &str) -> Vec<u8> {
    serde_json::json!({
        "order_id": id, "status": status, "price": price, "qty": qty, "timestamp": timestamp
    })
    .to_string()
    .into_bytes()
}

fn post_order(pipec: &Pipec, body: &[u8]) -> Response {
    pipec.post("/orders", &[("Content-Type", "application/json")], body)
}

// `pipec_query_rows` gives values in the order of the column names, sorted:
// the queries below name their columns `a`, `b`, `c`.

/// Visible Parquet files below `dir`.
fn parquet_files(dir: &std::path::Path) -> Vec<String> {
    files_below(dir)
        .into_iter()
        .filter(|f| f.ends_with(".parquet") && !f.rsplit('/').next().unwrap().starts_with('.'))
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_rows_trigger_counts_the_rows_the_filter_keeps_and_events_keep_their_timestamp() {
    let data = scratch("webshop");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[WEBSHOP, "--listen", "127.0.0.1:0", "--data-dir", &data_arg]);
    // 8 big paid orders among 24 the filter drops (too cheap, or pending).
    let mut big = 0;
    for i in 0..32 {
        let (status, price) = match i % 4 {
            0 => ("paid", 60.0),
            1 => ("paid", 1.0),
            2 => ("pending", 500.0),
            _ => ("shipped", 10.0),
        };
        if status == "paid" && price > 50.0 {
            big += 1;
        }
        let body = order(&format!("o{i}"), status, price, 2, "2024-05-01T10:00:00Z");
        assert_eq!(post_order(&pipec, &body).status, 202);
    }
    assert_eq!(big, 8);
    let dir = data.join("big_orders");
    wait_for("two files of big orders", || parquet_files(&dir).len() >= 2);
    // Give a wrong trigger the time to write more (it would have by now).
    std::thread::sleep(Duration::from_secs(2));
    let files = parquet_files(&dir);
    assert_eq!(files.len(), 2, "8 kept rows, 4 to a file: {files:?}");
    for file in &files {
        let rows = duckdb(&format!(
            "select count(*) from read_parquet('{}/{file}')",
            dir.display()
        ));
        assert_eq!(rows[0][0], 4, "{file}");
    }
    assert!(pipec.stop().success());

    // Both times are there: the event's own and Kafka's, under its new name.
    let columns = duckdb(&format!(
        "select column_name from (describe select * from read_parquet('{}/big_orders/*.parquet'))",
        data.display()
    ));
    let columns: Vec<&str> = columns.iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(
        columns,
        [
            "raw_event",
            "kafka_time",
            "order_id",
            "status",
            "price",
            "qty",
            "timestamp"
        ]
    );
    let rows = pipec_query_rows(
        WEBSHOP,
        &data_arg,
        "select count(*) as a, min(timestamp) < min(kafka_time) as b from shop.big_orders",
    );
    assert_eq!(rows, [serde_json::json!([8, true])]);
    let rows = pipec_query_rows(
        WEBSHOP,
        &data_arg,
        "select day as a, count(*) as b from shop.all_orders group by day",
    );
    assert_eq!(rows, [serde_json::json!(["2024-05-01", 32])]);
}

#[test]
fn times_are_read_in_the_documented_forms_and_strict_schemas_refuse_extra_keys() {
    let data = scratch("webshop-times");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[WEBSHOP, "--listen", "127.0.0.1:0", "--data-dir", &data_arg]);
    for (id, time) in [
        ("date", "2024-05-01"),
        ("space", "2024-05-01 10:00:00"),
        ("naive", "2024-05-01T10:00:00.5"),
        ("offset", "2024-05-01T12:00:00+02:00"),
        ("zulu", "2024-05-01T10:00:00Z"),
    ] {
        let response = post_order(&pipec, &order(id, "paid", 1.0, 1, time));
        assert_eq!(response.status, 202, "{time}: {}", response.text());
    }
    let epoch = br#"{"order_id":"epoch","status":"paid","price":1,"qty":1,"timestamp":1714557600}"#;
    let response = post_order(&pipec, epoch);
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "wrong_type");
    assert!(response.json()["message"]
        .as_str()
        .unwrap()
        .contains("RFC 3339"));
    for bad in ["2024-05-01T10:00", "01/05/2024", "2024-05-01T23:59:60Z"] {
        let response = post_order(&pipec, &order("bad", "paid", 1.0, 1, bad));
        assert_eq!(response.status, 400, "{bad}");
    }
    let extra = br#"{"order_id":"x","status":"paid","price":1,"qty":1,"timestamp":"2024-05-01","coupon":"FREE"}"#;
    let response = post_order(&pipec, extra);
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "extra_field");
    assert!(response.json()["message"]
        .as_str()
        .unwrap()
        .contains("`coupon`"));
    assert!(pipec.stop().success());
    let rows = pipec_query_rows(
        WEBSHOP,
        &data_arg,
        "select order_id as a, cast(timestamp as bigint) as b from shop.all_orders order by order_id",
    );
    // Microseconds since the epoch: a date is midnight UTC, a time without
    // an offset is UTC.
    let ten_o_clock = 1_714_557_600_000_000i64;
    let expected = [
        ("date", ten_o_clock - 36_000_000_000),
        ("naive", ten_o_clock + 500_000),
        ("offset", ten_o_clock),
        ("space", ten_o_clock),
        ("zulu", ten_o_clock),
    ];
    let got: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
    let expected: Vec<(String, i64)> = expected.iter().map(|(a, b)| (a.to_string(), *b)).collect();
    assert_eq!(got, expected);
}

/// A raw request to the seed pipeline's API.
fn raw(pipec: &Pipec, head: &str, body: &[u8]) -> Response {
    let mut bytes = head.replace('\n', "\r\n").into_bytes();
    bytes.extend_from_slice(body);
    send_raw(pipec.addr, &bytes)
}

#[test]
fn bodies_where_none_is_taken_bad_header_bytes_and_hop_by_hop_headers() {
    let data = scratch("http-edges");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[
        "pipelines/game_events.pipe",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data_arg,
    ]);
    // A body over the limit, declared or chunked, is 413 on a GET too.
    let big = vec![b'x'; 10 * 1024 * 1024];
    let response = raw(
        &pipec,
        &format!(
            "GET /purchase_a_sword HTTP/1.1\nHost: a\nContent-Length: {}\nConnection: close\n\n",
            big.len()
        ),
        &big,
    );
    assert_eq!(response.status, 413, "{}", response.text());
    assert_eq!(response.json()["error"], "body_too_large");
    let mut chunked = Vec::new();
    for _ in 0..12 {
        chunked.extend_from_slice(format!("{:x}\r\n", 1024 * 1024).as_bytes());
        chunked.extend_from_slice(&vec![b'y'; 1024 * 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let response = raw(
        &pipec,
        "GET /join_a_guild HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nConnection: close\n\n",
        &chunked,
    );
    assert_eq!(response.status, 413, "{}", response.text());
    // A small body where the endpoint takes none: 400, nothing logged.
    let response = raw(
        &pipec,
        "GET /purchase_a_sword HTTP/1.1\nHost: a\nContent-Length: 5\nConnection: close\n\n",
        b"hello",
    );
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "unexpected_body");
    let response = raw(
        &pipec,
        "GET /purchase_a_sword HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nConnection: close\n\n",
        b"5\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"], "unexpected_body");
    // Bytes that are not UTF-8 in a header the event copies: 400 naming it.
    let mut head = b"GET /purchase_a_sword HTTP/1.1\r\nHost: a\r\nUser-Agent: caf\xe9\r\nConnection: close\r\n\r\n".to_vec();
    let response = send_raw(pipec.addr, &head);
    assert_eq!(response.status, 400, "{}", response.text());
    assert_eq!(response.json()["error"], "invalid_header");
    assert!(response.json()["message"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("user-agent"));
    // One good request; its event must not hold the connection's headers.
    head.clear();
    head.extend_from_slice(
        b"GET /purchase_a_sword HTTP/1.1\r\nHost: user1.comcast.com\r\nAccept: */*\r\nUser-Agent: test\r\nConnection: close\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Run: edges\r\n\r\n",
    );
    assert_eq!(send_raw(pipec.addr, &head).status, 200);
    assert!(pipec.stop().success());
    let rows = duckdb(&format!(
        "select raw_event from read_parquet('{}/sword_purchases/*.parquet')",
        data.display()
    ));
    assert_eq!(rows.len(), 1, "only the good request is logged: {rows:?}");
    let event: serde_json::Value = serde_json::from_str(rows[0][0].as_str().unwrap()).unwrap();
    assert_eq!(event["X-Run"], "edges");
    assert_eq!(event["Host"], "user1.comcast.com");
    for hop_by_hop in [
        "Connection",
        "Keep-Alive",
        "Te",
        "Content-Length",
        "Transfer-Encoding",
    ] {
        assert!(event.get(hop_by_hop).is_none(), "{hop_by_hop} in {event}");
    }
}

#[test]
fn dead_letters_have_their_text_next_to_their_bytes() {
    let data = scratch("dead-text");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[WEBSHOP, "--listen", "127.0.0.1:0", "--data-dir", &data_arg]);
    let mut kcat = Command::new("kcat")
        .args(["-P", "-b", &pipec.bootstrap, "-t", "orders", "-D", "\n--\n"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("kcat runs");
    {
        use std::io::Write;
        let stdin = kcat.stdin.as_mut().unwrap();
        stdin
            .write_all(b"not json \xff\xfe at all\n--\n{\"order_id\":\"x\",\"coupon\":1}\n--\n")
            .unwrap();
    }
    assert!(kcat.wait().unwrap().success());
    wait_for("the dead letters", || {
        parquet_files(&data.join("dead_letters")).len() >= 2
    });
    assert!(pipec.stop().success());
    let rows = pipec_query_rows(
        WEBSHOP,
        &data_arg,
        "select sink as a, raw_text as b, reason as c from dead_letters order by sink, raw_text",
    );
    assert_eq!(rows.len(), 4, "one row per sink per message: {rows:?}");
    assert_eq!(rows[0][0], "all_orders");
    assert!(rows[0][1]
        .as_str()
        .unwrap()
        .starts_with("not json \u{fffd}"));
    assert!(rows[0][2].as_str().unwrap().contains("not valid JSON"));
    assert!(rows[1][1].as_str().unwrap().contains("coupon"));
    assert!(
        rows[1][2].as_str().unwrap().contains("`coupon`"),
        "{rows:?}"
    );
}

fn pipec_query(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipec"))
        .arg("query")
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("pipec runs")
}

#[test]
fn query_says_where_it_found_no_files_and_which_table_was_meant() {
    let nowhere = scratch("no-files").join("not-here");
    let nowhere_arg = nowhere.display().to_string();
    let output = pipec_query(&[
        "pipelines/game_events.pipe",
        "--data-dir",
        &nowhere_arg,
        "select count(*) from sword_purchases",
    ]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning: no Parquet files found"),
        "{stderr}"
    );
    assert!(stderr.contains(&nowhere_arg), "{stderr}");

    let output = pipec_query(&[
        "pipelines/game_events.pipe",
        "--data-dir",
        &nowhere_arg,
        "select host, count(*)\nfrom sword_purchase\ngroup by host",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: unknown table `sword_purchase`"),
        "{stderr}"
    );
    assert!(stderr.contains("--> query:2:6"), "{stderr}");
    assert!(
        stderr.contains("did you mean `sword_purchases`?"),
        "{stderr}"
    );
    assert!(!stderr.contains("pipec.default"), "{stderr}");
}
