//! `pipec check FILE... [--format text|json] [--emit plan] [--against DATA_DIR]`

use crate::profile::{Profile, ProfileEnvironment};
use crate::report::{self, Format};
use crate::Outcome;
use pipec_compiler::render;
use pipec_compiler::{compile, Diagnostics, Severity, Source};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Pipeline files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// `text` for people, `json` for editors and CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also print the checked plan (YAML) of every file without errors.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// A deployment profile whose `env` supplies `${NAME}` values.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Also compare each file with what a run left in this data directory
    /// (its Parquet files and checkpoints): a breaking change is an error.
    #[arg(long, value_name = "DATA_DIR")]
    against: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    Plan,
}

/// One file's result, for the JSON report.
#[derive(serde::Serialize)]
struct FileReport {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    io_error: Option<String>,
    diagnostics: Vec<serde_json::Value>,
}

pub fn run(args: CheckArgs) -> Outcome {
    let profile = match &args.profile {
        Some(path) => match Profile::load(path) {
            Ok(profile) => profile,
            Err(message) => {
                eprintln!("error: {message}");
                return Outcome::Environment;
            }
        },
        None => Profile::default(),
    };
    let environment = ProfileEnvironment { profile: &profile };
    let mut reports = Vec::new();
    let mut plans = Vec::new();
    let (mut errors, mut warnings, mut io_failures) = (0, 0, 0);
    let mut stderr = std::io::stderr().lock();
    for path in &args.files {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                io_failures += 1;
                if args.format == Format::Text {
                    let _ = writeln!(stderr, "error: cannot read `{name}`: {error}");
                }
                reports.push(FileReport {
                    file: name,
                    ok: false,
                    io_error: Some(error.to_string()),
                    diagnostics: Vec::new(),
                });
                continue;
            }
        };
        let source = Source::new(name.clone(), text);
        let (mut diagnostics, mut plan) = match compile(&source, &environment) {
            Ok(checked) => (checked.warnings, Some(checked.plan)),
            Err(diagnostics) => (diagnostics, None),
        };
        if let (Some(data_dir), Some(checked)) = (&args.against, &plan) {
            match against(&source, checked, data_dir) {
                Ok(found) => {
                    let breaking = found.count(Severity::Error) > 0;
                    diagnostics.0.extend(found.0);
                    if breaking {
                        plan = None;
                    }
                }
                Err(message) => {
                    io_failures += 1;
                    let _ = writeln!(stderr, "error: {message}");
                }
            }
        }
        errors += diagnostics.count(Severity::Error);
        warnings += diagnostics.count(Severity::Warning);
        match args.format {
            Format::Text => {
                report::print(&source, &diagnostics);
                let _ = writeln!(stderr, "{}", summary(&name, &diagnostics, plan.as_ref()));
            }
            Format::Json => reports.push(FileReport {
                file: name,
                ok: plan.is_some(),
                io_error: None,
                diagnostics: diagnostics
                    .iter()
                    .map(|d| {
                        serde_json::to_value(render::to_json(&source, d))
                            .expect("diagnostics serialise")
                    })
                    .collect(),
            }),
        }
        plans.extend(plan);
    }
    drop(stderr);

    let mut stdout = std::io::stdout().lock();
    if args.format == Format::Json {
        let report = serde_json::json!({
            "files": reports,
            "errors": errors,
            "warnings": warnings,
        });
        let _ = writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        );
    }
    if args.emit == Some(Emit::Plan) {
        for (i, plan) in plans.iter().enumerate() {
            if i > 0 {
                let _ = writeln!(stdout, "---");
            }
            let _ = write!(stdout, "{}", plan.to_yaml());
        }
    }
    if io_failures > 0 {
        Outcome::Environment
    } else if errors > 0 {
        Outcome::InputErrors
    } else {
        Outcome::Success
    }
}

/// The changes `plan` makes to the files and checkpoints in `data_dir`, as
/// diagnostics (breaking: errors; needing care: warnings).
pub fn against(
    source: &Source,
    plan: &pipec_compiler::Plan,
    data_dir: &std::path::Path,
) -> Result<Diagnostics, String> {
    let ast = pipec_compiler::parse(source).map_err(|_| "the file does not parse".to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let changes = runtime
        .block_on(pipec_runtime::written::against(plan, &ast, data_dir))
        .map_err(|e| format!("cannot read `{}`: {e}", data_dir.display()))?;
    Ok(pipec_compiler::evolve::to_diagnostics(&changes))
}

fn summary(name: &str, diagnostics: &Diagnostics, plan: Option<&pipec_compiler::Plan>) -> String {
    let errors = diagnostics.count(Severity::Error);
    let warnings = diagnostics.count(Severity::Warning);
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    match plan {
        Some(plan) => {
            let mut line = format!(
                "{name}: ok: {}, {}, {}, {}",
                count(plan.endpoints.len(), "endpoint"),
                count(plan.topics.len(), "topic"),
                count(plan.sinks.len(), "sink"),
                count(plan.tables.len(), "table"),
            );
            if warnings > 0 {
                line.push_str(&format!(" ({})", count(warnings, "warning")));
            }
            line
        }
        None => {
            let mut line = format!("{name}: {}", count(errors, "error"));
            if warnings > 0 {
                line.push_str(&format!(", {}", count(warnings, "warning")));
            }
            line
        }
    }
}
