//! `pipec check` as scripts and editors use it: exit statuses, text on
//! stderr, JSON and the plan on stdout.

mod common;

use common::{pipec, text};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn the_seed_pipeline_checks_clean() {
    let out = pipec(&["check", "pipelines/game_events.pipe"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr)
        .contains("pipelines/game_events.pipe: ok: 3 endpoints, 1 topic, 2 sinks, 2 tables"));
}

#[test]
fn errors_exit_1_and_show_file_line_column_and_carets() {
    let out = pipec(&["check", "tests/fixtures/invalid/unknown_schema.pipe"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[E0101]: unknown schema `game_evnt`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> tests/fixtures/invalid/unknown_schema.pipe:9:10"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  schema game_evnt\n  |          ^^^^^^^^^"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `game_event`?"), "{stderr}");
}

#[test]
fn warnings_alone_exit_0() {
    let out = pipec(&["check", "tests/fixtures/invalid/unsatisfiable_filter.pipe"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning[W0001]"));
}

#[test]
fn an_unreadable_file_exits_2_even_beside_a_bad_one() {
    let out = pipec(&[
        "check",
        "tests/fixtures/invalid/unknown_schema.pipe",
        "no/such/file.pipe",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read `no/such/file.pipe`"),
        "{stderr}"
    );
    // The readable file was still checked.
    assert!(stderr.contains("E0101"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(pipec(&["check"]).status.code(), Some(2));
    assert_eq!(pipec(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        pipec(&["check", "--format", "xml", "pipelines/game_events.pipe"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn json_reports_every_file_and_diagnostic() {
    let out = pipec(&[
        "check",
        "--format",
        "json",
        "pipelines/game_events.pipe",
        "tests/fixtures/invalid/many_errors.pipe",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(report["files"][0]["ok"], true);
    assert_eq!(report["files"][1]["ok"], false);
    let diagnostics = report["files"][1]["diagnostics"].as_array().unwrap();
    let codes: Vec<_> = diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["E0101", "E0201", "E0104", "E0401"]);
    assert_eq!(report["errors"], 4);
    let first = &diagnostics[0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["start"]["line"], 14);
    assert_eq!(first["start"]["column"], 10);
    assert_eq!(first["file"], "tests/fixtures/invalid/many_errors.pipe");
    assert!(first["rendered"].as_str().unwrap().contains("^^^^^^^^^"));
}

#[test]
fn emit_plan_prints_yaml_with_resolved_names() {
    let out = pipec(&["check", "--emit", "plan", "pipelines/game_events.pipe"]);
    assert_eq!(out.status.code(), Some(0));
    let plan: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&out.stdout).expect("YAML");
    assert_eq!(plan["name"].as_str(), Some("game_events"));
    let sinks = plan["sinks"].as_sequence().unwrap();
    assert_eq!(sinks[0]["topic"].as_str(), Some("events"));
    let columns: Vec<_> = sinks[0]["columns"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "raw_event",
            "timestamp",
            "Accept",
            "Host",
            "User_Agent",
            "event_type"
        ]
    );
}

#[test]
fn secrets_never_reach_the_emitted_plan() {
    let dir = scratch("secrets");
    let file = dir.join("secret.pipe");
    std::fs::write(
        &file,
        "schema e { k: string }\ntopic t { schema e }\n\
         endpoint POST \"/in\" { into t\n body json\n auth bearer \"${PIPEC_TEST_TOKEN}\" }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args(["check", "--emit", "plan"])
        .arg(&file)
        .env("PIPEC_TEST_TOKEN", "hunter2-very-secret")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("auth: <redacted>"), "{stdout}");
}

#[test]
fn environment_values_fill_settings() {
    let dir = scratch("env");
    let file = dir.join("env.pipe");
    std::fs::write(
        &file,
        "kafka { brokers \"${PIPEC_TEST_BROKERS:-localhost:9092}\" }\n\
         schema e { k: string }\ntopic t { schema e }\n\
         sink s { from t\n path \"${PIPEC_TEST_ROOT}/s\"\n checkpoint \"\\${literal}/cp\" }\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .args(["check", "--emit", "plan"])
        .arg(&file)
        .env("PIPEC_TEST_ROOT", "s3://bucket/root")
        .env_remove("PIPEC_TEST_BROKERS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["kafka"]["brokers"].as_str(), Some("localhost:9092"));
    assert_eq!(plan["sinks"][0]["path"]["kind"].as_str(), Some("url"));
    assert_eq!(
        plan["sinks"][0]["path"]["path"].as_str(),
        Some("s3://bucket/root/s")
    );
    assert_eq!(
        plan["sinks"][0]["checkpoint"]["path"].as_str(),
        Some("${literal}/cp")
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn graph_draws_the_pipeline_in_mermaid_and_in_dot_that_graphviz_reads() {
    let mermaid = pipec(&["graph", "pipelines/game_events.pipe"]);
    assert_eq!(mermaid.status.code(), Some(0));
    let mermaid = text(&mermaid.stdout);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("GET /purchase_a_sword"), "{mermaid}");
    let dot = pipec(&["graph", "tests/pipelines/webshop.pipe", "--format", "dot"]);
    assert_eq!(dot.status.code(), Some(0));
    let dot_text = text(&dot.stdout);
    assert!(
        dot_text.contains(r#"where (price * qty) > 100.0 and status in (\"paid\", \"shipped\")"#),
        "{dot_text}"
    );
    // Graphviz, where the machine has it, must take the DOT as it is.
    if let Ok(mut graphviz) = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write;
        graphviz
            .stdin
            .take()
            .unwrap()
            .write_all(&dot.stdout)
            .unwrap();
        let svg = graphviz.wait_with_output().unwrap();
        assert!(svg.status.success(), "{}", text(&svg.stdout));
        assert!(text(&svg.stdout).contains("<svg"));
    }
    let bad = pipec(&["graph", "tests/fixtures/invalid/unknown_schema.pipe"]);
    assert_eq!(
        bad.status.code(),
        Some(1),
        "a pipeline that does not check is not drawn"
    );
}

/// Every pipeline the repository holds, for the tests that draw them all.
fn every_pipeline() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["pipelines", "examples", "tests/pipelines"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for entry in std::fs::read_dir(&root).unwrap() {
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

/// The picture in the README is what `pipec graph` draws today; after a
/// change to the drawing or the seed, regenerate it with the command below.
#[test]
fn the_readme_picture_is_what_pipec_graph_draws() {
    let drawn = pipec(&["graph", "pipelines/game_events.pipe", "--format", "svg"]);
    assert_eq!(drawn.status.code(), Some(0), "{}", text(&drawn.stderr));
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/game_events.svg"),
    )
    .unwrap();
    assert!(
        text(&drawn.stdout) == committed,
        "pipelines/game_events.svg is not what pipec draws; run\n  \
         pipec graph pipelines/game_events.pipe --format svg > pipelines/game_events.svg"
    );
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains("](pipelines/game_events.svg)"),
        "the README shows the picture"
    );
}

/// Every pipeline draws as SVG that an XML parser takes (Python's), with
/// every node's name in it.
#[test]
fn every_pipeline_draws_as_well_formed_svg() {
    for file in every_pipeline() {
        let drawn = pipec(&["graph", &file, "--format", "svg"]);
        assert_eq!(
            drawn.status.code(),
            Some(0),
            "{file}: {}",
            text(&drawn.stderr)
        );
        let mut python = Command::new("python3")
            .args([
                "-c",
                "import sys, xml.etree.ElementTree as ET; root = ET.fromstring(sys.stdin.read()); \
                 print(len(root.findall('.//{http://www.w3.org/2000/svg}g')))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        use std::io::Write;
        python
            .stdin
            .take()
            .unwrap()
            .write_all(&drawn.stdout)
            .unwrap();
        let parsed = python.wait_with_output().unwrap();
        assert!(parsed.status.success(), "{file}: {}", text(&parsed.stderr));
        let groups: usize = text(&parsed.stdout).trim().parse().unwrap();
        let mermaid = text(&pipec(&["graph", &file]).stdout);
        let nodes = mermaid.lines().filter(|l| !l.contains("->")).count() - 1;
        assert_eq!(groups, nodes, "{file}: one group per node");
    }
}

/// The Mermaid of every pipeline renders with the official Mermaid CLI (the
/// library GitHub uses), which the test command installs from npm.
#[test]
fn every_pipeline_mermaid_renders_with_the_mermaid_cli() {
    let Some(script) = std::env::var_os("PIPEC_TEST_MERMAID") else {
        eprintln!("skipped: PIPEC_TEST_MERMAID (tests/services/mermaid.sh) is not set");
        return;
    };
    let dir = scratch("mermaid");
    let mut files = Vec::new();
    for file in every_pipeline() {
        let drawn = pipec(&["graph", &file]);
        assert_eq!(drawn.status.code(), Some(0), "{file}");
        let out = dir.join(file.replace('/', "_").replace(".pipe", ".mmd"));
        std::fs::write(&out, &drawn.stdout).unwrap();
        files.push(out);
    }
    let checked = Command::new("bash")
        .arg(script)
        .arg("check")
        .args(&files)
        .output()
        .expect("mermaid.sh runs");
    assert!(
        checked.status.success(),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    assert_eq!(
        text(&checked.stdout).matches(" renders ").count(),
        files.len()
    );
}
