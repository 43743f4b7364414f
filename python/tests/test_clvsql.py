"""clvsql in datafusion-python, against the clvsql command line.

Run by the repository's test command (`cargo test --workspace`, module
`tests/python.rs`), which builds the wheel, installs it into a venv with
datafusion 55.0.0, pandas and Polars, starts an S3-compatible server and
sets:
- CLVSQL_BIN: the `clvsql` command line, whose answers are the reference;
- CLVSQL_S3_ENDPOINT, CLVSQL_S3_BUCKET: a server on 127.0.0.1 holding
  `cdnow/cdnow_master.parquet`.
The numbers must equal the CLI's: the same Rust code computes them, so fits
and scores agree to 1e-9 relative (in practice exactly) and segments are
identical.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext, col, lit
from datafusion.object_store import AmazonS3

import clvsql

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "cdnow_master.parquet"
CLI = os.environ["CLVSQL_BIN"]
TRANSACTIONS = (
    f"CREATE EXTERNAL TABLE transactions STORED AS PARQUET LOCATION '{DATA}';"
)

# One row per customer, weeks, calibration to 1997-09-30 (the papers' set-up).
CUSTOMERS = """
CREATE TABLE customers AS
SELECT customer_id,
       rfm_summary(order_date, amount, as_of => DATE '1997-09-30', unit => 'week') AS s
FROM transactions GROUP BY customer_id"""
SUMMARIES = """
SELECT customer_id, s['frequency'] AS frequency, s['recency'] AS recency, s['t'] AS t,
       s['monetary_value'] AS monetary_value, s['orders'] AS orders,
       s['total_spend'] AS total_spend, s['unit'] AS unit
FROM customers ORDER BY customer_id"""
FITS = """
SELECT bgnbd_fit(s) AS bgnbd, pareto_nbd_fit(s) AS pareto_nbd,
       gamma_gamma_fit(s) AS gamma_gamma, mbgnbd_fit(s, penalizer => 0.0) AS mbgnbd
FROM customers"""
SCORES = """
WITH models AS (SELECT pareto_nbd_fit(s) AS purchases, gamma_gamma_fit(s) AS spend FROM customers)
SELECT customer_id,
       p_alive(s, purchases) AS p_alive,
       churn_prob(s, model => purchases) AS churn_prob,
       expected_purchases(s, purchases, INTERVAL '1 year') AS purchases_next_year,
       prob_purchases(s['frequency'] % 3, horizon => 52, model => purchases) AS purchases_n,
       expected_spend(s, spend) AS expected_spend,
       clv(s, purchases, spend, horizon => INTERVAL '1 year', annual_discount_rate => 0.10) AS clv,
       segment_of(rfm_score(s) OVER ()) AS segment,
       segment_of(rfm_score(s, bins => 3) OVER (), scheme => 'rfm') AS rfm_segment
FROM customers CROSS JOIN models
ORDER BY customer_id"""


def cli(sql: str) -> list[dict]:
    """The rows the clvsql command line prints for `sql` (its last query)."""
    run = subprocess.run(
        [CLI, "--format", "ndjson", "-c", sql],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def cli_error(sql: str) -> str:
    run = subprocess.run(
        [CLI, "-c", sql], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert run.returncode != 0, run.stdout
    return run.stderr


def same(python, reference, path="") -> None:
    """Python's value equals the CLI's (printed as JSON): floats to 1e-9
    relative, ±Infinity and NaN as the CLI spells them, the rest exactly."""
    if isinstance(reference, dict):
        assert isinstance(python, dict), f"{path}: {python!r}"
        assert set(python) == set(reference), f"{path}: {set(python)} != {set(reference)}"
        for key in reference:
            same(python[key], reference[key], f"{path}.{key}")
    elif isinstance(python, (datetime.date, datetime.datetime)):
        assert python.isoformat() == reference, f"{path}: {python!r} != {reference!r}"
    elif isinstance(python, float) and (math.isinf(python) or math.isnan(python)):
        assert str(reference) in {"Infinity", "-Infinity", "NaN"}, f"{path}: {reference!r}"
        assert float(reference) == python or (math.isnan(python) and reference == "NaN")
    elif isinstance(reference, float) or isinstance(python, float):
        assert math.isclose(python, reference, rel_tol=1e-9, abs_tol=1e-12), (
            f"{path}: {python!r} != {reference!r}"
        )
    else:
        assert python == reference, f"{path}: {python!r} != {reference!r}"


def same_rows(python: list[dict], reference: list[dict]) -> None:
    assert len(python) == len(reference)
    for i, (row, expected) in enumerate(zip(python, reference)):
        same(row, expected, f"row {i}")


@pytest.fixture(scope="module")
def reference() -> dict[str, list[dict]]:
    """The CLI's summaries, fits and scores of CDNOW."""
    setup = TRANSACTIONS + CUSTOMERS + ";"
    return {
        "summaries": cli(setup + SUMMARIES),
        "fits": cli(setup + FITS),
        "scores": cli(setup + SCORES),
    }


