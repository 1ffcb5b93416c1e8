"""Runs pipec's CREATE DDL of a pipeline's first version, then the ALTER DDL
`pipec ddl NEW --alter OLD` printed, in Spark SQL with Hive support, and a
query over files of both versions; for tests/evolution.rs.

Usage: spark_evolve.py CREATE_DDL ALTER_DDL QUERY OUT_JSON
"""
import json
import sys

from pyspark.sql import SparkSession


def statements(text):
    lines = [l for l in text.splitlines() if not l.strip().startswith("--")]
    return [s.strip().rstrip(";") for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


def main():
    create_file, alter_file, query, out_file = sys.argv[1:5]
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("pipec-evolve-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .enableHiveSupport()
        .getOrCreate()
    )
    executed = []
    for path in (create_file, alter_file):
        for statement in statements(open(path).read()):
            spark.sql(statement)
            executed.append(statement)
    rows = [[None if v is None else str(v) for v in row] for row in spark.sql(query).collect()]
    json.dump({"executed": executed, "rows": rows}, open(out_file, "w"), indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
