#!/usr/bin/env python3
"""Load on `clvsql serve`: queries per second of a small point query and
latency of the RFM segmentation, for 1, 4 and 16 concurrent clients (psycopg
3, one connection per client thread), on the shipped CDNOW data.

    cargo build --release --workspace
    python3 -m venv /tmp/venv-pg && /tmp/venv-pg/bin/pip install "psycopg[binary]"
    /tmp/venv-pg/bin/python benches/serve_load.py          # from the repository root

The server starts from target/release (or $CARGO_TARGET_DIR/release) with a
set-up script: the transactions, a `customers` table of summaries (for the
point query) and the segmentation as views over the raw transactions (so
each segmentation query summarises, scores and segments all 23,570 customers
again). The CLI's time for the same segmentation, one process per run, is
printed beside it.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg

SETUP = """
CREATE EXTERNAL TABLE transactions STORED AS PARQUET LOCATION 'data/cdnow_master.parquet';
CREATE TABLE customers AS
SELECT customer_id, rfm_summary(order_date, amount, DATE '1998-06-30', 'day') AS s
FROM transactions GROUP BY customer_id;
CREATE VIEW summaries AS
SELECT customer_id, rfm_summary(order_date, amount, DATE '1998-06-30', 'day') AS s
FROM transactions GROUP BY customer_id;
CREATE VIEW segmented AS
SELECT customer_id, s['total_spend'] AS total_spend,
       segment_of(rfm_score(s['t'] - s['recency'], s['frequency'], s['total_spend']) OVER ()) AS segment
FROM summaries;
"""

POINT = "SELECT s['frequency'], s['total_spend'] FROM customers WHERE customer_id = %s"
SEGMENTATION = (
    "SELECT segment, count(*) AS customers, round(avg(total_spend), 2) AS avg_spend "
    "FROM segmented GROUP BY segment ORDER BY avg_spend DESC"
)


def binaries():
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    release = os.path.join(target, "release")
    return os.path.join(release, "clvsql-serve"), os.path.join(release, "clvsql")


def start(server, setup):
    process = subprocess.Popen(
        [server, "--port", "0", "-f", setup],
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        if line.startswith("clvsql serve: listening on "):
            port = int(line.split()[4].rsplit(":", 1)[1])
            # Keep draining the log so the pipe never fills.
            threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()
            return process, port
    raise SystemExit(f"{server} did not start")


def connect(port):
    return psycopg.connect(
        host="127.0.0.1", port=port, user="bench", dbname="clvsql", autocommit=True
    )


def point_queries(port, clients, seconds, ids):
    """Queries per second over all clients, each a prepared point query."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def client(i):
        rng = random.Random(i)
        with connect(port) as conn:
            cur = conn.cursor()
            while time.monotonic() < stop:
                cur.execute(POINT, (rng.choice(ids),), prepare=True)
                assert cur.fetchone() is not None
                counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


def segmentations(port, clients, rounds, expected):
    """Latencies (s) of the segmentation, `rounds` per client, all at once."""
    latencies = []
    lock = threading.Lock()

    def client():
        with connect(port) as conn:
            cur = conn.cursor()
            for _ in range(rounds):
                started = time.monotonic()
                cur.execute(SEGMENTATION)
                rows = cur.fetchall()
                elapsed = time.monotonic() - started
                assert rows == expected, rows
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.monotonic() - started


def cli_segmentation(cli, setup, runs):
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(
            [cli, "-q", "--format", "csv", "-f", setup, "-c", SEGMENTATION],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.monotonic() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--seconds", type=float, default=10.0, help="per point-query run")
    parser.add_argument("--rounds", type=int, default=5, help="segmentations per client")
    args = parser.parse_args()
    server, cli = binaries()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(SETUP)
        setup = f.name
    process, port = start(server, setup)
    try:
        with connect(port) as conn:
            ids = [r[0] for r in conn.execute("SELECT customer_id FROM customers").fetchall()]
            expected = conn.execute(SEGMENTATION).fetchall()
        print(f"clvsql serve on port {port}; {len(ids)} customers; {os.cpu_count()} cores")
        print("| clients | point queries/s | segmentation p50 (s) | p95 (s) | segmentations/s |")
        print("|---|---|---|---|---|")
        for clients in [int(c) for c in args.clients.split(",")]:
            qps = point_queries(port, clients, args.seconds, ids)
            latencies, wall = segmentations(port, clients, args.rounds, expected)
            latencies.sort()
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            print(
                f"| {clients} | {qps:,.0f} | {statistics.median(latencies):.3f} "
                f"| {p95:.3f} | {len(latencies) / wall:.2f} |"
            )
        cli_time = cli_segmentation(cli, setup, 3)
        print(f"\nthe CLI, one process per segmentation (set-up included): {cli_time:.3f} s (median of 3)")
    finally:
        process.terminate()
        process.wait()
        os.unlink(setup)


if __name__ == "__main__":
    sys.exit(main())
