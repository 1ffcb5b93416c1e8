//! `pipec test FILE... [--filter NAME] [--format text|json] [--junit FILE]`:
//! runs the files' `test` blocks (see `pipec_runtime::pipeline_test`) and
//! reports like `cargo test`. Exit 0 when every test passed, 1 when one
//! failed or a file does not check, 2 on usage and environment errors.

use crate::loaded::{environment_error as fail, load};
use crate::report::Format;
use crate::Outcome;
use pipec_compiler::Source;
use pipec_runtime::pipeline_test::compare::{DiffKind, RowDiff};
use pipec_runtime::pipeline_test::{run_test, TestReport};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct TestArgs {
    /// The pipeline files whose tests to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Run only the tests whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write a JUnit XML report here (for CI dashboards).
    #[arg(long)]
    junit: Option<PathBuf>,
    /// A deployment profile (env).
    #[arg(long)]
    profile: Option<PathBuf>,
}

/// One file's results.
struct FileRun {
    source: Source,
    reports: Vec<TestReport>,
}

pub fn run(args: TestArgs) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    let started = Instant::now();
    let scratch = std::env::temp_dir().join(format!("pipec-test-{}", std::process::id()));
    let mut runs = Vec::new();
    let mut outcome = Outcome::Success;
    for file in &args.files {
        let loaded = match load(file, args.profile.as_deref()) {
            Ok(loaded) => loaded,
            Err(Outcome::Environment) => return Outcome::Environment,
            Err(other) => {
                outcome = other;
                continue;
            }
        };
        let selected = loaded
            .plan
            .tests
            .iter()
            .filter(|t| args.filter.as_deref().is_none_or(|f| t.name.contains(f)));
        let mut reports = Vec::new();
        if args.format == Format::Text {
            let count = selected.clone().count();
            println!(
                "\nrunning {count} test{} from {}",
                if count == 1 { "" } else { "s" },
                file.display()
            );
        }
        for (index, test) in selected.enumerate() {
            let dir = scratch.join(format!("{}-{index}", loaded.source.stem()));
            let report = runtime.block_on(run_test(&loaded.plan, test, &dir));
            if report.passed() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            if args.format == Format::Text {
                let verdict = if report.passed() { "ok" } else { "FAILED" };
                println!("test {} ... {verdict}", report.name);
            }
            reports.push(report);
        }
        runs.push(FileRun {
            source: loaded.source,
            reports,
        });
    }
    let passed = runs
        .iter()
        .flat_map(|r| &r.reports)
        .filter(|r| r.passed())
        .count();
    let failed = runs.iter().flat_map(|r| &r.reports).count() - passed;
    if failed > 0 {
        outcome = Outcome::InputErrors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    match args.format {
        Format::Text => print_text(&runs, passed, failed, elapsed, outcome),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&runs, passed, failed)).expect("JSON")
        ),
    }
    if let Some(path) = &args.junit {
        if let Err(error) = std::fs::write(path, junit(&runs)) {
            return fail(&format!("cannot write `{}`: {error}", path.display()));
        }
    }
    if failed == 0 {
        let _ = std::fs::remove_dir_all(&scratch);
    } else if args.format == Format::Text {
        println!("the failed tests' files are kept in {}", scratch.display());
    }
    outcome
}

fn print_text(runs: &[FileRun], passed: usize, failed: usize, elapsed: f64, outcome: Outcome) {
    if failed > 0 {
        println!("\nfailures:");
        for run in runs {
            for report in run.reports.iter().filter(|r| !r.passed()) {
                print!("{}", failure_text(&run.source, report));
            }
        }
    }
    let verdict = if outcome == Outcome::Success {
        "ok"
    } else {
        "FAILED"
    };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; finished in {elapsed:.2}s"
    );
}

