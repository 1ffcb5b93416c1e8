#!/usr/bin/env python
"""Acknowledged → visible in `pipec query`, for bench/run.

Usage: freshness.py HOST:PORT PIPEC PIPELINE DATA_DIR SECONDS RATE OUT_JSON

One client sends GET /purchase_a_sword to a running `pipec run` at RATE
requests per second for SECONDS, one request at a time, and notes when each
is answered 200 (acknowledged: the broker has it). Meanwhile a poller runs
`pipec query` (a new process each time, as a user would) for the number of
rows in `sword_purchases`, as often as it can. The topic has one partition
and the client waits for each answer, so rows become visible in the order
they were acknowledged: the k-th acknowledged event is visible from the
first poll that counts k rows. Its freshness is the time from its
acknowledgement to the end of that poll (an upper bound: the files were
listed before the poll ended).

OUT_JSON gets every latency in seconds and the poll count.
"""
import http.client
import json
import subprocess
import sys
import threading
import time


def count_rows(pipec, pipeline, data_dir):
    out = subprocess.run(
        [pipec, "query", pipeline, "--data-dir", data_dir, "--format", "json",
         "select count(*) as n from sword_purchases"],
        check=True,
        capture_output=True,
    ).stdout
    return int(json.loads(out)[0]["n"])


def main():
    address, pipec, pipeline, data_dir, seconds, rate, out_json = sys.argv[1:8]
    host, port = address.rsplit(":", 1)
    seconds, rate = float(seconds), float(rate)
    acknowledged = []
    polls = []  # (time the poll ended, rows visible)
    sending = threading.Event()
    sending.set()

    def poll():
        while sending.is_set() or (polls and polls[-1][1] < len(acknowledged)):
            rows = count_rows(pipec, pipeline, data_dir)
            polls.append((time.monotonic(), rows))
            if not sending.is_set() and time.monotonic() - stopped_at[0] > 60:
                break

    stopped_at = [float("inf")]
    poller = threading.Thread(target=poll)
    poller.start()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < seconds:
        due = started + sent / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        connection.request("GET", "/purchase_a_sword", headers={"User-Agent": "freshness"})
        response = connection.getresponse()
        response.read()
        sent += 1
        if response.status == 200:
            acknowledged.append(time.monotonic())
    stopped_at[0] = time.monotonic()
    sending.clear()
    poller.join()

    if len(acknowledged) != sent:
        sys.exit(f"freshness.py: {sent - len(acknowledged)} of {sent} requests were not answered 200")
    latencies = []
    poll_index = 0
    for k, acked in enumerate(acknowledged):
        while poll_index < len(polls) and polls[poll_index][1] < k + 1:
            poll_index += 1
        if poll_index == len(polls):
            sys.exit(f"freshness.py: {len(acknowledged) - k} acknowledged events never became visible")
        latencies.append(polls[poll_index][0] - acked)
    gaps = [b[0] - a[0] for a, b in zip(polls, polls[1:])]
    json.dump(
        {
            "sent": sent,
            "acknowledged": len(acknowledged),
            "latencies": latencies,
            "polls": len(polls),
            "median_poll_interval": sorted(gaps)[len(gaps) // 2] if gaps else None,
        },
        open(out_json, "w"),
    )


if __name__ == "__main__":
    main()
