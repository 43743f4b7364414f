"""How the pipeline grows: raw transactions to per-customer CLV, churn
probability and segment in Parquet (compare.py's pipeline) for logs of 1M,
5M, 20M and 50M customers, with `clvsql -m 8G`, timing each run and taking
its peak memory from /usr/bin/time.

    python benches/growth.py --clvsql target/release/clvsql [--sizes 1000000,5000000] [--memory 8G]

Logs come from benches/generate.py; those beyond --part-from customers are
written as folders of parts (generate.py --part-customers 2000000), so no
log is ever whole in Python's memory.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

from compare import AS_OF, DATA, PIPELINE, ROOT


def ensure_log(customers: int, part_from: int) -> tuple[pathlib.Path, int]:
    params = DATA / f"params_{customers}.json"
    folder, single = DATA / f"tx_{customers}", DATA / f"tx_{customers}.parquet"
    if not params.exists() or not (folder.exists() or single.exists()):
        command = [sys.executable, str(ROOT / "benches" / "generate.py"), "--customers", str(customers), "--out", str(DATA)]
        if customers >= part_from:
            command += ["--part-customers", "2000000"]
        subprocess.run(command, check=True)
    log = folder if folder.exists() else single
    return log, json.loads(params.read_text())["transactions"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clvsql", default=str(ROOT / "target" / "release" / "clvsql"))
    parser.add_argument("--sizes", default="1000000,5000000,20000000,50000000")
    parser.add_argument("--memory", default="8G")
    parser.add_argument("--part-from", type=int, default=20_000_000)
    args = parser.parse_args()
    rows = []
    for customers in [int(s) for s in args.sizes.split(",")]:
        log, transactions = ensure_log(customers, args.part_from)
        out = DATA / f"clv_{customers}.parquet"
        script = DATA / f"growth_{customers}.sql"
        tx = f"{log}/" if log.is_dir() else str(log)
        script.write_text(PIPELINE.format(out=out, tx=tx, as_of=AS_OF))
        start = time.perf_counter()
        run = subprocess.run(["/usr/bin/time", "-v", args.clvsql, "-q", "-m", args.memory, "-f", str(script)],
                             capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if run.returncode != 0:
            sys.exit(run.stderr)
        peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1)) / 1024
        rows.append((customers, transactions, seconds, peak))
        print(rows[-1], flush=True)
    print()
    print(f"clvsql {args.clvsql}, -m {args.memory}, one run each")
    print()
    print("| customers | transactions | seconds | peak RSS (MB) | µs per customer | KB per customer |")
    print("|---:|---:|---:|---:|---:|---:|")
    for customers, transactions, seconds, peak in rows:
        print(f"| {customers:,} | {transactions:,} | {seconds:.1f} | {peak:,.0f} | "
              f"{seconds / customers * 1e6:.2f} | {peak * 1024 / customers:.2f} |")


if __name__ == "__main__":
    main()
