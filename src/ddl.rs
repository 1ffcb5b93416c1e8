//! `pipec ddl FILE [--dialect hive|spark|trino] [--table NAME] [--data-dir DIR] [--alter OLD]`

use crate::loaded::load;
use crate::Outcome;
use clap::builder::TypedValueParser;
use pipec_compiler::ddl::{self, DdlOptions, Dialect};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct DdlArgs {
    /// The pipeline file.
    file: PathBuf,
    #[arg(long, value_enum, default_value_t = DialectArg::Hive)]
    dialect: DialectArg,
    /// Only this table (`name` or `database.name`).
    #[arg(long)]
    table: Option<String>,
    /// Instead of creating the tables, add the columns FILE's tables have
    /// and those of OLD (the pipeline that ran) lack: `ALTER TABLE`s.
    #[arg(long, value_name = "OLD", conflicts_with = "table")]
    alter: Option<PathBuf>,
    /// Where relative sink paths resolve, for `LOCATION`, as for `pipec run`.
    #[arg(long, env = "PIPEC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A deployment profile (data_dir, env).
    #[arg(long)]
    profile: Option<PathBuf>,
    /// Trino only: the `hive.timestamp-precision` of the catalog, in digits
    /// of a second (3 is Trino's default, MILLISECONDS; 6 MICROSECONDS).
    #[arg(long, default_value_t = DdlOptions::TRINO_DEFAULT_PRECISION,
          value_parser = clap::builder::PossibleValuesParser::new(["3", "6", "9"]).map(|s| s.parse::<u8>().expect("a listed digit")))]
    timestamp_precision: u8,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DialectArg {
    Hive,
    Spark,
    Trino,
}

pub fn run(args: DdlArgs) -> Outcome {
    let loaded = match load(&args.file, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(outcome) => return outcome,
    };
    let data_dir = loaded.data_dir(args.data_dir);
    let data_root = std::path::absolute(&data_dir).unwrap_or(data_dir);
    let dialect = match args.dialect {
        DialectArg::Hive => Dialect::Hive,
        DialectArg::Spark => Dialect::Spark,
        DialectArg::Trino => Dialect::Trino,
    };
    let options = DdlOptions {
        trino_timestamp_precision: args.timestamp_precision,
        ..DdlOptions::new(data_root.display().to_string())
    };
    if let Some(old) = &args.alter {
        let old = match load(old, args.profile.as_deref()) {
            Ok(old) => old,
            Err(outcome) => return outcome,
        };
        print!("{}", ddl::alter(&old.plan, &loaded.plan, dialect, &options));
        return Outcome::Success;
    }
    match ddl::generate(&loaded.plan, dialect, &options, args.table.as_deref()) {
        Ok(text) => {
            print!("{text}");
            Outcome::Success
        }
        Err(error) => {
            eprintln!("error: {error}");
            Outcome::InputErrors
        }
    }
}
