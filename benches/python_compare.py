"""clvsql in datafusion-python against lifetimes, and against the clvsql CLI.

The job: raw transactions -> per-customer summary -> BG/NBD and Gamma-Gamma
fits -> every customer's 12-month CLV (30-day months, 1% a month), on one
seeded log of N customers (benches/generate.py), timed four ways in one run:

1. lifetimes on a pandas DataFrame already in memory:
   summary_data_from_transaction_data, BetaGeoFitter.fit,
   GammaGammaFitter.fit (repeat buyers with spend > 0),
   customer_lifetime_value(time=12, discount_rate=0.01, freq="D");
2. clvsql in datafusion-python on the same pandas DataFrame
   (ctx.from_pandas, conversion to Arrow included), the job in SQL;
3. clvsql in datafusion-python on the Parquet file (register_parquet);
4. the clvsql CLI (release build) on the same file, process start included.

(3)/(4) is what the FFI and datafusion-python cost against the CLI. The
totals of CLV are printed too, as a check that both tools did the same job
(they fit separately, so they agree to the optimisers' tolerance).

    cargo build --release
    python3 -m venv .venv-bench && .venv-bench/bin/pip install lifetimes==0.11.3 pandas pyarrow
    .venv-bench/bin/pip install ./python     # release build of the extension, datafusion 55.0
    .venv-bench/bin/python benches/python_compare.py [--customers 1000000] [--runs 3] [--clvsql PATH]

Each way is run once to warm up (file cache, allocator), then --runs times;
the table has the medians.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time
import warnings

import pandas as pd
from datafusion import SessionContext
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

import clvsql

ROOT = pathlib.Path(__file__).resolve().parent.parent
AS_OF = "2025-06-30"  # the generator's 546 days from 2024-01-01

# The job in SQL; {source} is the table of transactions.
SETUP = f"""
CREATE TABLE customers AS
SELECT customer_id, rfm_summary(order_ts, amount, DATE '{AS_OF}') AS s
FROM {{source}} GROUP BY customer_id"""
MODELS = "CREATE TABLE models AS SELECT bgnbd_fit(s) AS purchases, gamma_gamma_fit(s) AS spend FROM customers"
CLV = """
SELECT sum(clv(s, purchases, spend, horizon => 360, discount_rate => power(1.01, 1.0 / 30) - 1, period => 30)) AS clv
FROM customers CROSS JOIN models
WHERE s['frequency'] = 0 OR s['monetary_value'] > 0"""


def timed(run):
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def median(run, runs):
    run()  # warm-up: file cache, allocator
    results = [timed(run) for _ in range(runs)]
    return statistics.median(t for t, _ in results), results[-1][1]


def lifetimes_job(frame: pd.DataFrame) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = summary_data_from_transaction_data(
            frame, "customer_id", "order_ts", "amount", observation_period_end=AS_OF, freq="D"
        )
        bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        scored = summary[(summary["frequency"] == 0) | (summary["monetary_value"] > 0)]
        clv = ggf.customer_lifetime_value(
            bgf,
            scored["frequency"],
            scored["recency"],
            scored["T"],
            scored["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="D",
        )
    return float(clv.sum())


def clvsql_job(register) -> float:
    ctx = SessionContext()
    clvsql.register(ctx)
    register(ctx)
    ctx.sql(SETUP.format(source="transactions"))
    ctx.sql(MODELS)
    return ctx.sql(CLV).to_pylist()[0]["clv"]


def cli_job(binary: str, tx: pathlib.Path) -> float:
    sql = ";".join([SETUP.format(source=f"'{tx}'"), MODELS, CLV])
    out = subprocess.run([binary, "-q", "--format", "csv", "-c", sql], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clvsql", default=str(ROOT / "target" / "release" / "clvsql"))
    parser.add_argument("--data", type=pathlib.Path, default=ROOT / "target" / "bench-data")
    args = parser.parse_args()

    tx = args.data / f"tx_{args.customers}.parquet"
    if not tx.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benches" / "generate.py"), "--customers", str(args.customers), "--out", str(args.data)],
            check=True,
        )
    transactions = json.loads((args.data / f"params_{args.customers}.json").read_text())["transactions"]
    frame = pd.read_parquet(tx)

    rows = []
    theirs, theirs_clv = median(lambda: lifetimes_job(frame), args.runs)
    rows.append(("lifetimes, pandas DataFrame", theirs, theirs_clv))
    pandas_time, pandas_clv = median(
        lambda: clvsql_job(lambda ctx: ctx.from_pandas(frame, name="transactions")), args.runs
    )
    rows.append(("clvsql in datafusion-python, same pandas DataFrame", pandas_time, pandas_clv))
    file_time, file_clv = median(
        lambda: clvsql_job(lambda ctx: ctx.register_parquet("transactions", str(tx))), args.runs
    )
    rows.append(("clvsql in datafusion-python, Parquet file", file_time, file_clv))
    cli_time, cli_clv = median(lambda: cli_job(args.clvsql, tx), args.runs)
    rows.append(("clvsql CLI, Parquet file", cli_time, cli_clv))

    print(f"\n{args.customers:,} customers, {transactions:,} transactions; summary + BG/NBD + Gamma-Gamma + CLV\n")
    print("| how | seconds | lifetimes / this | total 12-month CLV |")
    print("|---|---:|---:|---:|")
    for name, seconds, clv in rows:
        print(f"| {name} | {seconds:.2f} | {theirs / seconds:.1f} | {clv:,.0f} |")
    print(f"\nFFI and datafusion-python against the CLI on the same file: {file_time / cli_time:.2f}x the time")


if __name__ == "__main__":
    main()
