"""clvsql side by side with DuckDB and lifetimes on the same Parquet files.

One command runs everything and prints medians and ratios as a Markdown table:

    cargo build --release
    python3 -m venv .venv-bench && .venv-bench/bin/pip install duckdb lifetimes==0.11.3 pyarrow numpy
    .venv-bench/bin/python benches/compare.py [--sizes 100000,1000000,5000000] [--clvsql PATH]

For each size, benches/generate.py writes a seeded transaction log (BG/NBD
purchases, Gamma-Gamma spend, customers joining over the first 12 weeks) to
target/bench-data/tx_<N>.parquet, and on that file:

1. summary: per-customer frequency (distinct purchase days − 1), recency, T
   and mean repeat-day spend: rfm_summary in clvsql; in DuckDB the SQL its
   users write (GROUP BY customer and day, then per customer);
2. segmentation: the summary, quintile scores, the 10-segment R×F map and
   customers and average spend per segment; DuckDB scores with NTILE(5) and
   maps with CASE (NTILE splits ties arbitrarily, so its counts differ a
   little from rfm_score's tie-aware scores);
   both on six layouts of the same log, rewritten by DuckDB: rows in
   customer order, in time order (as logs usually arrive) and shuffled,
   each with row groups of 100k and of 1M rows (--layouts picks some);
3. fit: BG/NBD on the day summaries, clvsql's bgnbd_fit against lifetimes'
   BetaGeoFitter (up to 1M customers: lifetimes takes minutes beyond);
   Pareto/NBD against lifetimes' ParetoNBDFitter on every tenth customer
   (lifetimes takes minutes on all), and clvsql's alone on all of them;
   scoring: every customer with p_alive, churn_prob, expected_purchases,
   expected_spend and clv in one clvsql query, against lifetimes'
   conditional_probability_alive, conditional_expected_number_of_purchases_up_to_time,
   conditional_expected_average_profit and customer_lifetime_value (12
   months of 30 days) on the same summaries;
4. pipeline (largest size only): raw transactions to per-customer CLV, churn
   probability and segment written to Parquet, in clvsql, with its peak
   memory (/usr/bin/time).

DuckDB runs in-process with 2 threads; clvsql runs as the release binary, so
its times include process start and planning. Medians of --runs runs, after
one warm-up run of each.
"""

import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys
import time
import warnings

import duckdb
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(os.environ.get("CLVSQL_BENCH_DATA", ROOT / "target" / "bench-data"))
AS_OF = "2025-06-30"  # the generator's 546 days from 2024-01-01

SUMMARY = """
SELECT customer_id, s['frequency'] AS frequency, s['recency'] AS recency, s['t'] AS t,
       s['monetary_value'] AS monetary_value, s['total_spend'] AS total_spend
FROM (SELECT customer_id, rfm_summary(order_ts, amount, DATE '{as_of}') AS s FROM '{tx}' GROUP BY customer_id)
"""

CLVSQL = {
    "summary": f"""SELECT count(*), sum(frequency), round(sum(monetary_value), 2) FROM ({SUMMARY})""",
    "segmentation": f"""
SELECT segment, count(*) AS customers, round(avg(total_spend), 2) AS avg_spend
FROM (SELECT segment_of(rfm_score(t - recency, frequency, total_spend) OVER ()) AS segment, total_spend FROM ({SUMMARY}))
GROUP BY segment ORDER BY segment""",
}

DUCK_SUMMARY = """
WITH days AS (
  SELECT customer_id, CAST(order_ts AS DATE) AS day, sum(amount) AS spend
  FROM '{tx}' WHERE CAST(order_ts AS DATE) <= DATE '{as_of}' GROUP BY ALL
)
SELECT customer_id,
       count(*) - 1 AS frequency,
       max(day) - min(day) AS recency,
       DATE '{as_of}' - min(day) AS t,
       CASE WHEN count(*) > 1 THEN (sum(spend) - arg_min(spend, day)) / (count(*) - 1) ELSE 0 END AS monetary_value,
       sum(spend) AS total_spend
FROM days GROUP BY customer_id
"""

DUCKDB = {
    "summary": f"""SELECT count(*), sum(frequency), round(sum(monetary_value), 2) FROM ({DUCK_SUMMARY})""",
    "segmentation": f"""
WITH s AS ({DUCK_SUMMARY}),
scored AS (
  SELECT total_spend,
         NTILE(5) OVER (ORDER BY t - recency DESC) AS r,
         NTILE(5) OVER (ORDER BY frequency) AS f
  FROM s
)
SELECT CASE
         WHEN r = 5 AND f >= 4 THEN 'Champions'
         WHEN r BETWEEN 3 AND 4 AND f >= 4 THEN 'Loyal Customers'
         WHEN r >= 4 AND f BETWEEN 2 AND 3 THEN 'Potential Loyalists'
         WHEN r = 5 AND f = 1 THEN 'New Customers'
         WHEN r = 4 AND f = 1 THEN 'Promising'
         WHEN r = 3 AND f = 3 THEN 'Need Attention'
         WHEN r = 3 AND f <= 2 THEN 'About To Sleep'
         WHEN r <= 2 AND f = 5 THEN 'Can''t Lose Them'
         WHEN r <= 2 AND f BETWEEN 3 AND 4 THEN 'At Risk'
         ELSE 'Hibernating'
       END AS segment,
       count(*) AS customers, round(avg(total_spend), 2) AS avg_spend
FROM scored GROUP BY segment ORDER BY segment""",
}

