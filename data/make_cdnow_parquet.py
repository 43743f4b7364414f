"""Converts the CDNOW transaction logs (Fader & Hardie) to the Parquet files shipped here.

Inputs: ../shared/data/cdnow/CDNOW_master.txt (whitespace separated:
customer_id, date YYYYMMDD, number_of_cds, dollar_value) and CDNOW_sample.txt
(the same with the sample's own customer id after the master id).
Outputs: data/cdnow_master.parquet and data/cdnow_sample.parquet with columns
customer_id BIGINT, order_date DATE, cds INT, amount DOUBLE, in file order
(the sample keeps its own ids, 1 to 2357, as the papers number them).

Run from the repository root with any Python that has pyarrow:
    python data/make_cdnow_parquet.py
"""

import datetime
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT.parent / "shared" / "data" / "cdnow"


def convert(name: str) -> None:
    ids, dates, cds, amounts = [], [], [], []
    with open(SOURCE / f"CDNOW_{name}.txt") as f:
        for line in f:
            fields = line.split()
            if not fields[0].isdigit():
                continue  # a header line
            customer, date, n, amount = fields[-4:]
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
    pq.write_table(table, ROOT / "data" / f"cdnow_{name}.parquet", compression="zstd")
    print(f"{name}: {table.num_rows} rows, {len(set(ids))} customers")


def main() -> None:
    convert("master")
    convert("sample")


if __name__ == "__main__":
    main()
