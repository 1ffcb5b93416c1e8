"""Runs pipec's generated Hive DDL on real engines, for tests/engines.rs.

Usage: spark_hive.py DDL_FILE QUERIES_FILE OUT_JSON

(a) Hive's own parser (org.apache.hadoop.hive.ql.parse.ParseDriver, Hive
    2.3 as bundled with Spark) parses every generated statement, and must
    reject the seed's hand-written DDL, whose bare `timestamp` column Hive
    2.3+ does not take (so this check can fail).
(b) Spark SQL with Hive support (an embedded Derby metastore in the working
    directory) executes the DDL over the Parquet files pipec wrote, then the
    seed's queries; their rows go to OUT_JSON.
"""
import json
import sys

from pyspark.sql import SparkSession

SEED_DDL = """create external table if not exists default.sword_purchases (
    raw_event string,
    timestamp string,
    Accept string,
    Host string,
    User_Agent string,
    event_type string
  )
  stored as parquet
  location '/tmp/sword_purchases'
  tblproperties ("parquet.compress"="SNAPPY")"""


def statements(text):
    return [s.strip() for s in text.split(";\n") if s.strip().rstrip(";").strip()]


def main():
    ddl_file, queries_file, out_file = sys.argv[1:4]
    ddl = [s.rstrip(";") for s in statements(open(ddl_file).read())]
    queries = [s.rstrip(";") for s in statements(open(queries_file).read())]

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("pipec-ddl-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .enableHiveSupport()
        .getOrCreate()
    )
    jvm = spark.sparkContext._jvm
    parser = jvm.org.apache.hadoop.hive.ql.parse.ParseDriver()

    parsed = []
    for statement in ddl:
        try:
            parser.parse(statement)
            parsed.append({"statement": statement, "ok": True})
        except Exception as error:  # a Py4J error carrying Hive's ParseException
            parsed.append({"statement": statement, "ok": False, "error": str(error).splitlines()[0]})
    try:
        parser.parse(SEED_DDL)
        seed = {"rejected": False}
    except Exception as error:
        seed = {"rejected": True, "error": str(error).splitlines()[0]}

    for statement in ddl:
        spark.sql(statement)
    results = []
    for query in queries:
        rows = spark.sql(query).collect()
        results.append([[value for value in row] for row in rows])
    tables = sorted(t.name for t in spark.catalog.listTables("default"))

    json.dump({"parsed": parsed, "seed": seed, "results": results, "tables": tables}, open(out_file, "w"), default=str)
    spark.stop()


if __name__ == "__main__":
    main()