# The summary is a table, computed once for the fits and the scores (a view
# would be computed for each).
PIPELINE = f"""
CREATE TABLE customers AS {SUMMARY};
CREATE TABLE models AS
SELECT bgnbd_fit(frequency, recency, t) AS purchases,
       gamma_gamma_fit(frequency, monetary_value) FILTER (WHERE monetary_value > 0) AS spend
FROM customers;
COPY (
  SELECT customer_id,
         churn_prob(frequency, recency, t, purchases) AS churn_prob,
         clv(frequency, recency, t, monetary_value, purchases, spend, 365, power(1.1, 1.0 / 365) - 1) AS clv,
         segment_of(rfm_score(t - recency, frequency, total_spend) OVER ()) AS segment
  FROM customers CROSS JOIN models
  WHERE frequency = 0 OR monetary_value > 0
) TO '{{out}}' STORED AS PARQUET;
"""


BGNBD = {"r": 0.25, "alpha": 20.0, "a": 0.8, "b": 2.5}
GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}
MODEL = "named_struct(" + ", ".join(f"'{k}', {v}" for k, v in BGNBD.items()) + ")"
SPEND = "named_struct(" + ", ".join(f"'{k}', {v}" for k, v in GAMMA_GAMMA.items()) + ")"
SCORING = f"""
SELECT sum(p_alive(frequency, recency, t, {MODEL})), sum(churn_prob(frequency, recency, t, {MODEL})),
       sum(expected_purchases(frequency, recency, t, 365, {MODEL})),
       sum(expected_spend(frequency, monetary_value, {SPEND})),
       sum(clv(frequency, recency, t, monetary_value, {MODEL}, {SPEND}, 360, power(1.01, 1.0 / 30) - 1, 30))
FROM '{{summary}}' WHERE frequency = 0 OR monetary_value > 0"""


def lifetimes_scoring(frame):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    frame = frame[(frame["frequency"] == 0) | (frame["monetary_value"] > 0)]
    f, r, t, m = frame["frequency"], frame["recency"], frame["t"], frame["monetary_value"]
    bgf, ggf = BetaGeoFitter(), GammaGammaFitter()
    bgf.params_, ggf.params_ = pd.Series(BGNBD), pd.Series(GAMMA_GAMMA)
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time  # set by fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alive = bgf.conditional_probability_alive(f, r, t)
        return (
            alive.sum(),
            (1 - alive).sum(),
            bgf.conditional_expected_number_of_purchases_up_to_time(365, f, r, t).sum(),
            ggf.conditional_expected_average_profit(f, m).sum(),
            ggf.customer_lifetime_value(bgf, f, r, t, m, time=12, discount_rate=0.01, freq="D").sum(),
        )


def timed(run):
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def median(run, runs):
    run()  # warm-up: file cache, allocator, DuckDB's metadata cache
    results = [timed(run) for _ in range(runs)]
    return statistics.median(t for t, _ in results), results[-1][1]


def clvsql(binary, sql):
    out = subprocess.run([binary, "-q", "--format", "csv", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def ensure_data(customers):
    tx = DATA / f"tx_{customers}.parquet"
    if not tx.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "benches" / "generate.py"), "--customers", str(customers), "--out", str(DATA)],
            check=True,
        )
    params = json.loads((DATA / f"params_{customers}.json").read_text())
    return tx, params["transactions"]


# The orders a log's rows can come in, as DuckDB's ORDER BY.
ORDERS = {
    "customer order": "customer_id, order_ts",
    "time order": "order_ts, customer_id",
    "shuffled": "hash(customer_id, order_ts, amount)",
}
ROW_GROUPS = {"100k": 100_000, "1M": 1_000_000}
LAYOUTS = [f"{order}, {groups} row groups" for order in ORDERS for groups in ROW_GROUPS]


