"""clvsql in Python: the five-minute tour on the shipped CDNOW data.

    pip install ./python pandas polars      # from the repository root
    python examples/python/quickstart.py

Raw transactions -> one summary per customer -> fitted models -> P(alive),
expected purchases, one-year CLV and RFM segments, with the answers back as
pandas and Polars DataFrames: the numbers the `clvsql` CLI gives for the
same SQL.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl
from datafusion import SessionContext, col

import clvsql

DATA = Path(__file__).resolve().parents[2] / "data" / "cdnow_master.parquet"

ctx = SessionContext()
clvsql.register(ctx)  # every clvsql function, named arguments included

# 1. The transactions: a Parquet file here; a folder, CSV, s3:// or a
#    pandas/Polars DataFrame work the same (see the README).
ctx.register_parquet("transactions", str(DATA))

# 2. One row per customer, in weeks, as of the end of the calibration period.
ctx.sql("""
    CREATE TABLE customers AS
    SELECT customer_id,
           rfm_summary(order_date, amount, as_of => DATE '1997-09-30', unit => 'week') AS s
    FROM transactions GROUP BY customer_id
""")

# 3. The models, fitted once. A fit is a struct: a dict in Python.
models = ctx.sql("""
    SELECT pareto_nbd_fit(s) AS purchases, gamma_gamma_fit(s) AS spend FROM customers
""").to_pylist()[0]
purchases, spend = models["purchases"], models["spend"]
print(
    f"Pareto/NBD: r={purchases['r']:.4f} alpha={purchases['alpha']:.2f} "
    f"s={purchases['s']:.4f} beta={purchases['beta']:.2f} "
    f"(converged: {purchases['converged']}, unit: {purchases['unit']})"
)

# 4. Scores per customer, the fitted models passed back in as parameters,
#    results as a pandas DataFrame.
scored: pd.DataFrame = ctx.sql(
    """
    SELECT customer_id,
           p_alive(s, $purchases)                                   AS p_alive,
           expected_purchases(s, $purchases, INTERVAL '1 year')     AS purchases_next_year,
           clv(s, $purchases, $spend, horizon => INTERVAL '1 year',
               annual_discount_rate => 0.10)                        AS clv_next_year,
           segment_of(rfm_score(s) OVER ())                         AS segment
    FROM customers
    """,
    param_values={"purchases": purchases, "spend": spend},
).to_pandas()
print(scored.sort_values("clv_next_year", ascending=False).head(5).to_string(index=False))

# 5. The same through the DataFrame API, as a Polars DataFrame: every
#    function is a Python callable with keyword arguments and help().
by_segment: pl.DataFrame = (
    ctx.table("customers")
    .select(
        clvsql.segment_of(clvsql.rfm_score(col("s"))).alias("segment"),
        clvsql.clv(col("s"), purchases, spend, horizon=52).alias("clv"),
    )
    .to_polars()
    .group_by("segment")
    .agg(pl.len().alias("customers"), pl.col("clv").mean().round(2).alias("avg_clv"))
    .sort("avg_clv", descending=True)
)
print(by_segment)