def context() -> SessionContext:
    ctx = SessionContext()
    clvsql.register(ctx)
    return ctx


def from_path(ctx: SessionContext, _folder: Path | None = None) -> None:
    ctx.register_parquet("transactions", str(DATA))


def from_pandas(ctx: SessionContext, _folder: Path | None = None) -> None:
    frame = pd.read_parquet(DATA)
    assert isinstance(frame, pd.DataFrame)
    ctx.from_pandas(frame, name="transactions")


def from_polars(ctx: SessionContext, _folder: Path | None = None) -> None:
    frame = pl.read_parquet(DATA)
    assert isinstance(frame, pl.DataFrame)
    ctx.from_polars(frame, name="transactions")


def from_csv_folder(ctx: SessionContext, folder: Path) -> None:
    table = pq.read_table(DATA)
    half = table.num_rows // 2
    pa_csv.write_csv(table.slice(0, half), folder / "part-0.csv")
    pa_csv.write_csv(table.slice(half), folder / "part-1.csv")
    ctx.register_csv("transactions", str(folder))


def from_s3(ctx: SessionContext, _folder: Path | None = None) -> None:
    bucket = os.environ["CLVSQL_S3_BUCKET"]
    store = AmazonS3(
        bucket_name=bucket,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        endpoint=os.environ["CLVSQL_S3_ENDPOINT"],
        allow_http=True,
    )
    ctx.register_object_store(f"s3://{bucket}/", store, None)
    ctx.register_parquet("transactions", f"s3://{bucket}/cdnow/cdnow_master.parquet")


@pytest.mark.parametrize(
    "source", [from_path, from_csv_folder, from_pandas, from_polars, from_s3]
)
def test_cdnow_equals_the_command_line(source, reference, tmp_path):
    ctx = context()
    source(ctx, tmp_path)
    ctx.sql(CUSTOMERS)
    same_rows(ctx.sql(SUMMARIES).to_pylist(), reference["summaries"])
    same_rows(ctx.sql(FITS).to_pylist(), reference["fits"])
    scores = ctx.sql(SCORES).to_pylist()
    same_rows(scores, reference["scores"])
    assert len(scores) == 23570
    assert {row["segment"] for row in scores} >= {"Champions", "Hibernating"}


def test_results_come_back_as_pandas_and_polars(reference):
    ctx = context()
    from_path(ctx)
    ctx.sql(CUSTOMERS)
    fits = ctx.sql(FITS)
    frame = fits.to_pandas()
    model = frame.loc[0, "bgnbd"]
    assert isinstance(model, dict)
    same(model, reference["fits"][0]["bgnbd"])
    polars_model = fits.to_polars()["pareto_nbd"][0]
    assert isinstance(polars_model, dict)
    same(polars_model, reference["fits"][0]["pareto_nbd"])
    segments = ctx.sql(SCORES).to_polars()
    assert segments["segment"].to_list() == [r["segment"] for r in reference["scores"]]


def test_a_fitted_model_scores_as_a_literal_in_the_next_query():
    ctx = context()
    from_path(ctx)
    ctx.sql(CUSTOMERS)
    model = ctx.sql("SELECT pareto_nbd_fit(s) AS m FROM customers").to_pylist()[0]["m"]
    spend = ctx.sql("SELECT gamma_gamma_fit(s) AS m FROM customers").to_pylist()[0]["m"]
    cross_join = ctx.sql(
        """WITH m AS (SELECT pareto_nbd_fit(s) AS purchases, gamma_gamma_fit(s) AS spend
                      FROM customers)
           SELECT customer_id, p_alive(s, purchases) AS p,
                  clv(s, purchases, spend, horizon => 52, discount_rate => 0.002) AS clv
           FROM customers CROSS JOIN m ORDER BY customer_id"""
    ).to_pylist()
    # The DataFrame API, the dicts as struct literals.
    by_dataframe = (
        ctx.table("customers")
        .select(
            col("customer_id"),
            clvsql.p_alive(col("s"), model).alias("p"),
            clvsql.clv(col("s"), model, spend, horizon=52, discount_rate=0.002).alias("clv"),
        )
        .sort(col("customer_id"))
        .to_pylist()
    )
    # SQL, the dicts as parameters.
    by_parameters = ctx.sql(
        """SELECT customer_id, p_alive(s, $purchases) AS p,
                  clv(s, $purchases, $spend, horizon => 52, discount_rate => 0.002) AS clv
           FROM customers ORDER BY customer_id""",
        param_values={"purchases": model, "spend": spend},
    ).to_pylist()
    assert by_dataframe == cross_join
    assert by_parameters == cross_join


