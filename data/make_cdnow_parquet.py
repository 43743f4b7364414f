"""Converts the CDNOW transaction log (Fader & Hardie) to the Parquet file shipped here.

Input: ../shared/data/cdnow/CDNOW_master.txt (whitespace separated:
customer_id, date YYYYMMDD, number_of_cds, dollar_value).
Output: data/cdnow_master.parquet with columns
customer_id BIGINT, order_date DATE, cds INT, amount DOUBLE, in file order.

Run from the repository root with any Python that has pyarrow:
    python data/make_cdnow_parquet.py
"""

import datetime
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_master.txt"


def main() -> None:
    ids, dates, cds, amounts = [], [], [], []
    with open(SOURCE) as f:
        next(f)  # header
        for line in f:
            customer, date, n, amount = line.split()
            ids.append(int(customer))
            dates.append(datetime.datetime.strptime(date, "%Y%m%d").date())
            cds.append(int(n))
            amounts.append(float(amount))
    table = pa.table(
        {
            "customer_id": pa.array(ids, pa.int64()),
            "order_date": pa.array(dates, pa.date32()),
            "cds": pa.array(cds, pa.int32()),
            "amount": pa.array(amounts, pa.float64()),
        }
    )
    pq.write_table(table, ROOT / "data" / "cdnow_master.parquet", compression="zstd")
    print(f"{table.num_rows} rows, {len(set(ids))} customers")


if __name__ == "__main__":
    main()
