#!/usr/bin/env python
"""Times the seed's queries on one engine over the same Parquet files, for
bench/run.

Usage: query.py ENGINE DATA_DIR QUERIES_FILE REPEATS OUT_JSON [PIPEC PIPELINE | DDL_FILE]
  ENGINE pipec   each run is a `pipec query` process, as a user runs it
                 (process start and catalog listing included);
  ENGINE duckdb  in-process DuckDB, views over read_parquet() of the tables;
  ENGINE spark   Spark SQL (local[2]) with Hive support over pipec's own
                 generated Hive DDL; the session's start is timed apart.

Every query runs REPEATS times; OUT_JSON gets each run's seconds and the
rows of the first run, as {lowercase column: value as text}, so engines can
be compared.
"""
import json
import os
import subprocess
import sys
import time


def statements(text):
    return [s.strip().rstrip(";") for s in text.split(";\n") if s.strip().rstrip(";").strip()]


def as_text(value):
    return str(value)


def pipec_engine(data_dir, pipec, pipeline):
    def run(sql):
        out = subprocess.run(
            [pipec, "query", pipeline, "--data-dir", data_dir, "--format", "json", sql],
            check=True,
            capture_output=True,
        ).stdout
        return [{k.lower(): as_text(v) for k, v in row.items()} for row in json.loads(out)]

    return run, 0.0


def duckdb_engine(data_dir):
    import duckdb

    started = time.monotonic()
    connection = duckdb.connect()
    for table in ("sword_purchases", "guild_joins"):
        glob = os.path.join(data_dir, table, "**", "*.parquet")
        connection.execute(f"create view {table} as select * from read_parquet('{glob}')")

    def run(sql):
        cursor = connection.execute(sql)
        names = [d[0].lower() for d in cursor.description]
        return [dict(zip(names, map(as_text, row))) for row in cursor.fetchall()]

    return run, time.monotonic() - started


def spark_engine(ddl_file):
    from pyspark.sql import SparkSession

    started = time.monotonic()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("pipec-bench-query")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    for statement in statements(open(ddl_file).read()):
        spark.sql(statement)

    def run(sql):
        rows = spark.sql(sql).collect()
        return [{k.lower(): as_text(v) for k, v in row.asDict().items()} for row in rows]

    return run, time.monotonic() - started


def main():
    engine, data_dir, queries_file, repeats, out_file = sys.argv[1:6]
    extra = sys.argv[6:]
    if engine == "pipec":
        run, startup = pipec_engine(data_dir, *extra)
    elif engine == "duckdb":
        run, startup = duckdb_engine(data_dir)
    elif engine == "spark":
        run, startup = spark_engine(*extra)
    else:
        sys.exit(f"unknown engine {engine}")
    results = []
    for sql in statements(open(queries_file).read()):
        seconds, rows = [], None
        for _ in range(int(repeats)):
            started = time.monotonic()
            got = run(sql)
            seconds.append(time.monotonic() - started)
            rows = rows if rows is not None else got
        results.append({"sql": sql, "seconds": seconds, "rows": sorted(rows, key=lambda r: sorted(r.items()))})
    json.dump({"engine": engine, "startup_seconds": startup, "queries": results}, open(out_file, "w"), indent=1)


if __name__ == "__main__":
    main()
