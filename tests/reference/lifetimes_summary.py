"""Reference customer summaries from Python's lifetimes, for tests/slt/lifetimes.slt.

For each unit (day, week) and observation end (the CDNOW calibration end
1997-09-30 and the end of the data 1998-06-30) this runs
lifetimes.utils.summary_data_from_transaction_data on data/cdnow_master.parquet
and writes tests/fixtures/lifetimes_summary.parquet
(customer_id, unit, as_of, frequency, recency, t, monetary_value).

lifetimes keeps transactions that fall after observation_period_end but inside
its period (e.g. a Wednesday when the week of a Tuesday as_of is counted);
rfm_summary ignores every transaction after as_of, so the transactions are
filtered to order_date <= as_of before they reach lifetimes.

Set up and run from the repository root:
    python3 -m venv .venv-ref && .venv-ref/bin/pip install lifetimes==0.11.3 pyarrow
    .venv-ref/bin/python tests/reference/lifetimes_summary.py
(checked with lifetimes 0.11.3, pandas 3.1.1, numpy 2.4.6).
"""

import pathlib

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from lifetimes.utils import summary_data_from_transaction_data

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> None:
    tx = pd.read_parquet(ROOT / "data" / "cdnow_master.parquet")
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    frames = []
    for as_of in ["1997-09-30", "1998-06-30"]:
        observed = tx[tx["order_date"] <= as_of]
        for unit, freq in [("day", "D"), ("week", "W")]:
            s = summary_data_from_transaction_data(
                observed,
                "customer_id",
                "order_date",
                monetary_value_col="amount",
                observation_period_end=as_of,
                freq=freq,
            ).reset_index()
            s["unit"] = unit
            s["as_of"] = pd.Timestamp(as_of).date()
            frames.append(s)
    out = pd.concat(frames).rename(columns={"T": "t"})
    table = pa.table(
        {
            "customer_id": pa.array(out["customer_id"], pa.int64()),
            "unit": pa.array(out["unit"], pa.string()),
            "as_of": pa.array(out["as_of"], pa.date32()),
            "frequency": pa.array(out["frequency"], pa.float64()),
            "recency": pa.array(out["recency"], pa.float64()),
            "t": pa.array(out["t"], pa.float64()),
            "monetary_value": pa.array(out["monetary_value"], pa.float64()),
        }
    )
    pq.write_table(table, ROOT / "tests" / "fixtures" / "lifetimes_summary.parquet", compression="zstd")
    print(table.num_rows, "rows")


if __name__ == "__main__":
    main()
