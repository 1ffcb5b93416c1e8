#!/usr/bin/env python
"""Renders bench/run's figures as one Markdown report (stdout).

Usage: report.py OUT_DIR EVENTS DURATION CONNECTIONS REPEATS ROUNDS

Reads OUT_DIR/results.tsv, the wrk outputs, the query JSONs and the
freshness JSON. It starts with issue 13's table of goals: every figure, its
ratio and whether the goal is met. In the stage tables every ratio is
pipec's throughput over the baseline's (for queries: the baseline's time
over pipec's), so above 1 means pipec is faster. Exits 1 if the engines'
query rows disagree or a figure of the goals table is missing.
"""
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def results(out):
    figures = {}
    for line in open(os.path.join(out, "results.tsv")):
        stage, name, value = line.rstrip("\n").split("\t")
        figures[(stage, name)] = float(value)
    return figures


def wrk(path):
    """requests/s, p50 and p99 in ms, requests and non-2xx of a wrk output."""
    text = open(path).read()

    def latency(percent):
        # Only a run with --latency has the distribution (not the warm-up).
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        return float(match.group(1)) * UNITS[match.group(2)] if match else None

    requests = int(re.search(r"(\d+) requests in", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": latency(50),
        "p99": latency(99),
        "requests": requests,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1).strip() if errors else "none",
    }


def answered(out, name, rounds):
    """2xx answers of the warm-up and every measured run together."""
    total = 0
    for suffix in ["warmup"] + [str(r) for r in range(1, rounds + 1)]:
        run = wrk(os.path.join(out, f"wrk-{name}-{suffix}.txt"))
        total += run["requests"] - run["non2xx"]
    return total


def server(out, name, rounds):
    """A server's rounds: the median of each figure, the spread of requests/s."""
    runs = [wrk(os.path.join(out, f"wrk-{name}-{r}.txt")) for r in range(1, rounds + 1)]
    rps = [run["rps"] for run in runs]
    return {
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50": statistics.median(run["p50"] for run in runs),
        "p99": statistics.median(run["p99"] for run in runs),
        "non2xx": sum(run["non2xx"] for run in runs),
        "socket_errors": "; ".join(sorted({run["socket_errors"] for run in runs})),
    }


def machine():
    cpu = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            memory = int(line.split()[1]) / 1024 / 1024
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} × {cpu}, {memory:.0f} GiB, {platform.system()} {platform.release()}; "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; commit {commit or 'unknown'}"
    )


def mib(kib):
    return f"{kib / 1024:.0f} MiB"


def ratio(x):
    return f"{x:.2f}×"


def freshness_row(out, name, what):
    """The freshness goal's row from bench/freshness.py's JSON `name`."""
    fresh = json.load(open(os.path.join(out, name)))
    p50, p99 = percentile(fresh["latencies"], 50), percentile(fresh["latencies"], 99)
    return (f"acked → visible in `pipec query`, {what}trigger 10 s ({fresh['acknowledged']:,} events)",
            f"p50 {p50:.2f} s, p99 {p99:.2f} s, max {max(fresh['latencies']):.2f} s",
            "≤ 11 s at p99", p99 <= 11.0)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


STAGES = os.environ.get("BENCH_STAGES", "ingest parquet query check freshness delta durability").split()


