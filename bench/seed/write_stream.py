#!/usr/bin/env python
"""The seed's Spark Structured Streaming job (`write_stream.py`), as its
write-up describes it: read the `events` topic, filter each event type with a
Python `@udf`, keep the raw event, the Kafka timestamp as a string and the
parsed fields, and write one Parquet sink per type with its own checkpoint.
One change for the benchmark: the `availableNow` trigger instead of every
10 seconds, so the job reads what the topic holds and stops.

Usage: write_stream.py BOOTSTRAP OUT_DIR JAR[,JAR...]
Prints one line: `spark_seconds=S streaming_seconds=T`, where S counts from
the session's start (JVM included) and T from the streams' start.
"""
import json
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, from_json, udf
from pyspark.sql.types import BooleanType, StringType, StructField, StructType


def event_schema():
    return StructType(
        [
            StructField("Accept", StringType(), True),
            StructField("Host", StringType(), True),
            StructField("User-Agent", StringType(), True),
            StructField("event_type", StringType(), True),
        ]
    )


# The seed's `@udf('boolean')`; PySpark 3.5 parses a type string only
# once a session exists, so the type is given as an object.
@udf(BooleanType())
def is_sword_purchase(event_as_json):
    event = json.loads(event_as_json)
    if event["event_type"] == "purchase_sword":
        return True
    return False


@udf(BooleanType())
def is_guild_join(event_as_json):
    event = json.loads(event_as_json)
    if event["event_type"] == "join_guild":
        return True
    return False


def sink(raw_events, keep, name, out_dir):
    events = (
        raw_events.filter(keep(raw_events.value.cast("string")))
        .select(
            raw_events.value.cast("string").alias("raw_event"),
            raw_events.timestamp.cast("string"),
            from_json(raw_events.value.cast("string"), event_schema()).alias("json"),
        )
        # The seed's `json.*`, with `User-Agent` named as its Hive column.
        .select(
            "raw_event",
            "timestamp",
            "json.Accept",
            "json.Host",
            col("json.`User-Agent`").alias("User_Agent"),
            "json.event_type",
        )
    )
    return (
        events.writeStream.format("parquet")
        .option("checkpointLocation", f"{out_dir}/checkpoints_for_{name}")
        .option("path", f"{out_dir}/{name}")
        .trigger(availableNow=True)
        .start()
    )


def main():
    bootstrap, out_dir, jars = sys.argv[1:4]
    started = time.monotonic()
    spark = (
        SparkSession.builder.appName("ExtractEventsJob")
        .master("local[2]")
        .config("spark.jars", jars)
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    raw_events = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", "events")
        .option("startingOffsets", "earliest")
        .load()
    )
    streaming = time.monotonic()
    sinks = [
        sink(raw_events, is_sword_purchase, "sword_purchases", out_dir),
        sink(raw_events, is_guild_join, "guild_joins", out_dir),
    ]
    for query in sinks:
        query.awaitTermination()
    done = time.monotonic()
    print(f"spark_seconds={done - started:.3f} streaming_seconds={done - streaming:.3f}")
    spark.stop()


if __name__ == "__main__":
    main()