# One call of every function with named arguments, and the positional call
# it stands for, written by hand.
BGNBD = "named_struct('r', 0.24, 'alpha', 4.4, 'a', 0.79, 'b', 2.4, 'model', 'bgnbd', 'unit', 'week')"
SPEND = "named_struct('p', 6.25, 'q', 3.74, 'v', 15.45, 'model', 'gamma_gamma', 'unit', 'week')"
SBG = "named_struct('alpha', 0.704, 'beta', 1.182)"
FITTED = "(SELECT bgnbd_fit(s) FROM customers)"
FITTED_SPEND = "(SELECT gamma_gamma_fit(s) FROM customers)"
NAMED_CALLS = {
    "rfm_summary": (
        "rfm_summary(order_date, amount, unit => 'week', as_of => DATE '1997-09-30')",
        "rfm_summary(order_date, amount, DATE '1997-09-30', 'week')",
    ),
    "rfm_holdout": (
        "rfm_holdout(order_date, amount, DATE '1997-09-30', observation_end => DATE '1998-06-30', unit => 'week')",
        "rfm_holdout(order_date, amount, DATE '1997-09-30', DATE '1998-06-30', 'week')",
    ),
    "bgnbd_fit": ("bgnbd_fit(s, penalizer => 0.001)", "bgnbd_fit(s, 0.001)"),
    "mbgnbd_fit": ("mbgnbd_fit(s, penalizer => 0.001)", "mbgnbd_fit(s, 0.001)"),
    "pareto_nbd_fit": (
        "pareto_nbd_fit(t => s['t'], recency => s['recency'], frequency => s['frequency'])",
        "pareto_nbd_fit(s['frequency'], s['recency'], s['t'])",
    ),
    "gamma_gamma_fit": ("gamma_gamma_fit(s, penalizer => 0.01)", "gamma_gamma_fit(s, 0.01)"),
    "bgbb_fit": (
        "bgbb_fit(n_periods => 10, frequency => least(s['frequency'], 10), recency => least(s['recency'], 10))",
        "bgbb_fit(least(s['frequency'], 10), least(s['recency'], 10), 10)",
    ),
    "sbg_fit": (
        "sbg_fit(churned => s['frequency'] % 2 = 0, tenure => 1 + s['frequency'] % 7)",
        "sbg_fit(1 + s['frequency'] % 7, s['frequency'] % 2 = 0)",
    ),
    "rfm_score": ("rfm_score(s, bins => 4) OVER ()", "rfm_score(s, 4) OVER ()"),
    "segment_of": (
        "segment_of(rfm_score(s) OVER (), scheme => 'rfm')",
        "segment_of(rfm_score(s) OVER (), 'rfm')",
    ),
    "clv_simple": (
        "clv_simple(s['monetary_value'], 4, 3, discount_rate => 0.1)",
        "clv_simple(s['monetary_value'], 4, 3, 1, 0.1)",
    ),
    "p_alive": (f"p_alive(s, model => {BGNBD})", f"p_alive(s, {BGNBD})"),
    "churn_prob": (
        f"churn_prob(s['frequency'], t => s['t'], recency => s['recency'], model => {BGNBD})",
        f"churn_prob(s['frequency'], s['recency'], s['t'], {BGNBD})",
    ),
    "expected_purchases": (
        f"expected_purchases(s, horizon => 39, model => {BGNBD})",
        f"expected_purchases(s, {BGNBD}, 39)",
    ),
    "prob_purchases": (
        f"prob_purchases(s['frequency'] % 4, model => {BGNBD}, horizon => 39)",
        f"prob_purchases(s['frequency'] % 4, 39, {BGNBD})",
    ),
    "expected_spend": (f"expected_spend(s, spend_model => {SPEND})", f"expected_spend(s, {SPEND})"),
    "clv": (
        f"clv(s, {BGNBD}, {SPEND}, horizon => 52, annual_discount_rate => 0.1)",
        f"clv(s, {BGNBD}, {SPEND}, 52, 0, 0, 0.1)",
    ),
    "expected_purchases_interval": (
        f"expected_purchases_interval(s, {FITTED}, horizon => 39, level => 0.9)",
        f"expected_purchases_interval(s, {FITTED}, 39, 0.9)",
    ),
    "clv_interval": (
        f"clv_interval(summary => s, model => {FITTED}, spend_model => {FITTED_SPEND}, horizon => 52, level => 0.8)",
        f"clv_interval(s, {FITTED}, {FITTED_SPEND}, 52, 0, 0, 0, 0.8)",
    ),
    "sbg_survival": (
        f"sbg_survival(1 + s['frequency'] % 5, model => {SBG})",
        f"sbg_survival(1 + s['frequency'] % 5, {SBG})",
    ),
    "sbg_retention": (
        f"sbg_retention(model => {SBG}, t => 1 + s['frequency'] % 5)",
        f"sbg_retention(1 + s['frequency'] % 5, {SBG})",
    ),
    "sbg_dert": (
        f"sbg_dert(s['frequency'] % 5, {SBG}, discount_rate => 0.1)",
        f"sbg_dert(s['frequency'] % 5, {SBG}, 0.1)",
    ),
    "segment_info": ("segment_info(scheme => 'rfm')", "segment_info('rfm')"),
    "bar": ("bar(s['frequency'], 0, 10, width => 5)", "bar(s['frequency'], 0, 10, 5)"),
}


