#!/usr/bin/env python
"""The seed's web API (`game_api.py`), as its write-up describes it: Flask
routes that merge the request headers into the event and send it as JSON to
the `events` topic with kafka-python. The ingest benchmark's baseline, served
as a user would in production: `gunicorn -w 2 game_api:app`.

Like the seed, `log_to_kafka` does not wait for the broker: the response goes
out before Kafka has the event (pipec answers only after acks=all).
"""
import json
import os

from flask import Flask, request
from kafka import KafkaProducer

app = Flask(__name__)
producer = KafkaProducer(bootstrap_servers=os.environ["KAFKA_BOOTSTRAP"])
# The seed's topic is `events`; bench/run gives this API a topic of its own.
TOPIC = os.environ.get("KAFKA_TOPIC", "events")


def log_to_kafka(topic, event):
    event.update(request.headers)
    producer.send(topic, json.dumps(event).encode())


@app.route("/")
def default_response():
    default_event = {"event_type": "default"}
    log_to_kafka(TOPIC, default_event)
    return "This is the default response!\n"


@app.route("/purchase_a_sword")
def purchase_a_sword():
    purchase_sword_event = {"event_type": "purchase_sword"}
    log_to_kafka(TOPIC, purchase_sword_event)
    return "Sword Purchased!\n"


@app.route("/join_a_guild")
def join_a_guild():
    join_guild_event = {"event_type": "join_guild"}
    log_to_kafka(TOPIC, join_guild_event)
    return "Guild Joined!\n"
