"""Spark SQL over the tables `pipec run --metastore` registered, for
tests/metastore.rs: no DDL, only the metastore's word for each table.

Usage: spark_metastore.py METASTORE_URI QUERIES_FILE OUT_JSON

PySpark 4's built-in Hive client is 2.3, whose `get_table` call Hive 4's
metastore no longer has, so Spark talks to it with Hive 4.0.1's own client
jars (`spark.sql.hive.metastore.jars=maven`: fetched once from Maven
Central into ~/.ivy2).
"""
import json
import sys

from pyspark.sql import SparkSession


def main():
    uri, queries_file, out_file = sys.argv[1:4]
    text = open(queries_file).read()
    queries = [q.strip() for q in text.split(";") if q.strip()]
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("pipec-metastore-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.hadoop.hive.metastore.uris", uri)
        .config("spark.sql.hive.metastore.version", "4.0.1")
        .config("spark.sql.hive.metastore.jars", "maven")
        .enableHiveSupport()
        .getOrCreate()
    )
    results = []
    for query in queries:
        rows = spark.sql(query).collect()
        results.append([[value for value in row] for row in rows])
    tables = sorted(t.name for t in spark.catalog.listTables("default"))
    json.dump({"results": results, "tables": tables}, open(out_file, "w"), default=str)
    spark.stop()


if __name__ == "__main__":
    main()