def test_every_function_is_registered_and_documented():
    names = [f.name for f in clvsql.functions()]
    assert sorted(names) == sorted(NAMED_CALLS)
    reference = (ROOT / "docs" / "functions.md").read_text()
    assert re.findall(r"^### `(\w+)`$", reference, re.M) == names
    for function in clvsql.functions():
        assert function is getattr(clvsql, function.name)
        assert f"### `{function.name}`\n\n{function.__doc__}" in reference
        assert function.udf.name == function.name
    ctx = context()
    lookup = {"scalar": ctx.udf, "aggregate": ctx.udaf, "window": ctx.udwf}
    for function in clvsql.functions():
        assert lookup[function.kind](function.name).name == function.name


def customers_table(ctx: SessionContext) -> None:
    from_path(ctx)
    ctx.sql(CUSTOMERS)


@pytest.mark.parametrize("name", sorted(NAMED_CALLS))
def test_every_function_takes_named_arguments_as_the_cli_does(name):
    queries = []
    for call in NAMED_CALLS[name]:
        if name in {"rfm_summary", "rfm_holdout"}:
            query = f"SELECT customer_id, {call} AS v FROM transactions GROUP BY customer_id ORDER BY customer_id LIMIT 50"
        elif name.endswith("_fit"):
            query = f"SELECT {call} AS v FROM customers"
        else:
            query = f"SELECT customer_id, {call} AS v FROM customers ORDER BY customer_id LIMIT 50"
        queries.append(query)
    named, positional = queries
    ctx = context()
    customers_table(ctx)
    python = ctx.sql(named).to_pylist()
    assert python, named
    # Placed as written by hand, and as the CLI places it.
    assert python == ctx.sql(positional).to_pylist()
    same_rows(python, cli(TRANSACTIONS + CUSTOMERS + ";" + named))


