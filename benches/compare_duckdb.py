"""Side by side: the per-customer summary of 1M transactions in clvsql and DuckDB.

Both read the same Parquet file (generated here with DuckDB, seeded by
hash(), so every run makes the same data) and compute the same summary:
distinct purchase days per customer, recency, age and the mean spend of the
repeat days, as rfm_summary does. DuckDB runs in-process with 2 threads;
clvsql runs as the release binary (process start included). Medians of
several runs are printed with the ratio.

    cargo build --release
    python3 -m venv .venv-bench && .venv-bench/bin/pip install duckdb
    .venv-bench/bin/python benches/compare_duckdb.py [path/to/clvsql]
"""

import pathlib
import statistics
import subprocess
import sys
import time

import duckdb

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "target" / "bench-data" / "tx_1m.parquet"
RUNS = 5

CLVSQL_SQL = f"""
SELECT count(*) AS customers, sum(s['frequency']) AS repeat_days, round(sum(s['monetary_value']), 2) AS monetary
FROM (SELECT customer_id, rfm_summary(order_date, amount, DATE '2024-12-31') AS s
      FROM '{DATA}' GROUP BY customer_id)
"""

DUCKDB_SQL = f"""
WITH days AS (
  SELECT customer_id, order_date, sum(amount) AS spend
  FROM '{DATA}' WHERE order_date <= DATE '2024-12-31' GROUP BY customer_id, order_date
), customers AS (
  SELECT customer_id,
         count(*) - 1 AS frequency,
         max(order_date) - min(order_date) AS recency,
         DATE '2024-12-31' - min(order_date) AS t,
         CASE WHEN count(*) > 1 THEN (sum(spend) - arg_min(spend, order_date)) / (count(*) - 1) ELSE 0 END AS monetary_value
  FROM days GROUP BY customer_id
)
SELECT count(*) AS customers, sum(frequency) AS repeat_days, round(sum(monetary_value), 2) AS monetary FROM customers
"""


def make_data() -> None:
    if DATA.exists():
        return
    DATA.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(
        f"""
        COPY (
          SELECT (hash(i) % 250000)::BIGINT AS customer_id,
                 DATE '2023-01-01' + (hash(i + 1000000007) % 730)::INT AS order_date,
                 (hash(i + 2000000014) % 20000) / 100.0 AS amount
          FROM range(1000000) t(i)
        ) TO '{DATA}' (FORMAT parquet)
        """
    )


def median_seconds(run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    clvsql = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "clvsql")
    make_data()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    duck_s, duck_result = median_seconds(lambda: con.sql(DUCKDB_SQL).fetchall())
    clv_s, clv_result = median_seconds(
        lambda: subprocess.run(
            [clvsql, "-q", "--format", "csv", "-c", CLVSQL_SQL], check=True, capture_output=True, text=True
        ).stdout
    )
    print(f"data: {DATA} (1,000,000 transactions)")
    print(f"duckdb {duckdb.__version__}: {duck_result}")
    print(f"clvsql: {clv_result.strip().splitlines()[-1]}")
    print(f"| step | clvsql (s) | DuckDB (s) | clvsql/DuckDB |")
    print(f"|---|---|---|---|")
    print(f"| per-customer summary, 1M transactions | {clv_s:.3f} | {duck_s:.3f} | {clv_s / duck_s:.2f} |")


if __name__ == "__main__":
    main()