/// A failed test: each expectation that did not hold, at its line, with
/// the rows that differ.
fn failure_text(source: &Source, report: &TestReport) -> String {
    let at = source.position(report.at);
    let mut out = format!(
        "\n---- {} ({}:{}) ----\n",
        report.name, source.name, at.line
    );
    for failure in &report.failures {
        let position = source.position(failure.at);
        let line_text = source.line_text(position.line - 1);
        let _ = writeln!(out, "error: {}", failure.message);
        let _ = writeln!(
            out,
            "  --> {}:{}:{}",
            source.name, position.line, position.column
        );
        let _ = writeln!(out, "{:>5} | {}", position.line, line_text.trim_end());
        if let Some(diff) = &failure.diff {
            out.push_str(&diff_table(source, diff));
        }
        out.push('\n');
    }
    out
}

/// The rows as a table: `-` expected but missing, `+` there but not
/// expected, a space for an expected row that was found; expected rows
/// carry their line.
fn diff_table(source: &Source, diff: &RowDiff) -> String {
    let mut header = vec![String::new(), "line".to_string()];
    header.extend(diff.columns.iter().cloned());
    let mut rows = vec![header];
    for line in &diff.lines {
        let marker = match line.kind {
            DiffKind::Matched | DiffKind::Other => " ",
            DiffKind::Missing => "-",
            DiffKind::Unexpected => "+",
        };
        let at = line
            .at
            .map_or(String::new(), |at| source.position(at).line.to_string());
        let mut row = vec![marker.to_string(), at];
        row.extend(line.cells.iter().cloned());
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::from("      |\n");
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "      | {}", cells.join("  ").trim_end());
        if i == 0 {
            // No rule under the marker column, which only holds `-` and `+`.
            let rule: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(c, w)| {
                    if c == 0 {
                        " ".repeat(*w)
                    } else {
                        "-".repeat(*w)
                    }
                })
                .collect();
            let _ = writeln!(out, "      | {}", rule.join("  "));
        }
    }
    out.push_str("      = - expected, not found   + found, not expected\n");
    out
}

fn to_json(runs: &[FileRun], passed: usize, failed: usize) -> serde_json::Value {
    let files: Vec<serde_json::Value> = runs
        .iter()
        .map(|run| {
            let tests: Vec<serde_json::Value> = run
                .reports
                .iter()
                .map(|report| {
                    let failures: Vec<serde_json::Value> = report
                        .failures
                        .iter()
                        .map(|f| {
                            let at = run.source.position(f.at);
                            let diff = f.diff.as_ref().map(|d| {
                                json!({
                                    "columns": d.columns,
                                    "rows": d.lines.iter().map(|l| json!({
                                        "kind": format!("{:?}", l.kind).to_lowercase(),
                                        "line": l.at.map(|at| run.source.position(at).line),
                                        "cells": l.cells,
                                    })).collect::<Vec<_>>(),
                                })
                            });
                            json!({
                                "line": at.line,
                                "column": at.column,
                                "message": f.message,
                                "diff": diff,
                            })
                        })
                        .collect();
                    json!({
                        "name": report.name,
                        "line": run.source.position(report.at).line,
                        "passed": report.passed(),
                        "seconds": report.elapsed.as_secs_f64(),
                        "failures": failures,
                    })
                })
                .collect();
            json!({ "file": run.source.name, "tests": tests })
        })
        .collect();
    json!({ "files": files, "passed": passed, "failed": failed })
}

fn junit(runs: &[FileRun]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for run in runs {
        let failures = run.reports.iter().filter(|r| !r.passed()).count();
        let seconds: f64 = run.reports.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">",
            xml(&run.source.name),
            run.reports.len()
        );
        for report in &run.reports {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&run.source.name),
                xml(&report.name),
                report.elapsed.as_secs_f64()
            );
            if report.passed() {
                out.push_str("/>\n");
                continue;
            }
            let first = &report.failures[0];
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                xml(&first.message),
                xml(&failure_text(&run.source, report))
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
