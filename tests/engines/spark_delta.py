"""Reads Delta Lake tables with Spark and delta-spark, an implementation
independent of the delta-rs crate pipec writes them with; for the tests.

Usage: spark_delta.py DDL_FILE QUERIES_FILE OUT_JSON

Runs each `;`-separated statement of DDL_FILE (`--` comment lines are
skipped), e.g. `CREATE DATABASE IF NOT EXISTS db;` and
`CREATE TABLE IF NOT EXISTS db.t USING DELTA LOCATION '/abs/path';`, in a
local Spark session with Delta's SQL extension and catalog (the session
catalog is Spark's in-memory one, in the working directory's
spark-warehouse/), then each query of QUERIES_FILE, and writes
{"queries": [{"sql": QUERY, "rows": [[value, ...], ...]}, ...]} to OUT_JSON.
Values are JSON: timestamps and dates as str() of the Python value (UTC,
e.g. "2024-01-01 00:00:00.000001"), decimals as strings, binary as hex,
structs as lists, maps as objects.

Jars: the comma-separated list in PIPEC_DELTA_JARS if set, else what
tests/services/delta_jars.sh prints (fetched once, cached). With
AWS_ENDPOINT_URL set (eval "$(tests/services/s3.sh env)"), s3a:// locations
go to that server (path-style, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_REGION), and the list must include hadoop-aws and the AWS SDK bundle
(`delta_jars.sh s3` prints them all; that is what is used without
PIPEC_DELTA_JARS).
"""
import datetime
import decimal
import json
import os
import subprocess
import sys
import time

# PySpark turns Spark timestamps into Python datetimes in the Python
# process's local zone; the JVM inherits TZ too. Results must not depend on
# the machine's zone.
os.environ["TZ"] = "UTC"
time.tzset()
# Loopback only: otherwise Spark binds its driver to the host's address.
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

from pyspark.sql import Row, SparkSession  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DELTA_JARS_SH = os.path.join(HERE, "..", "services", "delta_jars.sh")


def statements(text):
    lines = [l for l in text.splitlines() if not l.strip().startswith("--")]
    return [s.strip().rstrip(";").strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


def jars(s3):
    listed = os.environ.get("PIPEC_DELTA_JARS", "").strip()
    if listed:
        return listed
    args = ["bash", DELTA_JARS_SH] + (["s3"] if s3 else [])
    out = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True).stdout
    return out.strip().splitlines()[-1]


def json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time, datetime.timedelta)):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, Row):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    return str(value)


def main():
    ddl_file, queries_file, out_file = sys.argv[1:4]
    ddl = statements(open(ddl_file).read())
    queries = statements(open(queries_file).read())

    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    jar_list = jars(bool(endpoint))
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("pipec-delta-check")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.jars", jar_list)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    )
    if endpoint:
        if "hadoop-aws-" not in jar_list:
            sys.exit("AWS_ENDPOINT_URL is set but PIPEC_DELTA_JARS has no hadoop-aws jar (use: delta_jars.sh s3)")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        s3a = {
            "endpoint": endpoint,
            # SDK v2 (Hadoop 3.4) wants a region; without one it probes
            # for it, which a local server cannot answer.
            "endpoint.region": region,
            "path.style.access": "true",
            "connection.ssl.enabled": str(endpoint.startswith("https:")).lower(),
            "access.key": os.environ["AWS_ACCESS_KEY_ID"],
            "secret.key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            # Fail fast against a dead local server instead of retrying
            # for minutes.
            "attempts.maximum": "3",
            "retry.limit": "3",
        }
        for key, value in s3a.items():
            builder = builder.config(f"spark.hadoop.fs.s3a.{key}", value)
    spark = builder.getOrCreate()

    if endpoint:
        # hadoop-aws must be built for exactly the Hadoop in pyspark's jars.
        hadoop = spark.sparkContext._jvm.org.apache.hadoop.util.VersionInfo.getVersion()
        if f"hadoop-aws-{hadoop}.jar" not in jar_list:
            sys.exit(f"pyspark bundles Hadoop {hadoop}, but the jars are {jar_list}: update delta_jars.sh")

    for statement in ddl:
        spark.sql(statement)
    results = []
    for query in queries:
        rows = spark.sql(query).collect()
        results.append({"sql": query, "rows": [[json_value(v) for v in row] for row in rows]})

    with open(out_file, "w") as out:
        json.dump({"queries": results}, out, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
