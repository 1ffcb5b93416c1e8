//! Sinks end to end on the real broker: HTTP and kcat in, Parquet out, read
//! back by DuckDB (from the venv `tests/run.sh` makes), through crashes.

mod common;

use common::{drain_once, duckdb, files_below, kafka_broker, scratch, unique, Pipec};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SEED_COLUMNS: [&str; 6] = [
    "raw_event",
    "timestamp",
    "Accept",
    "Host",
    "User_Agent",
    "event_type",
];

/// `(event_type, Host)` → rows of this run in `table`, by DuckDB.
fn counts_by_type_and_host(
    dir: &std::path::Path,
    table: &str,
    run: &str,
) -> BTreeMap<(String, String), u64> {
    if !files_below(&dir.join(table))
        .iter()
        .any(|f| f.ends_with(".parquet"))
    {
        return BTreeMap::new();
    }
    let sql = format!(
        "select event_type, Host, count(*) from read_parquet('{}/{table}/*.parquet') \
         where json_extract_string(raw_event, '$.\"X-Test-Run\"') = '{run}' group by all",
        dir.display()
    );
    duckdb(&sql)
        .into_iter()
        .map(|row| {
            let key = (
                row[0].as_str().unwrap().to_string(),
                row[1].as_str().unwrap().to_string(),
            );
            (key, row[2].as_u64().unwrap())
        })
        .collect()
}

