//! `pipec compact FILE [--sink NAME] [--data-dir DIR]`: compacts and
//! vacuums a pipeline's Delta tables now, beside running sinks.

use crate::loaded::{environment_error as fail, load};
use crate::Outcome;
use pipec_runtime::storage::Storage;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct CompactArgs {
    /// The pipeline file whose Delta tables to compact.
    file: PathBuf,
    /// Only this sink's table (default: every `format delta` sink).
    #[arg(long)]
    sink: Option<String>,
    /// Where relative sink paths resolve, as for `pipec run`.
    #[arg(long, env = "PIPEC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A deployment profile (data_dir, env).
    #[arg(long)]
    profile: Option<PathBuf>,
}

pub fn run(args: CompactArgs) -> Outcome {
    // A rewrite frees row groups as it goes: hand them back (allocator.rs).
    crate::allocator::return_freed_memory_at_once();
    let loaded = match load(&args.file, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let data_dir = loaded.data_dir(args.data_dir.clone());
    let plan = loaded.plan;
    let sinks: Vec<_> = match &args.sink {
        Some(name) => match plan.sinks.iter().find(|s| &s.name == name) {
            Some(sink) if sink.format.delta().is_some() => vec![sink.clone()],
            Some(_) => {
                return fail(&format!(
                    "sink `{name}` writes plain Parquet files: only a `format delta` sink's table can be compacted while it is read"
                ))
            }
            None => {
                let names: Vec<&str> = plan.sinks.iter().map(|s| s.name.as_str()).collect();
                return fail(&format!(
                    "the pipeline has no sink `{name}` (its sinks: {})",
                    names.join(", ")
                ));
            }
        },
        None => plan
            .sinks
            .iter()
            .filter(|s| s.format.delta().is_some())
            .cloned()
            .collect(),
    };
    if sinks.is_empty() {
        return fail(
            "the pipeline has no `format delta` sink: plain Parquet sinks are not compacted",
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
    };
    runtime.block_on(async move {
        let mut outcome = Outcome::Success;
        for sink in &sinks {
            let storage = match Storage::open(&sink.path, &data_dir) {
                Ok(storage) => storage,
                Err(error) => {
                    eprintln!("error: sink `{}`: {error}", sink.name);
                    outcome = Outcome::Environment;
                    continue;
                }
            };
            match pipec_runtime::compact::compact(&storage, &plan.name, sink).await {
                Ok(done) if done.version.is_none() => {
                    println!("{}: no table yet at {}", sink.name, storage.display());
                }
                Ok(done) => println!(
                    "{}: {} small files compacted into {}, {} old files vacuumed; table version {}",
                    sink.name,
                    done.files_removed,
                    done.files_added,
                    done.files_vacuumed,
                    done.version.unwrap_or_default()
                ),
                Err(error) => {
                    eprintln!("error: sink `{}`: {error}", sink.name);
                    outcome = Outcome::Environment;
                }
            }
        }
        outcome
    })
}
