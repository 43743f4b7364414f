"""Reference model fits and scores from Python's lifetimes, for tests/slt/models.slt.

On the CDNOW sample (data/cdnow_sample.parquet, 2,357 customers) with the
calibration period ending 1997-09-30, summarised per day and expressed in
weeks (recency and T in days / 7, as the BG/NBD paper does):

1. fits BetaGeoFitter, ParetoNBDFitter (Nelder-Mead tolerances tightened so
   it stops at the optimum, not near it) and GammaGammaFitter, without and
   with a penalizer, and prints the parameters;
2. at fixed parameters (the paper's rounded BG/NBD estimates, the Pareto/NBD
   and Gamma-Gamma fits rounded to 4 digits) writes, per customer, P(alive),
   expected purchases over the next 39 weeks, the expected spend, and CLV
   over 12 "months" of 4.345 weeks at 1% a month (lifetimes'
   customer_lifetime_value with freq='W'), plus P(X(52) = n) for n = 0..9,
   to tests/fixtures/lifetimes_models.parquet.

Set up and run from the repository root:
    python3 -m venv .venv-ref && .venv-ref/bin/pip install lifetimes==0.11.3 pyarrow
    .venv-ref/bin/python tests/reference/lifetimes_models.py
(checked with lifetimes 0.11.3, pandas 3.1.1, numpy 2.4.6, scipy 1.17.1).
"""

import pathlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
from lifetimes.utils import summary_data_from_transaction_data

ROOT = pathlib.Path(__file__).resolve().parents[2]
AS_OF = "1997-09-30"


def main() -> None:
    tx = pd.read_parquet(ROOT / "data" / "cdnow_sample.parquet")
    tx["order_date"] = pd.to_datetime(tx["order_date"])
    tx = tx[tx["order_date"] <= AS_OF]
    s = summary_data_from_transaction_data(
        tx, "customer_id", "order_date", "amount", observation_period_end=AS_OF, freq="D"
    )
    s["recency"] /= 7
    s["T"] /= 7
    f, r, T, m = s["frequency"], s["recency"], s["T"], s["monetary_value"]

    bgf = BetaGeoFitter().fit(f, r, T)
    print("BG/NBD", bgf.params_.to_dict())
    penalized = BetaGeoFitter(penalizer_coef=0.1).fit(f, r, T)
    objective = BetaGeoFitter._negative_log_likelihood(
        np.log(penalized.params_.values), f.values, r.values, T.values, np.ones(len(s)), 0.1
    )
    print("BG/NBD penalizer 0.1", penalized.params_.to_dict(), "objective", objective)
    pnbd = ParetoNBDFitter().fit(f, r, T, maxiter=20000, xatol=1e-10, fatol=1e-12)
    print("Pareto/NBD", pnbd.params_.to_dict())
    repeat = s[s["frequency"] > 0]
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    print("Gamma-Gamma", ggf.params_.to_dict(), "LL", -ggf._negative_log_likelihood_ * len(repeat))
    ggp = GammaGammaFitter(penalizer_coef=0.01).fit(repeat["frequency"], repeat["monetary_value"])
    print("Gamma-Gamma penalizer 0.01", ggp.params_.to_dict())

    bgf.params_ = pd.Series({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    pnbd.params_ = pd.Series({k: round(v, 4) for k, v in pnbd.params_.items()})
    ggf.params_ = pd.Series({k: round(v, 4) for k, v in ggf.params_.items()})
    print("scored at", dict(bgf.params_), dict(pnbd.params_), dict(ggf.params_))

    out = pd.DataFrame({"customer_id": s.index, "frequency": f, "recency": r, "t": T, "monetary_value": m})
    out["bg_p_alive"] = bgf.conditional_probability_alive(f, r, T)
    out["bg_purchases_39"] = bgf.conditional_expected_number_of_purchases_up_to_time(39, f, r, T)
    out["pnbd_p_alive"] = pnbd.conditional_probability_alive(f, r, T)
    out["pnbd_purchases_39"] = pnbd.conditional_expected_number_of_purchases_up_to_time(39, f, r, T)
    out["spend"] = ggf.conditional_expected_average_profit(f, m)
    for name, model in [("bg", bgf), ("pnbd", pnbd)]:
        out[f"{name}_clv"] = ggf.customer_lifetime_value(
            model, f, r, T, m, time=12, discount_rate=0.01, freq="W"
        ).values
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), ROOT / "tests" / "fixtures" / "lifetimes_models.parquet")

    n = np.arange(10)
    pmf = pd.DataFrame(
        {
            "n": n,
            "bg_p": [bgf.probability_of_n_purchases_up_to_time(52, k) for k in n],
            "pnbd_p": [pnbd.conditional_probability_of_n_purchases_up_to_time(k, 52, 0, 0, 0) for k in n],
        }
    )
    pq.write_table(pa.Table.from_pandas(pmf, preserve_index=False), ROOT / "tests" / "fixtures" / "lifetimes_pmf.parquet")
    print(len(out), "customers")


if __name__ == "__main__":
    main()
