//! `pipec diff OLD NEW [--format text|json]`: what changing the running
//! pipeline from OLD to NEW does, change by change, at NEW's lines.

use crate::loaded::load;
use crate::report::Format;
use crate::Outcome;
use pipec_compiler::evolve::{self, Change, Class};
use pipec_compiler::render::Style;
use pipec_compiler::Source;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The pipeline file that runs now.
    old: PathBuf,
    /// The pipeline file that would replace it.
    new: PathBuf,
    /// `text` for people, `json` for scripts and CI.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// A deployment profile whose `env` supplies `${NAME}` values (both files).
    #[arg(long)]
    profile: Option<PathBuf>,
}

/// Exits 1 when a change is breaking (or a file does not check), else 0.
pub fn run(args: DiffArgs) -> Outcome {
    let old = match load(&args.old, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let new = match load(&args.new, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let Ok(ast) = pipec_compiler::parse(&new.source) else {
        // `load` checked it, so it parses.
        eprintln!(
            "error: `{}` no longer parses; this is a bug in pipec",
            new.source.name
        );
        return Outcome::Environment;
    };
    let changes = evolve::diff(&old.plan, &new.plan, &ast);
    let count = |class: Class| changes.iter().filter(|c| c.class == class).count();
    let (breaking, care, compatible) = (
        count(Class::Breaking),
        count(Class::NeedsCare),
        count(Class::Compatible),
    );
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Text => {
            let style = if stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                Style::Color
            } else {
                Style::Plain
            };
            for change in &changes {
                let _ = writeln!(stdout, "{}", evolve::render(&new.source, change, style));
            }
            let summary = if changes.is_empty() {
                "no changes".to_string()
            } else {
                format!("{breaking} breaking, {care} needing care, {compatible} compatible")
            };
            let _ = writeln!(
                stdout,
                "{} -> {}: {summary}",
                old.source.name, new.source.name
            );
        }
        Format::Json => {
            let report = serde_json::json!({
                "old": old.source.name,
                "new": new.source.name,
                "changes": changes.iter().map(|c| json(&new.source, c)).collect::<Vec<_>>(),
                "breaking": breaking,
                "needs_care": care,
                "compatible": compatible,
            });
            let _ = writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&report).expect("JSON values serialise")
            );
        }
    }
    if breaking > 0 {
        Outcome::InputErrors
    } else {
        Outcome::Success
    }
}

fn json(source: &Source, change: &Change) -> serde_json::Value {
    serde_json::json!({
        "class": change.class,
        "code": change.code,
        "message": change.message,
        "help": change.help,
        "start": source.position(change.span.start),
        "end": source.position(change.span.end),
        "rendered": evolve::render(source, change, Style::Plain),
    })
}
