//! `pipec fmt` as editors, scripts and CI use it: `--check` passes on the
//! shipped pipelines and prints a diff for a messy copy, a file is rewritten
//! in place, `-` filters standard input, and the exit statuses.

mod common;

use common::{scratch, text, ROOT};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn pipec(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pipec"))
        .arg("fmt")
        .args(args)
        .current_dir(ROOT)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pipec runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn seed() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("pipelines/game_events.pipe")).unwrap()
}

/// The seed with its indentation and alignment gone and a blank line too many.
fn messy_seed() -> String {
    let mut messy: String = seed()
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
            format!("{}   \n", words.join(" "))
        })
        .collect();
    messy.insert_str(0, "\n\n");
    messy
}

#[test]
fn the_shipped_pipelines_pass_the_check() {
    let out = pipec(
        &[
            "--check",
            "pipelines/game_events.pipe",
            "examples/storefront.pipe",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn check_prints_a_diff_for_a_messy_file_and_changes_nothing() {
    let dir = scratch("fmt-check");
    let file = dir.join("messy.pipe");
    std::fs::write(&file, messy_seed()).unwrap();
    let out = pipec(&["--check", file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let diff = text(&out.stdout);
    assert!(
        diff.starts_with(&format!("--- {}", file.display())),
        "{diff}"
    );
    assert!(diff.contains("\n@@ -"), "{diff}");
    assert!(diff.contains("\n-into events   \n"), "{diff}");
    assert!(diff.contains("\n+  into    events\n"), "{diff}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), messy_seed());
}

#[test]
fn a_file_is_rewritten_in_place_and_then_left_alone() {
    let dir = scratch("fmt-write");
    let file = dir.join("messy.pipe");
    std::fs::write(&file, messy_seed()).unwrap();
    let out = pipec(&[file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), seed());
    assert!(
        text(&out.stderr).contains("formatted "),
        "{}",
        text(&out.stderr)
    );

    let again = pipec(&[file.to_str().unwrap()], "");
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(text(&again.stderr), "");
    let check = pipec(&["--check", file.to_str().unwrap()], "");
    assert_eq!(check.status.code(), Some(0));
}

#[test]
fn a_dash_formats_standard_input_to_standard_output() {
    let out = pipec(&["-"], &messy_seed());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), seed());
}

#[test]
fn a_file_that_does_not_parse_exits_1_with_its_diagnostics_and_is_kept() {
    let dir = scratch("fmt-syntax");
    let file = dir.join("broken.pipe");
    let broken = "schema s {\n   a string\n}\n";
    std::fs::write(&file, broken).unwrap();
    let out = pipec(&[file.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[E"), "{stderr}");
    assert!(stderr.contains("broken.pipe:2:"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), broken);
}

#[test]
fn an_unreadable_file_exits_2() {
    let out = pipec(&["--check", "no/such/file.pipe"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read `no/such/file.pipe`"));
    assert_eq!(pipec(&[], "").status.code(), Some(2));
}
