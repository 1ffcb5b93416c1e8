//! `pipec run FILE [--listen ADDR] [--brokers LIST] [--role api|sinks|all]
//! [--data-dir DIR] [--profile FILE] [--metastore thrift://HOST:PORT]`

use crate::loaded::{environment_error, load, Loaded};
use crate::Outcome;
use pipec_compiler::Plan;
use pipec_runtime::api::ApiLimits;
use pipec_runtime::bus::{BusSettings, EmbeddedBroker};
use pipec_runtime::sink::SinkSummary;
use pipec_runtime::{Pipeline, RunSettings, SinkFailurePolicy};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The pipeline file.
    file: PathBuf,
    /// Where the API listens (the seed's port by default; 0.0.0.0:5000 to expose it).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Kafka bootstrap servers; without them (here, in PIPEC_BROKERS, the
    /// profile or the file) an embedded broker is started.
    #[arg(long, env = "PIPEC_BROKERS")]
    brokers: Option<String>,
    /// Which parts run in this process.
    #[arg(long, value_enum, default_value_t = Role::All)]
    role: Role,
    /// Where relative sink and checkpoint paths resolve.
    #[arg(long, env = "PIPEC_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Deployment settings: brokers, listen, data_dir, kafka options, env.
    #[arg(long)]
    profile: Option<PathBuf>,
    /// A librdkafka setting, such as `security.protocol=SASL_SSL` (repeatable).
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_option)]
    kafka_options: Vec<(String, String)>,
    /// Seconds an event may wait for the broker before the client gets 503.
    #[arg(long, default_value_t = 10.0)]
    delivery_timeout: f64,
    /// Seconds between status lines (0: none).
    #[arg(long, default_value_t = 30.0)]
    status_interval: f64,
    /// Every sink reads what its topic holds now, writes it, and stops
    /// (with `--role sinks`, the process then exits): for backfills.
    #[arg(long)]
    once: bool,
    /// Answer read-only SQL at `POST /sql` (behind the endpoints' tokens).
    #[arg(long)]
    sql: bool,
    /// Rows `POST /sql` returns at most per query.
    #[arg(long, default_value_t = 10_000)]
    sql_max_rows: usize,
    /// Seconds a `POST /sql` query may run.
    #[arg(long, default_value_t = 30.0)]
    sql_timeout: f64,
    /// This sink worker's stable name in its consumer groups (Kafka's static
    /// membership): unique per worker, the same across its restarts, so a
    /// restarted worker takes its partitions back at once.
    #[arg(long, env = "PIPEC_WORKER_ID")]
    worker_id: Option<String>,
    /// When a sink stops: `exit` refuses new events, answers what is in
    /// flight and exits non-zero (for a supervisor to restart it);
    /// `degrade` keeps serving, with `/health` answering 503.
    #[arg(long, value_enum, default_value_t = OnSinkFailure::Exit, env = "PIPEC_ON_SINK_FAILURE")]
    on_sink_failure: OnSinkFailure,
    /// Seconds a sink may keep failing to write or claim before `/health`
    /// reports it `retrying` (503) and `pipec_sink_up` drops to 0.
    #[arg(long, default_value_t = 60.0)]
    retry_bound: f64,
    /// A Hive metastore (`thrift://HOST:PORT`) the sinks register their
    /// tables and partitions in, so engines find them without DDL.
    #[arg(long, env = "PIPEC_METASTORE")]
    metastore: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnSinkFailure {
    Exit,
    Degrade,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Role {
    /// The HTTP API only.
    Api,
    /// The sink workers only.
    Sinks,
    /// Both.
    All,
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

pub fn run(args: RunArgs) -> Outcome {
    let loaded = match load(&args.file, args.profile.as_deref()) {
        Ok(loaded) => loaded,
        Err(Outcome::InputErrors) => {
            eprintln!(
                "error: `{}` has errors; nothing was started",
                args.file.display()
            );
            return Outcome::InputErrors;
        }
        Err(outcome) => return outcome,
    };
    let data_dir = loaded.data_dir(args.data_dir.clone());
    // Files and checkpoints written by an earlier version of the file are
    // the truth: a change they cannot be read with stops the run here.
    let writes = args.role != Role::Api;
    match writes
        .then(|| crate::check::against(&loaded.source, &loaded.plan, &data_dir))
        .transpose()
    {
        Ok(None) => {}
        Ok(Some(changes)) => {
            crate::report::print(&loaded.source, &changes);
            if changes.count(pipec_compiler::Severity::Error) > 0 {
                eprintln!(
                    "error: `{}` cannot run over `{}`: its files were written with a schema this file cannot read; nothing was started\n  \
                     = help: undo the change, or give each changed sink a new `path` and `checkpoint` (and its table a new location), or move the old files away; `pipec diff OLD NEW` lists every change",
                    args.file.display(),
                    data_dir.display()
                );
                return Outcome::InputErrors;
            }
        }
        Err(message) => return environment_error(&message),
    }
    let Loaded {
        source,
        plan,
        profile,
    } = loaded;
    let listen = args
        .listen
        .or(profile.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5000)));
    let mut options: BTreeMap<String, String> = plan
        .kafka
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.value().to_string()))
        .collect();
    options.extend(profile.kafka.clone());
    options.extend(args.kafka_options.iter().cloned());
    if let Some(key) = pipec_compiler::plan::DELIVERY_TIMEOUT_OPTIONS
        .iter()
        .find(|key| options.contains_key(**key))
    {
        return environment_error(&format!(
            "the Kafka option `{key}` is the delivery timeout, which pipec sets from `--delivery-timeout` (it bounds each request too): drop the option and pass `--delivery-timeout SECONDS`"
        ));
    }
    let brokers = args
        .brokers
        .clone()
        .or(profile.brokers.clone())
        .or(plan.kafka.brokers.clone())
        .filter(|b| !b.trim().is_empty());

    // The mock cluster lives on this thread for the whole run.
    let embedded = match brokers {
        Some(_) => None,
        None => match EmbeddedBroker::start().and_then(|b| b.create_topics(&plan).map(|()| b)) {
            Ok(broker) => Some(broker),
            Err(error) => return environment_error(&error.to_string()),
        },
    };
    let bootstrap_servers = brokers
        .clone()
        .or_else(|| embedded.as_ref().map(EmbeddedBroker::bootstrap_servers))
        .unwrap_or_default();
    let delivery_timeout = match seconds(args.delivery_timeout) {
        Some(d) if !d.is_zero() => d,
        _ => return environment_error("--delivery-timeout must be a positive number of seconds"),
    };
    let Some(retry_bound) = seconds(args.retry_bound) else {
        return environment_error("--retry-bound must be a number of seconds, 0 or more");
    };
    let Some(status_interval) = seconds(args.status_interval) else {
        return environment_error("--status-interval must be a number of seconds, 0 or more");
    };
    let metastore = match args.metastore.clone().or(profile.metastore.clone()) {
        Some(uri) => match pipec_runtime::metastore::parse_uri(&uri) {
            Ok(_) => Some(uri),
            Err(reason) => return environment_error(&reason),
        },
        None => None,
    };
    let settings = RunSettings {
        listen,
        bus: BusSettings {
            bootstrap_servers: bootstrap_servers.clone(),
            options,
            delivery_timeout,
            worker_id: args.worker_id.clone(),
            embedded: embedded.is_some(),
        },
        embedded: embedded.is_some(),
        limits: ApiLimits {
            delivery_timeout,
            ..ApiLimits::default()
        },
        status_interval,
        role: match args.role {
            Role::Api => pipec_runtime::Role::Api,
            Role::Sinks => pipec_runtime::Role::Sinks,
            Role::All => pipec_runtime::Role::All,
        },
        data_dir: data_dir.clone(),
        once: args.once,
        sql: args.sql.then(|| pipec_runtime::sql::QueryLimits {
            max_rows: Some(args.sql_max_rows),
            timeout: seconds(args.sql_timeout),
            read_only: true,
        }),
        on_sink_failure: match args.on_sink_failure {
            OnSinkFailure::Exit => SinkFailurePolicy::Exit,
            OnSinkFailure::Degrade => SinkFailurePolicy::Degrade,
        },
        retry_bound,
        metastore,
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return environment_error(&format!("cannot start the async runtime: {error}"))
        }
    };
    let outcome = runtime.block_on(async move {
        let pipeline = match Pipeline::build(plan, settings) {
            Ok(pipeline) => pipeline,
            Err(error) => return environment_error(&error.to_string()),
        };
        let banner = Banner {
            source: &source.name,
            plan: pipeline.plan(),
            bootstrap_servers: &bootstrap_servers,
            embedded: brokers.is_none(),
            data_dir: &data_dir,
            role: args.role,
        };
        let banner_lines = banner.lines_before_listen();
        let bound = match pipeline.bind().await {
            Ok(bound) => bound,
            Err(error) => return environment_error(&error.to_string()),
        };
        print_banner(&banner_lines, bound.local_addr(), args.role);
        match bound.serve(shutdown_signal()).await {
            Ok(summaries) => {
                print_summaries(&summaries);
                Outcome::Success
            }
            Err(error) => environment_error(&error.to_string()),
        }
    });
    // Clients first, then the broker they talk to.
    drop(runtime);
    drop(embedded);
    outcome
}

fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value))
}

struct Banner<'a> {
    source: &'a str,
    plan: &'a Plan,
    bootstrap_servers: &'a str,
    embedded: bool,
    data_dir: &'a std::path::Path,
    role: Role,
}

impl Banner<'_> {
    fn lines_before_listen(&self) -> Vec<String> {
        let plan = self.plan;
        let mut lines = vec![format!(
            "pipec run {}: pipeline `{}`",
            self.source, plan.name
        )];
        let kafka = if self.embedded {
            format!(
                "embedded broker at {} (librdkafka mock cluster, in memory only; use --brokers for a real cluster)",
                self.bootstrap_servers
            )
        } else {
            format!("brokers {}", self.bootstrap_servers)
        };
        lines.push(format!("  kafka    {kafka}"));
        let topics: Vec<String> = plan
            .topics
            .iter()
            .map(|t| {
                format!(
                    "{} ({} partition{})",
                    t.name,
                    t.partitions,
                    if t.partitions == 1 { "" } else { "s" }
                )
            })
            .collect();
        lines.push(format!("  topics   {}", topics.join(", ")));
        if self.role == Role::Api {
            lines.push("  sinks    not run here (--role api)".to_string());
        } else {
            for sink in &plan.sinks {
                let trigger = match &sink.trigger {
                    pipec_compiler::plan::Trigger::Once => "once".to_string(),
                    pipec_compiler::plan::Trigger::Every { interval_ms, rows } => {
                        let mut parts = Vec::new();
                        if let Some(ms) = interval_ms {
                            parts.push(format!("{}s", *ms as f64 / 1000.0));
                        }
                        if let Some(rows) = rows {
                            parts.push(format!("{rows} rows"));
                        }
                        format!("every {}", parts.join(" or "))
                    }
                };
                lines.push(format!(
                    "  sink     {} <- {} ({trigger}) -> {}",
                    sink.name,
                    sink.topic.name,
                    sink.path.as_str()
                ));
            }
        }
        let data_dir =
            std::path::absolute(self.data_dir).unwrap_or_else(|_| self.data_dir.to_path_buf());
        lines.push(format!("  data     {}", data_dir.display()));
        lines
    }
}

fn print_banner(lines: &[String], addr: SocketAddr, role: Role) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    if role == Role::Sinks {
        // The port stays open for /metrics only.
        let _ = writeln!(stdout, "  api      not served here (--role sinks)");
        let _ = writeln!(
            stdout,
            "  metrics  listening on http://{addr} (GET /metrics)"
        );
    } else {
        let _ = writeln!(stdout, "  api      listening on http://{addr}");
        let _ = writeln!(stdout, "  metrics  http://{addr}/metrics");
    }
    let _ = stdout.flush();
}

/// One line per sink, on stdout, when the run ends.
fn print_summaries(summaries: &[SinkSummary]) {
    let mut stdout = std::io::stdout().lock();
    for s in summaries {
        let _ = writeln!(
            stdout,
            "sink {}: read {} events, wrote {} rows in {} files, {} dead letters",
            s.sink, s.events_read, s.rows_written, s.files, s.dead_letters
        );
    }
    let _ = stdout.flush();
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: no new requests; finishing deliveries");
}
