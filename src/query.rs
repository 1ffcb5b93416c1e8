//! `pipec query FILE [SQL] [--format table|csv|json] [--data-dir DIR]`

use crate::loaded::{environment_error as fail, load};
use crate::Outcome;
use pipec_runtime::sql::{self, QueryError, QueryLimits, QueryResult, SessionContext};
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct QueryArgs {
    /// The pipeline file whose tables to query.
    file: PathBuf,
    /// SQL to run (`;`-separated statements; `-` reads standard input).
    /// Without it, an interactive prompt.
    sql: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Where relative sink paths resolve, as for `pipec run`.
    #[arg(long, env = "PIPEC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A deployment profile (data_dir, env).
    #[arg(long)]
    profile: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

pub fn run(args: QueryArgs) -> Outcome {
    let loaded = match load(&args.file, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let data_dir = loaded.data_dir(args.data_dir.clone());
    let plan = loaded.plan;
    let sql_text = match args.sql.as_deref() {
        Some("-") => {
            let mut text = String::new();
            if let Err(error) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                return fail(&format!("cannot read standard input: {error}"));
            }
            Some(text)
        }
        other => other.map(str::to_string),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    runtime.block_on(async move {
        let (ctx, tables) = match pipec_runtime::catalog::session(&plan, &data_dir).await {
            Ok(session) => session,
            Err(error) => return fail(&format!("cannot open the tables: {error}")),
        };
        warn_if_no_files(&plan, &tables, &data_dir);
        match sql_text {
            Some(text) => match sql::run(&ctx, &text, QueryLimits::CLI).await {
                Ok(results) => print_results(&results, args.format),
                Err(error) => {
                    print_query_error(&text, &error);
                    Outcome::InputErrors
                }
            },
            None => interactive(&ctx, args.format).await,
        }
    })
}

/// An empty answer over a data directory that holds nothing is most often
/// a wrong `--data-dir`: when no local table has a file, say so on stderr,
/// and where pipec looked.
fn warn_if_no_files(
    plan: &pipec_compiler::Plan,
    tables: &[pipec_runtime::catalog::CatalogTable],
    data_dir: &std::path::Path,
) {
    let dead = &plan.dead_letters;
    let local: Vec<(&pipec_runtime::catalog::CatalogTable, &str)> = tables
        .iter()
        .filter(|t| !(t.database == dead.database && t.name == dead.table))
        .filter_map(|t| t.location.strip_prefix("file://").map(|path| (t, path)))
        .collect();
    if local.is_empty() || local.iter().any(|(_, path)| has_parquet(path)) {
        return;
    }
    eprintln!(
        "warning: no Parquet files found for any table (data directory {})",
        data_dir.display()
    );
    for (table, path) in &local {
        eprintln!("  {}.{}: looked in {path}", table.database, table.name);
    }
    eprintln!("  is this where `pipec run` wrote? pass its `--data-dir` (or set PIPEC_DATA_DIR)");
}

/// Whether a directory holds a `.parquet` file at any depth.
fn has_parquet(directory: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            has_parquet(&path.to_string_lossy())
        } else {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Hidden files are writes not yet committed: readers skip them.
            !name.starts_with('.') && !name.starts_with('_') && name.ends_with(".parquet")
        }
    })
}

fn print_results(results: &[QueryResult], format: Format) -> Outcome {
    let mut stdout = std::io::stdout().lock();
    for (i, result) in results.iter().enumerate() {
        let text = match format {
            Format::Table => {
                sql::to_table(result).map(|t| if i > 0 { format!("\n{t}") } else { t })
            }
            Format::Csv => sql::to_csv(result),
            Format::Json => sql::to_json_rows(result)
                .map(|rows| serde_json::to_string_pretty(&rows).expect("rows serialise") + "\n"),
        };
        match text {
            Ok(text) => {
                let _ = stdout.write_all(text.as_bytes());
            }
            Err(error) => return fail(&format!("cannot format the result: {error}")),
        }
    }
    Outcome::Success
}

/// The error, as `pipec check` shows one: where it is (`query:LINE:COL`),
/// the line with a caret under the spot, and help.
fn print_query_error(sql_text: &str, error: &QueryError) {
    eprintln!("error: {error}");
    if let QueryError::Invalid { position, help, .. } = error {
        if let Some((line, column)) = position {
            if let Some(text) = sql_text.lines().nth(line.saturating_sub(1)) {
                eprintln!("  --> query:{line}:{column}");
                eprintln!("   |");
                eprintln!("   | {text}");
                eprintln!("   | {}^", " ".repeat(column.saturating_sub(1)));
            }
        }
        if let Some(help) = help {
            eprintln!("   = help: {help}");
        }
    }
}

async fn interactive(ctx: &SessionContext, format: Format) -> Outcome {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(editor) => editor,
        Err(error) => return fail(&format!("cannot start the prompt: {error}")),
    };
    let history = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pipec_history"));
    if let Some(history) = &history {
        let _ = editor.load_history(history);
    }
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() {
            "pipec> "
        } else {
            "    -> "
        };
        match editor.readline(prompt) {
            Ok(line) => {
                statement.push_str(&line);
                statement.push('\n');
                if !line.trim_end().ends_with(';') {
                    continue;
                }
                let _ = editor.add_history_entry(statement.trim());
                match sql::run(ctx, &statement, QueryLimits::CLI).await {
                    Ok(results) => {
                        print_results(&results, format);
                    }
                    Err(error) => print_query_error(&statement, &error),
                }
                statement.clear();
            }
            Err(rustyline::error::ReadlineError::Interrupted) => statement.clear(),
            Err(_) => break,
        }
    }
    if let Some(history) = &history {
        let _ = editor.save_history(history);
    }
    Outcome::Success
}