def goals(out, figures, rounds, high_connections):
    """Issue 13's table, with issue 28's goals where it raised them: (figure,
    measured, goal, met), and what is missing
    of the stages that ran."""
    rows, missing = [], []

    def get(stage, name):
        if (stage, name) not in figures:
            if stage in STAGES:
                missing.append(f"{stage}/{name}")
            return None
        return figures[(stage, name)]

    n = get("parquet", "events")
    pipec_s, limit_s, spark_s = get("parquet", "pipec_seconds"), get("parquet", "limit_seconds"), get("parquet", "spark_seconds")
    # The read's limit is the faster of rdkafka's two readers.
    poll_s, stream_s = get("parquet", "kafka_poll_seconds"), get("parquet", "kafka_stream_seconds")
    read_s = None if None in (poll_s, stream_s) else min(poll_s, stream_s)
    # Issue 28's whole-job bound: the CPU-seconds of the cheaper read plus
    # those of the decode-and-encode limit, spread over the machine's cores.
    read_cpu = [get("parquet", f"kafka_{r}_cpu_seconds") for r in ("poll", "stream")]
    limit_cpu, cores = get("parquet", "limit_cpu_seconds"), get("parquet", "cores")
    if None not in (n, pipec_s, limit_s, spark_s, read_s, limit_cpu, cores, *read_cpu):
        bound_s = (min(read_cpu) + limit_cpu) / cores
        to_bound, to_spark, to_read = bound_s / pipec_s, spark_s / pipec_s, read_s / pipec_s
        pipec_cpu = figures.get(("parquet", "pipec_cpu_seconds"))
        used = "" if pipec_cpu is None else f"; pipec used {pipec_cpu:.1f} CPU-s"
        rows.append((f"topic → Parquet, {n / 1e6:.0f}M events, 2 sinks",
                     f"{to_bound:.2f}× the whole-job bound ({bound_s:.2f} s: the read's "
                     f"{min(read_cpu):.1f} CPU-s + the limit's {limit_cpu:.1f} CPU-s over {cores:.0f} cores), "
                     f"{to_spark:.1f}× Spark ({n / pipec_s:,.0f} events/s); "
                     f"{to_read:.2f}× rdkafka's read alone, {limit_s / pipec_s:.2f}× the limit's wall time{used}",
                     "≥ 0.8× the whole-job bound, ≥ 20× Spark", to_bound >= 0.8 and to_spark >= 20))
    rss, rss_large, large = get("parquet", "pipec_peak_rss_kib"), get("parquet", "large_pipec_peak_rss_kib"), get("parquet", "large_events")
    if None not in (rss, rss_large, large, n):
        rows.append((f"peak RSS of that backfill, {n / 1e6:.0f}M and {large / 1e6:.0f}M events",
                     f"{mib(rss)} and {mib(rss_large)} ({rss_large / rss:.2f}×)",
                     "≤ 128 MiB, flat as the topic grows", max(rss, rss_large) <= 128 * 1024 and rss_large <= rss * 1.15))
    try:
        if "query" not in STAGES:
            raise LookupError
        engines = {e: json.load(open(os.path.join(out, f"query-{e}.json"))) for e in ("pipec", "duckdb")}
        totals = {e: sum(statistics.median(q["seconds"]) for q in engines[e]["queries"]) for e in engines}
        times = totals["pipec"] / totals["duckdb"]
        rows.append((f"the seed's four queries, {get('query', 'rows') / 1e6:.0f}M rows",
                     f"{times:.2f}× DuckDB's time ({totals['pipec']:.2f} s against {totals['duckdb']:.2f} s)",
                     "≤ 1.25× DuckDB's time", times <= 1.25))
    except (OSError, KeyError, TypeError):
        missing.append("query JSONs")
    except LookupError:
        pass
    try:
        if "ingest" not in STAGES:
            raise LookupError
        pipec, bare = server(out, "pipec", rounds), server(out, "bare", rounds)
        high_pipec, high_bare = wrk(os.path.join(out, "wrk-pipec-high.txt")), wrk(os.path.join(out, "wrk-bare-high.txt"))
        at_64, at_high = pipec["rps"] / bare["rps"], high_pipec["rps"] / high_bare["rps"]
        rows.append(("ingest, acks=all, GET /purchase_a_sword",
                     f"{at_64:.2f}× bare axum at 64 connections, {at_high:.2f}× at {high_connections}",
                     "≥ 0.5× bare axum at some stated concurrency", max(at_64, at_high) >= 0.5))
    except (OSError, AttributeError):
        missing.append("wrk outputs")
    except LookupError:
        pass
    try:
        if "freshness" not in STAGES:
            raise LookupError
        rows.append(freshness_row(out, "freshness.json", ""))
    except (OSError, KeyError, ValueError):
        missing.append("freshness.json")
    except LookupError:
        pass
    s1000, s4000, growth = get("check", "seconds_1000"), get("check", "seconds_4000"), get("check", "growth")
    if None not in (s1000, s4000, growth):
        rows.append(("`pipec check`, 1,000 and 4,000 of each declaration",
                     f"{s1000:.3f} s and {s4000:.3f} s; time per declaration ×{growth:.2f} from 1,000 to 4,000",
                     "≤ 0.2 s at 1,000, growing linearly", s1000 <= 0.2 and growth <= 1.1))
    cold = get("build", "cold_release_seconds")
    if cold is not None:
        apart = " (timed apart from this run)" if ("build", "cold_release_measured_apart") in figures else ""
        rows.append(("cold `cargo build --release -p pipec`", f"{cold / 60:.1f} min{apart}", "≤ 20 min", cold <= 20 * 60))
    return rows, missing