#[test]
fn the_seed_load_lands_in_the_two_tables_with_the_seed_columns() {
    let Some(bootstrap) = kafka_broker() else {
        return;
    };
    let data = scratch("seed-sinks");
    let data_arg = data.display().to_string();
    let pipec = Pipec::start(&[
        "pipelines/game_events.pipe",
        "--listen",
        "127.0.0.1:0",
        "--brokers",
        &bootstrap,
        "--data-dir",
        &data_arg,
    ]);
    let run = unique("sinks");
    let mut sent: BTreeMap<(String, String), u64> = BTreeMap::new();
    for round in 0..3u64 {
        for (host, base) in [("user1.comcast.com", 7), ("user2.att.com", 11)] {
            for (path, event_type) in [
                ("/", "default"),
                ("/purchase_a_sword", "purchase_sword"),
                ("/join_a_guild", "join_guild"),
            ] {
                for _ in 0..(base + round * 3) {
                    let response = pipec.get(
                        path,
                        &[("Host", host), ("Accept", "*/*"), ("X-Test-Run", &run)],
                    );
                    assert_eq!(response.status, 200);
                    *sent
                        .entry((event_type.to_string(), host.to_string()))
                        .or_default() += 1;
                }
            }
        }
    }
    let expect = |event_type: &str| -> BTreeMap<(String, String), u64> {
        sent.iter()
            .filter(|((t, _), _)| t == event_type)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    };
    // The 10-second trigger writes both tables.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let swords = counts_by_type_and_host(&data, "sword_purchases", &run);
        let guilds = counts_by_type_and_host(&data, "guild_joins", &run);
        if swords == expect("purchase_sword") && guilds == expect("join_guild") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tables never matched what was sent:\nswords {swords:?}\nguilds {guilds:?}\nsent {sent:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    for table in ["sword_purchases", "guild_joins"] {
        let columns: Vec<String> = duckdb(&format!(
            "select column_name from (describe select * from read_parquet('{}/{table}/*.parquet'))",
            data.display()
        ))
        .into_iter()
        .map(|row| row[0].as_str().unwrap().to_string())
        .collect();
        assert_eq!(columns, SEED_COLUMNS);
        let codecs = duckdb(&format!(
            "select distinct compression from parquet_metadata('{}/{table}/*.parquet')",
            data.display()
        ));
        assert_eq!(codecs, [[serde_json::json!("SNAPPY")]], "{table}");
    }
    assert!(pipec.stop().success());
}

/// Writes `messages` into `topic` with kcat, one per line.
fn kcat_produce(bootstrap: &str, topic: &str, messages: &[String]) {
    let mut child = Command::new("kcat")
        .args(["-P", "-b", bootstrap, "-t", topic])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat runs");
    let mut stdin = child.stdin.take().unwrap();
    for message in messages {
        writeln!(stdin, "{message}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn malformed_messages_land_in_the_dead_letter_table_and_the_rest_in_the_tables() {
    let Some(bootstrap) = kafka_broker() else {
        return;
    };
    let data = scratch("dead-letters");
    let marker = unique("dl");
    let malformed = [
        format!("this is not JSON {marker}"),
        format!(r#"{{"event_type": 5, "m": "{marker}"}}"#),
        format!(r#"["{marker}"]"#),
        format!(r#"{{"Host": "{marker}"}}"#),
        format!(r#"{{"event_type": "purchase_sword", "Host": ["{marker}"]}}"#),
    ];
    let valid = [
        format!(r#"{{"event_type": "purchase_sword", "Host": "{marker}"}}"#),
        format!(r#"{{"event_type": "join_guild", "Host": "{marker}"}}"#),
    ];
    // And generated ones: truncated events and printable garbage, each
    // carrying the marker so the test can find it.
    let mut malformed = malformed.to_vec();
    let mut seed = std::process::id() as u64;
    for i in 0..500 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let event = format!(r#"{{"event_type": "join_guild", "Host": "{marker}", "n": {i}}}"#);
        let message = if i % 2 == 0 {
            event[..10 + (seed >> 33) as usize % (event.len() - 12)].to_string() + &marker
        } else {
            let garbage: String = (0..(seed >> 40) % 60)
                .map(|k| char::from(b'!' + ((seed >> (k % 50)) as u8 % 90)))
                .collect();
            format!("{garbage}{marker}")
        };
        malformed.push(message);
    }
    let interleaved: Vec<String> = vec![
        valid[0].clone(),
        malformed[0].clone(),
        malformed[1].clone(),
        valid[1].clone(),
        malformed[2].clone(),
        malformed[3].clone(),
        malformed[4].clone(),
        valid[0].clone(),
    ]
    .into_iter()
    .chain(malformed[5..].iter().cloned())
    .collect();
    kcat_produce(&bootstrap, "events", &interleaved);
    let data_arg = data.display().to_string();
    let stdout = drain_once("pipelines/game_events.pipe", &bootstrap, &data_arg);
    assert!(stdout.contains("sink sword_purchases: read"), "{stdout}");

    let dead = duckdb(&format!(
        "select sink, reason, topic, kafka_partition, kafka_offset from read_parquet('{}/dead_letters/*/*.parquet', hive_partitioning = true) \
         where contains(decode(raw), '{marker}') order by sink, kafka_offset",
        data.display()
    ));
    assert_eq!(
        dead.len(),
        2 * malformed.len(),
        "each sink records each malformed message: {dead:#?}"
    );
    let reasons: Vec<&str> = dead
        .iter()
        .filter(|r| r[0] == "guild_joins")
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert!(reasons[0].starts_with("not valid JSON"), "{reasons:?}");
    assert_eq!(
        reasons[1],
        "field `event_type` should be string but is a number (5)"
    );
    assert_eq!(
        reasons[2],
        format!("not a JSON object but an array ([\"{marker}\"])")
    );
    assert_eq!(reasons[3], "required field `event_type` is missing");
    assert!(
        reasons[4].starts_with("field `Host` should be string but is an array"),
        "{reasons:?}"
    );
    assert!(dead.iter().all(|r| r[2] == "events"));

    let kept = |table: &str| {
        duckdb(&format!(
            "select count(*) from read_parquet('{}/{table}/*.parquet') where Host = '{marker}'",
            data.display()
        ))[0][0]
            .as_u64()
            .unwrap()
    };
    assert_eq!(kept("sword_purchases"), 2);
    assert_eq!(kept("guild_joins"), 1);
}

/// The crash test: `kill -9` during load, again and again; at the end every
/// acknowledged event is in the table exactly once, and no partial file is
/// visible.
#[test]
fn after_repeated_kill_9_every_acknowledged_event_is_written_exactly_once() {
    let Some(bootstrap) = kafka_broker() else {
        return;
    };
    let data = scratch("crash");
    let data_arg = data.display().to_string();
    let run = unique("crash");
    let port = 5000 + (std::process::id() % 1000) as u16 + 17;
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "tests/pipelines/crash.pipe",
        "--listen",
        &listen,
        "--brokers",
        &bootstrap,
        "--data-dir",
        &data_arg,
        "--worker-id",
        "pipec-crash-test",
        "--delivery-timeout",
        "5",
    ];
    let stop_load = std::sync::atomic::AtomicBool::new(false);
    let (acknowledged, attempted) = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let addr: std::net::SocketAddr = listen.parse().unwrap();
            let (mut acknowledged, mut attempted) = (BTreeSet::new(), BTreeSet::new());
            let mut seq = 0u64;
            while !stop_load.load(std::sync::atomic::Ordering::Relaxed) {
                seq += 1;
                let id = format!("{run}-{seq}");
                let kind = if seq.is_multiple_of(3) { "a" } else { "b" };
                attempted.insert(id.clone());
                let path = format!("/event?id={id}&kind={kind}");
                match common::http::try_request(addr, "GET", &path) {
                    Some(response) if response.status == 200 => {
                        acknowledged.insert(id);
                    }
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            (acknowledged, attempted)
        });
        let mut kills = 0;
        let mut rng = std::process::id() as u64;
        let rounds = if std::env::var_os("PIPEC_RELIABILITY_LONG").is_some() {
            50
        } else {
            10
        };
        while kills < rounds {
            let pipec = Pipec::start(&args);
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            std::thread::sleep(Duration::from_millis(1500 + (rng >> 33) % 3000));
            common::signal(pipec.pid(), "KILL");
            drop(pipec);
            kills += 1;
        }
        stop_load.store(true, std::sync::atomic::Ordering::Relaxed);
        load.join().unwrap()
    });
    assert!(
        acknowledged.len() >= 200,
        "only {} events were acknowledged",
        acknowledged.len()
    );

    // One clean run reads what the crashes left and stops.
    drain_once("tests/pipelines/crash.pipe", &bootstrap, &data_arg);

    let files = files_below(&data);
    // The checkpoints' lock files stay, by design (storage::put_if).
    let hidden: Vec<_> = files
        .iter()
        .filter(|f| f.rsplit('/').next().unwrap().starts_with('.') && !f.ends_with(".json.lock"))
        .collect();
    assert!(
        hidden.is_empty(),
        "files of uncommitted writes remain: {hidden:?}"
    );
    for (table, filter) in [("all_events", None), ("a_events", Some("a"))] {
        let written = common::written_once(&data, table, &format!("{run}-"));
        let expected: BTreeSet<_> = acknowledged
            .iter()
            .filter(|id| match filter {
                Some(_) => id
                    .rsplit('-')
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
                    .is_multiple_of(3),
                None => true,
            })
            .cloned()
            .collect();
        let missing: Vec<_> = expected.difference(&written).collect();
        assert!(
            missing.is_empty(),
            "{table}: acknowledged but missing: {missing:?}"
        );
        let unknown: Vec<_> = written.difference(&attempted).collect();
        assert!(unknown.is_empty(), "{table}: never sent: {unknown:?}");
        eprintln!(
            "{table}: {} acknowledged, {} written, {} written without an acknowledgement",
            expected.len(),
            written.len(),
            written.len() - expected.len()
        );
    }
}
