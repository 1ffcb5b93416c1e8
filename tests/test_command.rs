//! `pipec test`: the pipelines' own tests pass and cover every endpoint and
//! sink; a mutated pipeline fails them with a diff that names the line; the
//! reports (text, JSON, JUnit) and exit statuses are what CI tools expect.

mod common;

use common::text;
use pipec_compiler::test_plan::{ExpectTarget, Given, RowsMode};
use pipec_compiler::{compile, Source};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `pipec ARGS...` with the storefront's token from the file, not from the
/// environment.
fn pipec(args: &[&str]) -> Output {
    common::pipec_command(args)
        .env_remove("SHOP_API_TOKEN")
        .output()
        .expect("pipec runs")
}

/// The pipelines a newcomer is shown: `pipelines/` and `examples/`.
fn shipped_pipelines() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["pipelines", "examples"] {
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "pipe") {
                files.push(format!(
                    "{dir}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    files.sort();
    files
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_shipped_pipeline_passes_its_own_tests() {
    let files = shipped_pipelines();
    let mut args = vec!["test"];
    args.extend(files.iter().map(String::as_str));
    let out = pipec(&args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("test result: ok."), "{stdout}");
    assert!(!stdout.contains("FAILED"), "{stdout}");
    println!("{stdout}");
}

/// Each endpoint is requested, each sink's rows are expected, and the
/// dead-letter path is exercised, in some test of the file.
#[test]
fn the_shipped_tests_cover_every_endpoint_sink_and_the_dead_letters() {
    for file in shipped_pipelines() {
        let text =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&file)).unwrap();
        let plan = compile(&Source::new(file.clone(), text), &BTreeMap::new())
            .unwrap_or_else(|_| panic!("{file} checks"))
            .plan;
        assert!(!plan.tests.is_empty(), "{file} has no tests");
        let requests: Vec<(&str, &str)> = plan
            .tests
            .iter()
            .flat_map(|t| &t.given)
            .filter_map(|g| match g {
                Given::Request(r) => Some((r.method.as_str(), r.path.as_str())),
                Given::Message(_) => None,
            })
            .collect();
        for endpoint in &plan.endpoints {
            let route = (endpoint.method.as_str(), endpoint.path.as_str());
            assert!(
                requests.contains(&route),
                "{file}: no test requests {route:?}"
            );
        }
        let expected_rows: Vec<&ExpectTarget> = plan
            .tests
            .iter()
            .flat_map(|t| &t.expect)
            .filter(|e| e.mode != RowsMode::Empty && !e.rows.is_empty())
            .map(|e| &e.target)
            .collect();
        for (index, sink) in plan.sinks.iter().enumerate() {
            let covered = expected_rows.iter().any(|target| match target {
                ExpectTarget::Sink(s) => s.index() == index,
                ExpectTarget::Table(t) => plan.tables[t.index()].sink.index() == index,
                ExpectTarget::DeadLetters => false,
            });
            assert!(
                covered,
                "{file}: no test expects rows of sink `{}`",
                sink.name
            );
        }
        assert!(
            expected_rows
                .iter()
                .any(|t| matches!(t, ExpectTarget::DeadLetters)),
            "{file}: no test expects a dead letter"
        );
    }
}

/// What a broken change looks like: the seed with its filter's literal
/// changed, and with an endpoint's `set` value changed. Both fail the
/// seed's own tests, with a diff at the expectation's line.
#[test]
fn a_mutated_pipeline_fails_its_tests_with_a_diff_naming_the_line() {
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/game_events.pipe"),
    )
    .unwrap();
    let expect_line = seed
        .lines()
        .position(|l| l.trim_start().starts_with("expect sword_purchases {"))
        .expect("the seed expects sword_purchases rows")
        + 1;
    let dir = scratch("mutated");
    for (what, from, to) in [
        (
            "filter",
            "where      event_type == \"purchase_sword\"",
            "where      event_type == \"purchase_swords\"",
        ),
        (
            "set",
            "set     event_type = \"purchase_sword\"",
            "set     event_type = \"buy_sword\"",
        ),
    ] {
        assert!(
            seed.contains(from),
            "{what}: the seed changed; update this test"
        );
        let file = dir.join(format!("{what}.pipe"));
        std::fs::write(&file, seed.replacen(from, to, 1)).unwrap();
        let path = file.display().to_string();
        let out = pipec(&["test", &path]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(
            stdout.contains("test a_sword_purchase_is_one_row_in_sword_purchases ... FAILED"),
            "{what}: {stdout}"
        );
        assert!(
            stdout.contains(&format!("--> {path}:{expect_line}:")),
            "{what}: the failure points at line {expect_line}: {stdout}"
        );
        assert!(
            stdout.contains("`sword_purchases` should have exactly 1 row, but has 0"),
            "{what}: {stdout}"
        );
        // The expected row is shown as missing, with its line and values.
        let missing = stdout
            .lines()
            .find(|l| l.contains("| -") && l.contains("\"purchase_sword\""))
            .unwrap_or_else(|| panic!("{what}: no missing row in the diff: {stdout}"));
        assert!(
            missing.contains(&(expect_line + 1).to_string())
                && missing.contains("\"user1.comcast.com\""),
            "{what}: {missing}"
        );
        assert!(stdout.contains("test result: FAILED."), "{what}: {stdout}");
    }
}

#[test]
fn json_and_junit_reports_name_every_test_and_failure() {
    let dir = scratch("reports");
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/game_events.pipe"),
    )
    .unwrap();
    let broken = dir.join("broken.pipe");
    std::fs::write(
        &broken,
        seed.replacen(
            "respond 200 \"Guild Joined!\\n\"",
            "respond 201 \"Guild Joined!\\n\"",
            1,
        ),
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let out = pipec(&[
        "test",
        &broken.display().to_string(),
        "--format",
        "json",
        "--junit",
        &junit.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let tests = report["files"][0]["tests"].as_array().unwrap();
    assert_eq!(report["failed"], 1, "{report:#}");
    assert_eq!(report["passed"].as_u64().unwrap() as usize, tests.len() - 1);
    let failed = tests.iter().find(|t| t["passed"] == false).unwrap();
    assert_eq!(failed["name"], "guild_joins_keep_every_join");
    let failure = &failed["failures"][0];
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("was answered 201, expected 200"),
        "{failure:#}"
    );
    let line = failure["line"].as_u64().unwrap() as usize;
    assert!(seed
        .lines()
        .nth(line - 1)
        .unwrap()
        .contains("expect 200 \"Guild Joined!\\n\""));
    // JUnit, read by an XML parser (Python's): one case per test, one failure.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as ET; r = ET.parse(sys.argv[1]).getroot(); \
             print(len(r.findall('.//testcase')), len(r.findall('.//failure')))",
            &junit.display().to_string(),
        ])
        .output()
        .expect("python3 runs");
    assert!(parsed.status.success(), "{}\n{xml}", text(&parsed.stderr));
    assert_eq!(
        text(&parsed.stdout).trim(),
        format!("{} 1", tests.len()),
        "{xml}"
    );
}

#[test]
fn filter_selects_tests_and_usage_errors_exit_2() {
    let out = pipec(&["test", "pipelines/game_events.pipe", "--filter", "guild"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("running 1 test from pipelines/game_events.pipe"),
        "{stdout}"
    );
    assert_eq!(pipec(&["test"]).status.code(), Some(2));
    assert_eq!(pipec(&["test", "no/such/file.pipe"]).status.code(), Some(2));
    assert_eq!(
        pipec(&["test", "pipelines/game_events.pipe", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
    // A file that does not check runs no test: its diagnostics, exit 1.
    let bad = pipec(&["test", "tests/fixtures/invalid/unknown_schema.pipe"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("E0101"));
}