def query_total(out, name):
    """The four queries' time (sum of medians) and their rows, of one run."""
    run = json.load(open(os.path.join(out, name)))
    return sum(statistics.median(q["seconds"]) for q in run["queries"]), [q["rows"] for q in run["queries"]]


def delta_goals(out, figures):
    """Issue 25's benchmark goals: (figure, measured, goal, met), missing."""
    rows, missing = [], []
    if "delta" not in STAGES:
        return rows, missing

    def get(name):
        if ("delta", name) not in figures:
            missing.append(f"delta/{name}")
            return None
        return figures[("delta", name)]

    commits, swords, guilds = get("day_delta_sword_purchases_commits"), get("day_sword_purchases"), get("day_guild_joins")
    try:
        totals = {layout: query_total(out, f"delta-query-{layout}.json")
                  for layout in ("one-file", "delta", "delta-uncompacted", "plain")}
        one = totals["one-file"][0]
        agree = all(totals[layout][1] == totals["one-file"][1] for layout in totals)
        if not agree:
            missing.append("delta queries: the layouts' rows disagree")
        if None not in (commits, swords, guilds):
            day = f"{commits:,.0f} commits, {swords + guilds:,.0f} rows"
            compacted = totals["delta"][0] / one
            rows.append((f"the seed's four queries, a day of triggers ({day}) compacted by `pipec compact`",
                         f"{compacted:.2f}× the time on one file ({totals['delta'][0]:.2f} s against {one:.2f} s)",
                         "≤ 1.5× one file's time", compacted <= 1.5))
            rows.append(("the same, uncompacted (for the record)",
                         f"Delta {totals['delta-uncompacted'][0] / one:.1f}×, plain files "
                         f"{totals['plain'][0] / one:.1f}× one file's time "
                         f"({totals['delta-uncompacted'][0]:.2f} s and {totals['plain'][0]:.2f} s)",
                         "", None))
    except (OSError, KeyError, ValueError):
        missing.append("delta query JSONs")
    plain = [get(f"backfill_plain_seconds_{r}") for r in (1, 2)]
    delta = [get(f"backfill_delta_seconds_{r}") for r in (1, 2)]
    n = get("backfill_events")
    if None not in plain + delta + [n]:
        throughput = min(plain) / min(delta)
        rows.append((f"topic → Delta backfill, {n / 1e6:.0f}M events, 2 sinks (best of 2 each)",
                     f"{throughput:.2f}× topic → plain Parquet ({min(delta):.1f} s against {min(plain):.1f} s)",
                     "≥ 0.8× plain Parquet's throughput", throughput >= 0.8))
    rss, size = get("blobs_compact_peak_rss_kib"), get("blobs_blobs_bytes")
    if None not in (rss, size):
        rows.append((f"peak RSS of `pipec compact` on one partition of {size / 1e9:.2f} GB "
                     f"({get('blobs_blobs_files'):,.0f} files)",
                     f"{mib(rss)}", "≤ 256 MiB", rss <= 256 * 1024))
    try:
        rows.append(freshness_row(out, "freshness-delta.json", "Delta sink, "))
    except (OSError, KeyError, ValueError):
        missing.append("freshness-delta.json")
    return rows, missing


