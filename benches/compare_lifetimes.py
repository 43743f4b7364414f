"""Side by side: fitting BG/NBD (and scoring with it) in clvsql and in lifetimes.

For 100,000 and 1,000,000 customers, benches/generate.py simulates a
transaction log (BG/NBD purchases, Gamma-Gamma spend; seed 42), clvsql
summarises it per day with rfm_summary into a Parquet file, and then, on that
same file:
  - lifetimes' BetaGeoFitter().fit(frequency, recency, T) (pandas read
    included neither side: lifetimes gets the columns in memory);
  - clvsql's bgnbd_fit over the file, as the release binary (process start
    and Parquet read included);
  - scoring every customer with p_alive, churn_prob, expected_purchases,
    expected_spend and clv at fixed models in clvsql (one query).
Medians of several runs, the fitted parameters of both, and the ratios.

    cargo build --release
    python3 -m venv .venv-bench && .venv-bench/bin/pip install lifetimes==0.11.3 pyarrow numpy
    .venv-bench/bin/python benches/compare_lifetimes.py [path/to/clvsql]
"""

import pathlib
import statistics
import subprocess
import sys
import time
import warnings

import pandas as pd
from lifetimes import BetaGeoFitter

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "target" / "bench-data"
CLVSQL = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "clvsql")
AS_OF = "2025-06-30"  # 546 days after the generator's start

MODEL = "named_struct('r', 0.25, 'alpha', 20.0, 'a', 0.8, 'b', 2.5)"
SPEND = "named_struct('p', 6.0, 'q', 4.0, 'v', 15.0)"


def clvsql(sql: str) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run([CLVSQL, "-q", "--format", "csv", "-c", sql], check=True, capture_output=True, text=True)
    return time.perf_counter() - start, out.stdout.strip()


def median_time(run, runs: int) -> tuple[float, object]:
    results = [run() for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[-1][1]


def prepare(customers: int) -> pathlib.Path:
    summary = DATA / f"day_summary_{customers}.parquet"
    if summary.exists():
        return summary
    subprocess.run(
        [sys.executable, str(ROOT / "benches" / "generate.py"), "--customers", str(customers), "--out", str(DATA)],
        check=True,
    )
    clvsql(
        f"""COPY (SELECT customer_id, s['frequency'] AS frequency, s['recency'] AS recency, s['t'] AS t,
                         s['monetary_value'] AS monetary_value
                  FROM (SELECT customer_id, rfm_summary(order_ts, amount, DATE '{AS_OF}') AS s
                        FROM '{DATA / f"tx_{customers}.parquet"}' GROUP BY customer_id))
            TO '{summary}' STORED AS PARQUET"""
    )
    return summary


def lifetimes_fit(frame: pd.DataFrame) -> tuple[float, dict]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["t"])
    return time.perf_counter() - start, {k: round(v, 5) for k, v in fitter.params_.items()}


def main() -> None:
    rows = []
    for customers, runs in [(100_000, 5), (1_000_000, 3)]:
        summary = prepare(customers)
        frame = pd.read_parquet(summary)
        patterns = len(frame.groupby(["frequency", "recency", "t"]))
        ours, fitted = median_time(
            lambda: clvsql(
                f"SELECT round(m['r'], 5) r, round(m['alpha'], 5) alpha, round(m['a'], 5) a, round(m['b'], 5) b, "
                f"m['converged'] converged FROM (SELECT bgnbd_fit(frequency, recency, t) AS m FROM '{summary}')"
            ),
            runs,
        )
        theirs, their_params = median_time(lambda: lifetimes_fit(frame), min(runs, 3))
        scoring, _ = median_time(
            lambda: clvsql(
                f"""SELECT sum(p_alive(frequency, recency, t, {MODEL})), sum(churn_prob(frequency, recency, t, {MODEL})),
                           sum(expected_purchases(frequency, recency, t, 365, {MODEL})),
                           sum(expected_spend(frequency, monetary_value, {SPEND})),
                           sum(clv(frequency, recency, t, monetary_value, {MODEL}, {SPEND}, 365, power(1.1, 1.0 / 365) - 1))
                    FROM '{summary}' WHERE frequency = 0 OR monetary_value > 0"""
            ),
            runs,
        )
        print(f"{customers} customers, {patterns} distinct histories")
        print(f"  clvsql    bgnbd_fit: {ours:.3f} s  {fitted.splitlines()[-1]}")
        print(f"  lifetimes fit:       {theirs:.3f} s  {their_params}")
        print(f"  clvsql scoring with every scalar: {scoring:.3f} s")
        rows.append((customers, patterns, ours, theirs, scoring))
    print()
    print("| customers | distinct histories | clvsql bgnbd_fit (s) | lifetimes fit (s) | lifetimes/clvsql | clvsql scoring, all scalars (s) |")
    print("|---|---|---|---|---|---|")
    for customers, patterns, ours, theirs, scoring in rows:
        print(f"| {customers:,} | {patterns:,} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.1f} | {scoring:.3f} |")


if __name__ == "__main__":
    main()
