//! A pipeline changed while it runs (issue 17): v1 writes files; v2 adds an
//! optional field and a sink and runs over the same data directory; `pipec
//! query` and Spark (after the ALTER DDL) read both generations of files,
//! old rows with nulls. v3 changes a type: `check --against` and `run`
//! refuse it, pointing at the field.

mod common;

use common::{pipec_query_rows, scratch, Pipec};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const V1: &str = r#"pipeline shop_evolve

schema order {
  order_id: string
  qty:      int
}

topic orders {
  schema order
}

endpoint POST "/orders" {
  into    orders
  body    json
  respond 202
}

sink orders {
  from       orders
  path       "orders"
  checkpoint "checkpoints/orders"
  trigger    every 1s
}

table default.orders {
  from orders
}
"#;

fn v2_text() -> String {
    V1.replace(
        "  qty:      int\n",
        "  qty:      int\n  coupon:   string?\n",
    ) + r#"
sink big_orders {
  from       orders
  where      qty >= 10
  path       "big_orders"
  checkpoint "checkpoints/big_orders"
  trigger    every 1s
}
"#
}

fn pipec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("pipec runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `file` on the embedded broker over `data`, posts `orders`, and
/// stops it: SIGTERM drains the topic into files.
fn run_and_post(file: &Path, data: &Path, orders: &[Value]) {
    let pipec = Pipec::start(&[
        &file.display().to_string(),
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        &data.display().to_string(),
    ]);
    for order in orders {
        let response = pipec.post(
            "/orders",
            &[("Content-Type", "application/json")],
            order.to_string().as_bytes(),
        );
        assert_eq!(response.status, 202, "{}", response.text());
    }
    assert!(pipec.stop().success());
}

#[test]
fn a_pipeline_gains_a_field_and_a_sink_and_reads_old_and_new_files() {
    let dir = scratch("evolution");
    let data = dir.join("data");
    let (v1, v2, v3) = (
        dir.join("v1.pipe"),
        dir.join("v2.pipe"),
        dir.join("v3.pipe"),
    );
    std::fs::write(&v1, V1).unwrap();
    std::fs::write(&v2, v2_text()).unwrap();
    std::fs::write(&v3, V1.replace("  qty:      int\n", "  qty:      string\n")).unwrap();
    let [v1s, v2s, v3s, datas] = [&v1, &v2, &v3, &data].map(|p| p.display().to_string());

    run_and_post(
        &v1,
        &data,
        &[
            json!({ "order_id": "o1", "qty": 1 }),
            json!({ "order_id": "o2", "qty": 20 }),
        ],
    );

    // The change, classified; nothing written stands in its way.
    let diff = pipec(&["diff", &v1s, &v2s]);
    let out = text(&diff.stdout);
    assert_eq!(diff.status.code(), Some(0), "{out}{}", text(&diff.stderr));
    assert!(out.contains("W0820") && out.contains("W0821"), "{out}");
    let check = pipec(&["check", &v2s, "--against", &datas]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));

    run_and_post(
        &v2,
        &data,
        &[
            json!({ "order_id": "o3", "qty": 2, "coupon": "SAVE" }),
            json!({ "order_id": "o4", "qty": 12, "coupon": "SAVE" }),
        ],
    );

    let rows = pipec_query_rows(
        &v2s,
        &datas,
        // Aliases in alphabetical order: the JSON rows list columns so, and
        // leave a null out.
        "select order_id as a, qty as b, coupon as c from orders order by order_id",
    );
    assert_eq!(
        rows,
        [
            json!(["o1", 1]),
            json!(["o2", 20]),
            json!(["o3", 2, "SAVE"]),
            json!(["o4", 12, "SAVE"]),
        ],
        "old rows read with a null coupon, new rows with theirs"
    );
    let big = pipec_query_rows(&v2s, &datas, "select order_id from big_orders");
    assert_eq!(big, [json!(["o4"])], "the new sink writes from its start");

    // Spark: v1's CREATE, then v2's ALTER, over both generations of files.
    if let Some(python) = common::python() {
        let create = pipec(&[
            "ddl",
            &v1s,
            "--data-dir",
            &datas,
            "--table",
            "default.orders",
        ]);
        assert!(create.status.success(), "{}", text(&create.stderr));
        let alter = pipec(&["ddl", &v2s, "--alter", &v1s, "--data-dir", &datas]);
        assert!(alter.status.success(), "{}", text(&alter.stderr));
        assert!(
            text(&alter.stdout).contains("ADD COLUMNS"),
            "{}",
            text(&alter.stdout)
        );
        let work = dir.join("spark");
        std::fs::create_dir_all(&work).unwrap();
        let (create_file, alter_file) = (work.join("create.sql"), work.join("alter.sql"));
        std::fs::write(&create_file, &create.stdout).unwrap();
        std::fs::write(&alter_file, &alter.stdout).unwrap();
        let report = common::spark_report(
            &python,
            "spark_evolve.py",
            &[
                create_file.as_os_str(),
                alter_file.as_os_str(),
                "select order_id, coupon from default.orders order by order_id".as_ref(),
            ],
            &work,
        );
        assert_eq!(
            report["rows"],
            json!([["o1", null], ["o2", null], ["o3", "SAVE"], ["o4", "SAVE"]]),
            "{report:#}"
        );
    } else {
        assert!(
            std::env::var_os("PIPEC_REQUIRE_KAFKA").is_none(),
            "tests/run.sh sets PIPEC_TEST_PYTHON"
        );
    }

    // v3 makes `qty` a string: the files say int. Both refuse, at the field.
    let qty_line = std::fs::read_to_string(&v3)
        .unwrap()
        .lines()
        .position(|l| l.contains("qty:      string"))
        .unwrap()
        + 1;
    let check = pipec(&["check", &v3s, "--against", &datas]);
    let stderr = text(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[E0801]"), "{stderr}");
    assert!(stderr.contains(&format!("{v3s}:{qty_line}:")), "{stderr}");
    let run = pipec(&["run", &v3s, "--data-dir", &datas, "--listen", "127.0.0.1:0"]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0801]") && stderr.contains("nothing was started"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{v3s}:{qty_line}:")), "{stderr}");
}