def delta_section(out, figures):
    """The Delta stage's own figures, beyond the goals."""
    if "delta" not in STAGES:
        return []
    f = lambda name: figures.get(("delta", name))
    lines = ["### Delta tables (issue 25)", ""]
    lines.append("| layout of the day's rows | files (sword_purchases + guild_joins) | bytes | four queries |")
    lines.append("|---|---:|---:|---:|")
    for label, prefix, layout in (
        ("one plain file per table (`--once`)", "day_one_file", "one-file"),
        ("Delta, compacted by `pipec compact`", None, "delta"),
        ("Delta, a commit per trigger", "day_delta", "delta-uncompacted"),
        ("plain files, one per trigger", "day_plain", "plain"),
    ):
        try:
            total, _ = query_total(out, f"delta-query-{layout}.json")
        except OSError:
            continue
        if prefix:
            count = (f(f"{prefix}_sword_purchases_files") or 0) + (f(f"{prefix}_guild_joins_files") or 0)
            size = (f(f"{prefix}_sword_purchases_bytes") or 0) + (f(f"{prefix}_guild_joins_bytes") or 0)
            lines.append(f"| {label} | {count:,.0f} | {size / 1e6:.1f} MB | {total:.2f} s |")
        else:
            lines.append(f"| {label} | see below | | {total:.2f} s |")
    lines.append("")
    try:
        lines += [f"- {line.strip()}" for line in open(os.path.join(out, "delta", "compacted.out")) if line.strip()]
    except OSError:
        pass
    if f("day_compact_seconds") is not None:
        lines.append(f"- `pipec compact` of the day's two tables: {f('day_compact_seconds'):.1f} s, "
                     f"peak RSS {mib(f('day_compact_peak_rss_kib'))}; writing the day took "
                     f"{f('day_delta_write_seconds'):.0f} s as Delta commits and "
                     f"{f('day_plain_write_seconds'):.0f} s as plain files.")
    if f("blobs_compact_seconds") is not None:
        lines.append(f"- `pipec compact` of the {f('blobs_blobs_bytes') / 1e9:.2f} GB partition: "
                     f"{f('blobs_compact_seconds'):.1f} s, peak RSS {mib(f('blobs_compact_peak_rss_kib'))}.")
    for r in (1, 2):
        if f(f"backfill_delta_seconds_{r}") is not None:
            lines.append(f"- Backfill round {r}: plain {f(f'backfill_plain_seconds_{r}'):.1f} s "
                         f"(peak RSS {mib(f(f'backfill_plain_peak_rss_kib_{r}'))}), Delta "
                         f"{f(f'backfill_delta_seconds_{r}'):.1f} s (peak RSS {mib(f(f'backfill_delta_peak_rss_kib_{r}'))}).")
    lines.append("- Every table's rows were counted by pyarrow or the `deltalake` package, not by pipec.")
    lines.append("")
    return lines