def test_keyword_arguments_in_the_dataframe_api():
    ctx = context()
    customers_table(ctx)
    summaries = (
        ctx.table("transactions")
        .aggregate(
            [col("customer_id")],
            [
                clvsql.rfm_summary(
                    col("order_date"),
                    col("amount"),
                    unit="week",
                    as_of=datetime.date(1997, 9, 30),
                ).alias("s")
            ],
        )
        .sort(col("customer_id"))
        .select(col("s"))
        .to_pylist()
    )
    by_sql = ctx.sql("SELECT s FROM customers ORDER BY customer_id").to_pylist()
    assert summaries == by_sql
    value = ctx.empty_table().select(
        clvsql.clv_simple(50, 4, 3, discount_rate=0.1).alias("a"),
        clvsql.clv_simple(50, 4, 3, margin=1, discount_rate=0.1).alias("b"),
        clvsql.segment_of(lit(5), lit(5), scheme="rf").alias("segment"),
    ).to_pylist()
    assert value == [{"a": value[0]["b"], "b": value[0]["b"], "segment": "Champions"}]
    same(value[0]["a"], cli("SELECT clv_simple(50, 4, 3, 1, 0.1) AS a")[0]["a"])
    scored = (
        ctx.table("customers")
        .select(col("customer_id"), clvsql.rfm_score(col("s"), bins=3).alias("score"))
        .sort(col("customer_id"))
        .to_pylist()
    )
    expected = cli(
        TRANSACTIONS
        + CUSTOMERS
        + "; SELECT customer_id, rfm_score(s, bins => 3) OVER () AS score FROM customers ORDER BY customer_id"
    )
    same_rows(scored, expected)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT clv_simple(-5, 4, 3)",
        "SELECT segment_of(5, 5, 'no such scheme')",
        "SELECT rfm_summary(order_date, amount, DATE '1997-09-30', 'fortnight') FROM transactions",
        "SELECT p_alive(s, named_struct('r', 0.24, 'alpha', 4.4, 'a', 0.79, 'b', 2.4, 'model', 'bgnbd', 'unit', 'day')) FROM customers",
        "SELECT rfm_summary(DISTINCT order_date, amount, DATE '1997-09-30') FROM transactions",
        "SELECT expected_purchases(s, (SELECT bgnbd_fit(s) FROM customers), horizon => -1) FROM customers",
    ],
)
def test_errors_are_exceptions_with_the_cli_message(query):
    ctx = context()
    customers_table(ctx)
    with pytest.raises(Exception) as raised:
        ctx.sql(query).collect()
    expected = cli_error(TRANSACTIONS + CUSTOMERS + ";" + query).strip()
    # The CLI's message, less its "Error: " and DataFusion's error kind.
    message = re.sub(r"^Error: (\w[\w ]* error: )*", "", expected.splitlines()[-1])
    assert message in str(raised.value), (message, str(raised.value))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "SELECT rfm_summary(order_date, amount, when => DATE '1997-09-30') FROM transactions",
            "rfm_summary: unknown parameter name 'when'",
        ),
        (
            "SELECT clv(s, model => m, horizon => 52) FROM customers",
            "clv: argument spend_model is missing; named arguments may leave out only optional parameters",
        ),
        (
            "SELECT clv_simple(50, 4, 3, margin => 0.5, margin => 0.4)",
            "clv_simple: argument margin is given twice",
        ),
    ],
)
def test_named_argument_mistakes_are_exceptions(query, message):
    ctx = context()
    from_path(ctx)
    with pytest.raises(Exception, match=re.escape(message)):
        ctx.sql(query).collect()
    with pytest.raises(ValueError, match=re.escape(message)):
        clvsql.positional_sql(query)
    assert message in cli_error(TRANSACTIONS + query)


def test_a_scheme_without_scores_is_an_exception():
    ctx = context()
    with pytest.raises(Exception, match="segment_of: argument f must be an integer score, got Utf8 \\(a scheme comes after"):
        ctx.sql("SELECT segment_of(5, scheme => 'rf')").collect()


def test_copy_with_named_arguments_writes_its_file(tmp_path):
    # Only the argument lists are rewritten: the quoted target and the
    # comment stay as written.
    ctx = context()
    target = tmp_path / "clv.csv"
    ctx.sql(
        "COPY (SELECT clv_simple(50, 4, 3, discount_rate => 0.1) AS clv) -- one customer\n"
        f"TO '{target}' STORED AS CSV"
    ).collect()
    written = target.read_text().splitlines()
    assert written[0] == "clv"
    same(float(written[1]), cli("SELECT clv_simple(50, 4, 3, 1, 0.1) AS clv")[0]["clv"])


def test_positional_sql_leaves_other_text_alone():
    query = "SELECT  clv_simple(50, 4, 3) -- as it is\n"
    assert clvsql.positional_sql(query) == query
    assert clvsql.positional_sql("not sql at all") == "not sql at all"
    assert (
        clvsql.positional_sql("SELECT clv_simple(50, 4, 3, discount_rate => 0.1)")
        == "SELECT clv_simple(50, 4, 3, 1, 0.1)"
    )


def test_a_model_written_by_hand():
    # A dict or a pyarrow struct holding the parameters alone: the scorers
    # read them by name.
    ctx = context()
    model = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "model": "bgnbd", "unit": "week"}
    rows = ctx.empty_table().select(
        clvsql.p_alive(2, 30.43, 38.86, model).alias("p"),
        clvsql.expected_purchases(2, 30.43, 38.86, 39, pa.scalar(model)).alias("e"),
    ).to_pylist()
    # Fader, Hardie & Lee (2005), at their rounded parameters (NOTES.md):
    # P(alive) 0.72658 and 1.22603 purchases in 39 weeks.
    assert math.isclose(rows[0]["p"], 0.72658, abs_tol=5e-6)
    assert math.isclose(rows[0]["e"], 1.22603, abs_tol=5e-6)


def test_the_quickstart_runs():
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "Pareto/NBD: r=" in run.stdout and "Champions" in run.stdout
