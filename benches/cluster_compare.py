"""clvsql on a Ballista cluster against one clvsql process, same files.

Starts one clvsql-scheduler and two clvsql-executor processes (release
builds) on this machine, then runs two jobs on benches/generate.py's
N-customer log, in one process (`clvsql -f`) and through `clvsql --remote`:

1. summary: the per-customer summary of every transaction, to Parquet;
2. pipeline: raw transactions to every customer's churn probability,
   one-year CLV and RFM segment, to Parquet (the models fitted in the same
   statement; DataFusion computes the summary once for the fits and once
   for the scores, alike in both modes).

Each job is one statement, so both modes do the same work: on a cluster a
`CREATE TABLE ... AS` would keep its rows in the client, and every later
query would ship them to the scheduler. Medians of --runs runs after a
warm-up; the executors get 1 core each (--vcores 1), the single process
both cores.

    cargo build --release --workspace
    python3 benches/cluster_compare.py [--customers 5000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
AS_OF = "2025-06-30"  # the generator's 546 days from 2024-01-01

SUMMARY = """
SELECT customer_id, s['frequency'] AS frequency, s['recency'] AS recency, s['t'] AS t,
       s['monetary_value'] AS monetary_value, s['total_spend'] AS total_spend
FROM (SELECT customer_id, rfm_summary(order_ts, amount, DATE '{as_of}') AS s FROM '{tx}' GROUP BY customer_id)
"""
JOBS = {
    "summary": "COPY ({summary}) TO '{out}' STORED AS PARQUET",
    "pipeline": """
COPY (
  WITH customers AS ({summary}),
       models AS (SELECT bgnbd_fit(frequency, recency, t) AS purchases,
                         gamma_gamma_fit(frequency, monetary_value) FILTER (WHERE monetary_value > 0) AS spend
                  FROM customers)
  SELECT customer_id,
         churn_prob(frequency, recency, t, purchases) AS churn_prob,
         clv(frequency, recency, t, monetary_value, purchases, spend, 365, power(1.1, 1.0 / 365) - 1) AS clv,
         segment_of(rfm_score(t - recency, frequency, total_spend) OVER ()) AS segment
  FROM customers CROSS JOIN models
  WHERE frequency = 0 OR monetary_value > 0
) TO '{out}' STORED AS PARQUET""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int) -> None:
    started = time.time()
    while time.time() - started < 60:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("the cluster did not start")


def run_job(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{command[0].name} failed: {result.stderr.strip()}")


def median(run, runs):
    run()  # warm-up: file cache, allocator
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", type=pathlib.Path, default=ROOT / "target" / "release")
    parser.add_argument("--data", type=pathlib.Path, default=ROOT / "target" / "bench-data")
    args = parser.parse_args()

    tx = args.data / f"tx_{args.customers}.parquet"
    if not tx.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benches" / "generate.py"), "--customers", str(args.customers), "--out", str(args.data)],
            check=True,
        )
    transactions = json.loads((args.data / f"params_{args.customers}.json").read_text())["transactions"]
    work = pathlib.Path(tempfile.mkdtemp(prefix="clvsql-cluster-bench-"))
    port = free_port()
    processes = [
        subprocess.Popen(
            [args.bin / "clvsql-scheduler", "--bind-host", "127.0.0.1", "--external-host", "127.0.0.1",
             "--bind-port", str(port), "--min-ready-executors", "2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]
    try:
        time.sleep(1)
        for i in range(2):
            (work / f"executor-{i}").mkdir()
            processes.append(subprocess.Popen(
                [args.bin / "clvsql-executor", "--bind-host", "127.0.0.1", "--scheduler-host", "127.0.0.1",
                 "--scheduler-port", str(port), "--bind-port", str(free_port()), "--bind-grpc-port", str(free_port()),
                 "--bind-health-port", str(free_port()), "--vcores", "1", "--work-dir", str(work / f"executor-{i}")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
        wait_ready(port)
        rows = []
        for job, template in JOBS.items():
            times = {}
            for mode, extra in [("one process", []), ("cluster", ["--remote", f"df://127.0.0.1:{port}"])]:
                out = work / f"{job}-{mode.replace(' ', '-')}"
                sql = template.format(summary=SUMMARY.format(as_of=AS_OF, tx=tx), out=out)
                command = [args.bin / "clvsql", *extra, "-q", "-c", sql]
                times[mode] = median(lambda: run_job(command), args.runs)
            rows.append((job, times["one process"], times["cluster"]))
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.customers:,} customers, {transactions:,} transactions; medians of {args.runs} runs\n")
    print("| job | one process (s) | 1 scheduler + 2 executors (s) | cluster / one process |")
    print("|---|---:|---:|---:|")
    for job, local, remote in rows:
        print(f"| {job} | {local:.2f} | {remote:.2f} | {remote / local:.2f} |")


if __name__ == "__main__":
    main()