def query_section(out, figures, repeats, lines):
    """The query stage's table; whether every engine gave the same rows."""
    engines = {e: json.load(open(os.path.join(out, f"query-{e}.json"))) for e in ("pipec", "duckdb", "spark")}
    lines += [
        f"### Query: the seed's four queries over {figures[('query', 'rows')]:,.0f} rows "
        f"(median of {repeats} runs)",
        "",
        "| query | pipec | DuckDB | Spark SQL | DuckDB time / pipec time | Spark time / pipec time | same rows |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    agree_all = True
    totals = {e: 0.0 for e in engines}
    for i, query in enumerate(engines["pipec"]["queries"]):
        median = {e: statistics.median(engines[e]["queries"][i]["seconds"]) for e in engines}
        for e in engines:
            totals[e] += median[e]
        agree = all(engines[e]["queries"][i]["rows"] == query["rows"] for e in engines)
        agree_all &= agree
        lines.append(
            f"| {i + 1}. `{query['sql'][:60]}{'…' if len(query['sql']) > 60 else ''}` "
            f"| {median['pipec']:.2f} s | {median['duckdb']:.2f} s | {median['spark']:.2f} s "
            f"| {ratio(median['duckdb'] / median['pipec'])} | {ratio(median['spark'] / median['pipec'])} "
            f"| {'yes' if agree else '**NO**'} |"
        )
    lines += [
        f"| all four | {totals['pipec']:.2f} s | {totals['duckdb']:.2f} s | {totals['spark']:.2f} s "
        f"| {ratio(totals['duckdb'] / totals['pipec'])} | {ratio(totals['spark'] / totals['pipec'])} "
        f"| {'yes' if agree_all else '**NO**'} |",
        "",
        "- pipec: each run is a `pipec query` process (start and file listing included). "
        f"DuckDB: in-process. Spark SQL: in a running session, whose start "
        f"({engines['spark']['startup_seconds']:.1f} s with the DDL) is not counted.",
        "",
    ]
    return agree_all


def goals_table(title, rows, missing):
    """A goals table: each figure with whether it is met (None: for the record)."""
    lines = [f"### {title}", "", "| figure | measured | goal | met |", "|---|---|---|---|"]
    for figure, measured, goal, met in rows:
        lines.append(f"| {figure} | {measured} | {goal} | {'' if met is None else 'yes' if met else '**no**'} |")
    lines += [f"| {name} | **missing** | | |" for name in missing]
    return lines + [""]


def durability_section(figures):
    """What durable local commits cost: the day's `--once` with and without fsync."""
    if "durability" not in STAGES:
        return []
    f = lambda name: figures[("durability", name)]
    on = [f(f"fsync_on_seconds_{r}") for r in (1, 2)]
    off = [f(f"fsync_off_seconds_{r}") for r in (1, 2)]
    # A time trigger can cut a file more in one run than in another.
    files = statistics.median(f(f"fsync_{s}_files_{r}") for s in ("on", "off") for r in (1, 2))
    on_s, off_s = statistics.median(on), statistics.median(off)
    per_commit = (on_s - off_s) / files * 1000
    return [
        "### Durable local commits (issue 26)",
        "",
        f"A day of the seed's triggers as plain files, by a live `--role sinks` worker: "
        f"{files:,.0f} data files, each named by a checkpoint; from process start until both "
        "checkpoints reach the topic's end (two rounds in turns, medians).",
        "",
        "| run | seconds (rounds) | fsync / no fsync |",
        "|---|---:|---:|",
        f"| fsync of every file, its directory and each checkpoint (the default) | {on_s:.1f} ({on[0]:.1f}, {on[1]:.1f}) | {on_s / off_s:.2f}× |",
        f"| `PIPEC_UNSAFE_NO_FSYNC=1` (the baseline) | {off_s:.1f} ({off[0]:.1f}, {off[1]:.1f}) | 1.00× |",
        "",
        f"- What fsync adds per committed file: **{per_commit:.2f} ms**.",
        "- Both runs wrote exactly the expected rows (counted by DuckDB).",
        "",
    ]


def main():
    out, events, duration, connections, repeats, rounds = sys.argv[1:7]
    high_connections = sys.argv[7] if len(sys.argv) > 7 else "256"
    rounds = int(rounds)
    figures = results(out)
    lines = [f"Machine: {machine()}", ""]
    table, missing = goals(out, figures, rounds, high_connections)
    lines += goals_table("Goals, from this run (issue 13's; topic → Parquet, its memory and the queries are issue 28's)", table, missing)
    delta_table, delta_missing = delta_goals(out, figures)
    missing += delta_missing
    if "delta" in STAGES:
        lines += goals_table("Issue 25's goals (Delta tables), from this run", delta_table, delta_missing)
        lines += delta_section(out, figures)

    if "ingest" in STAGES:
        servers = {name: server(out, name, rounds) for name in ("pipec", "bare", "flask")}
        pipec = servers["pipec"]
        lines += [
            f"### Ingest: `wrk -t2 -c{connections} -d{duration}s --latency` on GET /purchase_a_sword, "
            f"{rounds} rounds taken in turns (medians)",
            "",
            "| server | requests/s | lowest – highest | p50 | p99 | non-2xx | socket errors |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        labels = {
            "pipec": "pipec, real Kafka, answers after acks=all",
            "bare": "bare axum handler, no Kafka",
            "flask": "seed: Flask + kafka-python, gunicorn -w 2",
        }
        for name, run in servers.items():
            lines.append(
                f"| {labels[name]} | {run['rps']:,.0f} | {run['rps_min']:,.0f} – {run['rps_max']:,.0f} "
                f"| {run['p50']:.2f} ms | {run['p99']:.2f} ms "
                f"| {run['non2xx']} | {run['socket_errors']} |"
            )
        lines += [
            "",
            f"- pipec / bare: **{ratio(pipec['rps'] / servers['bare']['rps'])}** requests/s; "
            f"pipec / Flask: **{ratio(pipec['rps'] / servers['flask']['rps'])}** requests/s.",
            f"- Events in the topic afterwards: pipec {figures[('ingest', 'pipec_topic_events')]:,.0f} "
            f"for {answered(out, 'pipec', rounds):,} answers 2xx (warm-up included); "
            f"Flask {figures[('ingest', 'flask_topic_events')]:,.0f} for {answered(out, 'flask', rounds):,}.",
            f"- Peak RSS of pipec: **{mib(figures[('ingest', 'pipec_peak_rss_kib')])}**.",
        ]
        high = {name: wrk(os.path.join(out, f"wrk-{name}-high.txt")) for name in ("pipec", "bare")}
        lines += [
            f"- At {high_connections} connections (one run each): pipec {high['pipec']['rps']:,.0f} requests/s "
            f"(p50 {high['pipec']['p50']:.2f} ms, p99 {high['pipec']['p99']:.2f} ms, non-2xx {high['pipec']['non2xx']}), "
            f"bare {high['bare']['rps']:,.0f} requests/s: **{ratio(high['pipec']['rps'] / high['bare']['rps'])}**.",
            "",
        ]

    if "parquet" in STAGES:
        n = figures[("parquet", "events")]
        pipec_rate = n / figures[("parquet", "pipec_seconds")]
        rows = [
            ("pipec `run --once`, real Kafka (process start to exit)", figures[("parquet", "pipec_seconds")]),
            ("seed: Spark Structured Streaming, availableNow (whole job, JVM included)", figures[("parquet", "spark_seconds")]),
            ("seed: the same Spark job, from its streams' start", figures[("parquet", "spark_streaming_seconds")]),
            ("limit: arrow-json → Parquet from memory, no Kafka", figures[("parquet", "limit_seconds")]),
            ("limit: rdkafka reads the topic, `BaseConsumer::poll`, nothing else", figures[("parquet", "kafka_poll_seconds")]),
            ("the same read, `StreamConsumer::recv` on tokio (pipec's path)", figures[("parquet", "kafka_stream_seconds")]),
        ]
        lines += [
            f"### Topic → Parquet: {n:,.0f} seed-shaped events, "
            f"{figures[('parquet', 'expected_sword_purchases')]:,.0f} sword purchases and "
            f"{figures[('parquet', 'expected_guild_joins')]:,.0f} guild joins",
            "",
            "| run | seconds | events/s | pipec / this |",
            "|---|---:|---:|---:|",
        ]
        for label, seconds in rows:
            lines.append(f"| {label} | {seconds:.1f} | {n / seconds:,.0f} | {ratio(pipec_rate / (n / seconds))} |")
        lines += [
            "",
            f"- Every run's two tables hold exactly the expected rows (counted by DuckDB).",
            f"- Preloading the topic with kcat took {figures[('parquet', 'preload_seconds')]:.1f} s.",
            f"- Peak RSS of pipec: **{mib(figures[('parquet', 'pipec_peak_rss_kib')])}**.",
            f"- CPU (user + system, all threads): pipec {figures.get(('parquet', 'pipec_cpu_seconds'), float('nan')):.1f} s, "
            f"the arrow-json → Parquet limit {figures.get(('parquet', 'limit_cpu_seconds'), float('nan')):.1f} s, "
            f"rdkafka's reads {figures.get(('parquet', 'kafka_poll_cpu_seconds'), float('nan')):.1f} s (`poll`) and "
            f"{figures.get(('parquet', 'kafka_stream_cpu_seconds'), float('nan')):.1f} s (`recv`).",
            f"- The same backfill of {figures[('parquet', 'large_events')]:,.0f} events: "
            f"{figures[('parquet', 'large_pipec_seconds')]:.1f} s "
            f"({figures[('parquet', 'large_events')] / figures[('parquet', 'large_pipec_seconds')]:,.0f} events/s), "
            f"{figures[('parquet', 'large_rows')]:,.0f} rows as expected, peak RSS "
            f"**{mib(figures[('parquet', 'large_pipec_peak_rss_kib')])}**.",
            "",
        ]

    lines += durability_section(figures)

    agree_all = True
    if "query" in STAGES:
        agree_all = query_section(out, figures, repeats, lines)
    print("\n".join(lines))
    if not agree_all:
        print("bench/run: the engines disagree on some query's rows", file=sys.stderr)
        sys.exit(1)
    if missing:
        print(f"bench/run: figures missing from the goals table: {', '.join(missing)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