def layout(tx, con, name):
    """The log `tx` rewritten in the layout `name` (see LAYOUTS), once."""
    order, groups = name.removesuffix(" row groups").split(", ")
    slug = f"{order.split()[0]}_{groups}"
    out = tx.with_name(tx.stem + f"_{slug}.parquet")
    if not out.exists():
        con.sql(f"COPY (SELECT * FROM '{tx}' ORDER BY {ORDERS[order]}) TO '{out}' "
                f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUPS[groups]})")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clvsql", default=str(ROOT / "target" / "release" / "clvsql"))
    parser.add_argument("--layouts", default=",".join(str(i) for i in range(len(LAYOUTS))),
                        help="the layouts of the log to run, by number: " +
                             "; ".join(f"{i} {name}" for i, name in enumerate(LAYOUTS)))
    parser.add_argument("--no-pipeline", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    layouts = [LAYOUTS[int(i)] for i in args.layouts.split(",")]
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET enable_progress_bar = false")
    rows = []
    for customers in sizes:
        tx, transactions = ensure_data(customers)
        runs = args.runs
        for name in layouts:
            log = layout(tx, con, name)
            for step in ["summary", "segmentation"]:
                ours, our_result = median(lambda: clvsql(args.clvsql, CLVSQL[step].format(tx=log, as_of=AS_OF)), runs)
                theirs, their_result = median(lambda: con.sql(DUCKDB[step].format(tx=log, as_of=AS_OF)).fetchall(), runs)
                if step == "summary":
                    ours_values = [float(v) for v in our_result.splitlines()[-1].split(",")]
                    assert ours_values == [float(v) for v in their_result[0]], (our_result, their_result)
                rows.append((f"{step}, {name}", customers, transactions, ours, "DuckDB", theirs))
                print(rows[-1], flush=True)
        if customers <= 1_000_000:
            summary = DATA / f"day_summary_{customers}.parquet"
            clvsql(args.clvsql, f"COPY ({SUMMARY.format(tx=tx, as_of=AS_OF)}) TO '{summary}' STORED AS PARQUET")
            frame = pd.read_parquet(summary)
            from lifetimes import BetaGeoFitter

            def lifetimes_fit():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["t"]).params_

            fit_sql = f"SELECT bgnbd_fit(frequency, recency, t)['alpha'] FROM '{summary}'"
            ours, alpha = median(lambda: clvsql(args.clvsql, fit_sql), runs)
            theirs, params = median(lifetimes_fit, min(runs, 3))
            assert abs(float(alpha.splitlines()[-1]) / params["alpha"] - 1) < 1e-4, (alpha, params)
            rows.append(("BG/NBD fit", customers, transactions, ours, "lifetimes", theirs))
            print(rows[-1], flush=True)
            # Pareto/NBD: lifetimes takes minutes at 1M customers, so both
            # fit every tenth customer's summary, and clvsql all of them.
            sample = DATA / f"day_summary_{customers}_tenth.parquet"
            frame.iloc[::10].to_parquet(sample)
            from lifetimes import ParetoNBDFitter

            def lifetimes_pareto():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tenth = frame.iloc[::10]
                    return ParetoNBDFitter().fit(tenth["frequency"], tenth["recency"], tenth["t"]).params_

            pareto_sql = "SELECT pareto_nbd_fit(frequency, recency, t)['alpha'] FROM '{}'"
            ours, alpha = median(lambda: clvsql(args.clvsql, pareto_sql.format(sample)), runs)
            theirs, params = median(lifetimes_pareto, 1)
            assert abs(float(alpha.splitlines()[-1]) / params["alpha"] - 1) < 1e-3, (alpha, params)
            rows.append(("Pareto/NBD fit, every tenth customer", customers // 10, 0, ours, "lifetimes", theirs))
            print(rows[-1], flush=True)
            ours, _ = median(lambda: clvsql(args.clvsql, pareto_sql.format(summary)), runs)
            rows.append(("Pareto/NBD fit", customers, transactions, ours, "-", float("nan")))
            print(rows[-1], flush=True)
            ours, _ = median(lambda: clvsql(args.clvsql, SCORING.format(summary=summary)), runs)
            theirs, _ = median(lambda: lifetimes_scoring(frame), 1)
            rows.append(("scoring, every scalar", customers, transactions, ours, "lifetimes", theirs))
            print(rows[-1], flush=True)
    print_table(args, rows)
    if not args.no_pipeline:
        pipeline(args, max(sizes))


def print_table(args, rows):
    print()
    print(f"DuckDB {duckdb.__version__}, clvsql {args.clvsql}, medians of {args.runs} runs")
    print()
    print("| step | customers | transactions | clvsql (s) | other | other (s) | clvsql/other |")
    print("|---|---|---|---|---|---|---|")
    for step, customers, transactions, ours, other, theirs in rows:
        transactions = f"{transactions:,}" if transactions else "-"
        if theirs == theirs:
            print(f"| {step} | {customers:,} | {transactions} | {ours:.3f} | {other} | {theirs:.3f} | {ours / theirs:.2f} |")
        else:
            print(f"| {step} | {customers:,} | {transactions} | {ours:.3f} | - | - | - |")


def pipeline(args, largest):
    tx, transactions = ensure_data(largest)
    out = DATA / f"clv_{largest}.parquet"
    script = DATA / "pipeline.sql"
    script.write_text(PIPELINE.format(out=out, tx=tx, as_of=AS_OF))
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-v", args.clvsql, "-q", "-f", str(script)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(run.stderr)
    peak_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) / 1024
    print()
    print(f"pipeline, {largest:,} customers ({transactions:,} transactions) to CLV, churn and segment "
          f"in Parquet: {seconds:.1f} s, peak memory {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()
