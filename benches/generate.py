"""Seeded generator of customer transaction logs that follow the BG/NBD
purchase and dropout process with Gamma-Gamma spend.

Each customer joins at a uniform time within the first `join_days` days and
buys then; while alive they buy at Poisson rate lambda ~ Gamma(r, 1/alpha)
per day and after each repeat purchase leave with probability
p ~ Beta(a, b); each purchase is worth Gamma(p_spend, 1/nu) with
nu ~ Gamma(q, 1/v) per customer. Observation ends `days` days after the start.

Writes, for --customers N:
  <out>/tx_<N>.parquet          customer_id int64, order_ts timestamp[us], amount double
  <out>/summary_<N>.parquet     customer_id, frequency, recency, t, monetary_value
                                (continuous days, as the models define them)
  <out>/params_<N>.json         the true parameters and the seed

With --part-customers C (for logs larger than memory, e.g. 50M customers and
~170M transactions), customers are simulated C at a time, each block from
its own seeded stream, and the log is the folder <out>/tx_<N>/ of one
Parquet file per block (customer ids continue across blocks); no summary
file is written. Python holds one block at a time.

    python benches/generate.py --customers 100000 --out target/bench-data
(numpy and pyarrow; the bench scripts set up a venv with them).
"""

import argparse
import json
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

TRUE = {"r": 0.25, "alpha": 20.0, "a": 0.8, "b": 2.5, "p": 6.0, "q": 4.0, "v": 15.0}
START = np.datetime64("2024-01-01T00:00:00", "us")


def simulate(customers: int, seed, days: float, join_days: float):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE["r"], 1.0 / TRUE["alpha"], customers)
    drop = rng.beta(TRUE["a"], TRUE["b"], customers)
    nu = rng.gamma(TRUE["q"], 1.0 / TRUE["v"], customers)
    join = rng.uniform(0.0, join_days, customers)
    ids = [np.arange(customers)]
    times = [join]
    now = join.copy()
    alive = np.arange(customers)
    while alive.size:
        now[alive] += rng.exponential(1.0, alive.size) / lam[alive]
        alive = alive[now[alive] <= days]
        ids.append(alive)
        times.append(now[alive].copy())
        alive = alive[rng.random(alive.size) >= drop[alive]]
    ids = np.concatenate(ids)
    times = np.concatenate(times)
    amounts = rng.gamma(TRUE["p"], 1.0 / nu[ids])
    order = np.lexsort((times, ids))
    return ids[order], times[order], amounts[order], join, days


def summarise(ids, times, amounts, join, days):
    customers = join.size
    counts = np.bincount(ids, minlength=customers)
    last = np.zeros(customers)
    np.maximum.at(last, ids, times)
    total = np.bincount(ids, weights=amounts, minlength=customers)
    first_amount = np.zeros(customers)
    first_index = np.concatenate([[0], np.cumsum(counts)[:-1]])
    first_amount[:] = amounts[first_index]
    frequency = counts - 1
    repeat_spend = total - first_amount
    monetary = np.divide(repeat_spend, frequency, out=np.zeros(customers), where=frequency > 0)
    return {
        "customer_id": np.arange(customers, dtype=np.int64),
        "frequency": frequency.astype(np.int64),
        "recency": last - join,
        "t": days - join,
        "monetary_value": monetary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=float, default=546.0)
    parser.add_argument("--join-days", type=float, default=84.0)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("target/bench-data"))
    parser.add_argument("--summary-only", action="store_true")
    parser.add_argument("--part-customers", type=int, help="write the log in parts of this many customers")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.part_customers:
        write_parts(args)
        return
    ids, times, amounts, join, days = simulate(args.customers, args.seed, args.days, args.join_days)
    n = args.customers
    if not args.summary_only:
        ts = START + (times * 86_400e6).astype("timedelta64[us]")
        pq.write_table(
            pa.table({"customer_id": pa.array(ids, pa.int64()), "order_ts": pa.array(ts), "amount": amounts}),
            args.out / f"tx_{n}.parquet",
        )
    pq.write_table(pa.table(summarise(ids, times, amounts, join, days)), args.out / f"summary_{n}.parquet")
    params = dict(TRUE, seed=args.seed, customers=n, days=args.days, join_days=args.join_days, transactions=int(ids.size))
    (args.out / f"params_{n}.json").write_text(json.dumps(params, indent=2) + "\n")
    print(json.dumps(params))


def write_parts(args) -> None:
    n = args.customers
    folder = args.out / f"tx_{n}"
    folder.mkdir(parents=True, exist_ok=True)
    transactions = 0
    for block, start in enumerate(range(0, n, args.part_customers)):
        size = min(args.part_customers, n - start)
        ids, times, amounts, _, _ = simulate(size, [args.seed, block], args.days, args.join_days)
        ts = START + (times * 86_400e6).astype("timedelta64[us]")
        table = pa.table({"customer_id": pa.array(ids + start, pa.int64()), "order_ts": pa.array(ts), "amount": amounts})
        pq.write_table(table, folder / f"part-{block:05}.parquet")
        transactions += int(ids.size)
    params = dict(TRUE, seed=args.seed, customers=n, days=args.days, join_days=args.join_days,
                  transactions=transactions, part_customers=args.part_customers)
    (args.out / f"params_{n}.json").write_text(json.dumps(params, indent=2) + "\n")
    print(json.dumps(params))


if __name__ == "__main__":
    main()
