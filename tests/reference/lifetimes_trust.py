"""Reference numbers from Python's lifetimes for model trust (tests/slt/trust.slt).

On the CDNOW sample (data/cdnow_sample.parquet, 2,357 customers), calibration
ending 1997-09-30, summarised per day and expressed in weeks (as
lifetimes_models.py does):

1. fits BetaGeoFitter, ModifiedBetaGeoFitter and GammaGammaFitter (repeat
   buyers) and prints their parameters, total log-likelihood and standard
   errors (lifetimes' `summary`: the inverse Hessian of the mean negative
   log-likelihood in log-parameters, scaled by params² / customers);
2. at fixed MBG/NBD parameters (the fit rounded to 4 digits) writes, per
   customer, P(alive) and the expected purchases over the next 39 weeks to
   tests/fixtures/lifetimes_mbgnbd.parquet, and P(X(52) = n) for n = 0..9 to
   tests/fixtures/lifetimes_mbgnbd_pmf.parquet;
3. on the CDNOW master log (data/cdnow_master.parquet, 23,570 customers)
   writes lifetimes' calibration_and_holdout_data (calibration to
   1997-09-30, holdout to 1998-06-30) per customer, for days and for weeks,
   to tests/fixtures/lifetimes_holdout.parquet;
4. fits BetaGeoBetaBinomFitter to the donation data of Fader, Hardie & Shang
   (2010) that lifetimes ships (tests/fixtures/donations.csv: frequency,
   recency, periods and the number of donors with that pattern) and prints
   its parameters, standard errors and log-likelihood; at the paper's
   estimates (alpha 1.204, beta 0.750, gamma 0.657, delta 2.783) writes per
   pattern P(alive at period n) and the expected donations over the next 1, 5
   and 10 periods to tests/fixtures/lifetimes_bgbb.parquet.

Set up and run from the repository root:
    python3 -m venv .venv-ref && .venv-ref/bin/pip install lifetimes==0.11.3 pyarrow
    .venv-ref/bin/python tests/reference/lifetimes_trust.py
(checked with lifetimes 0.11.3).
"""

import pathlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from lifetimes import BetaGeoBetaBinomFitter, BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

ROOT = pathlib.Path(__file__).resolve().parents[2]
AS_OF = "1997-09-30"


def show(name, fitter, *data):
    print(name, "params", fitter.params_.to_dict())
    print(name, "se", fitter.standard_errors_.to_dict())
    weights = np.ones(len(data[0]))
    mean = fitter._negative_log_likelihood(np.log(fitter.params_.values), *data, weights, 0.0)
    print(name, "log_likelihood", -mean * len(weights))


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

    show("BG/NBD", BetaGeoFitter().fit(f, r, T), f.values, r.values, T.values)
    mbg = ModifiedBetaGeoFitter().fit(f, r, T)
    show("MBG/NBD", mbg, f.values, r.values, T.values)
    repeat = s[s["frequency"] > 0]
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    show("Gamma-Gamma", gg, repeat["frequency"].values, repeat["monetary_value"].values)

    mbg.params_ = pd.Series({k: round(v, 4) for k, v in mbg.params_.items()})
    print("scored at", dict(mbg.params_))
    out = pd.DataFrame({"customer_id": s.index, "frequency": f, "recency": r, "t": T})
    out["p_alive"] = mbg.conditional_probability_alive(f, r, T)
    out["purchases_39"] = mbg.conditional_expected_number_of_purchases_up_to_time(39, f, r, T)
    pq.write_table(
        pa.Table.from_pandas(out, preserve_index=False), ROOT / "tests" / "fixtures" / "lifetimes_mbgnbd.parquet"
    )
    n = np.arange(10)
    pmf = pd.DataFrame({"n": n, "p": [mbg.probability_of_n_purchases_up_to_time(52, k) for k in n]})
    pmf["new_customer_52"] = mbg.expected_number_of_purchases_up_to_time(52)
    pq.write_table(
        pa.Table.from_pandas(pmf, preserve_index=False), ROOT / "tests" / "fixtures" / "lifetimes_mbgnbd_pmf.parquet"
    )

    master = pd.read_parquet(ROOT / "data" / "cdnow_master.parquet")
    master["order_date"] = pd.to_datetime(master["order_date"])
    parts = []
    for unit, freq in [("day", "D"), ("week", "W")]:
        h = calibration_and_holdout_data(
            master, "customer_id", "order_date", calibration_period_end="1997-09-30",
            observation_period_end="1998-06-30", freq=freq, monetary_value_col="amount",
        )
        h = h.reset_index()
        h["unit"] = unit
        parts.append(h)
    holdout = pd.concat(parts).rename(columns={"T_cal": "t_cal"})
    pq.write_table(
        pa.Table.from_pandas(holdout, preserve_index=False), ROOT / "tests" / "fixtures" / "lifetimes_holdout.parquet"
    )
    print(len(holdout), "holdout rows")

    d = pd.read_csv(ROOT / "tests" / "fixtures" / "donations.csv")
    bgbb = BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    print("BG/BB params", bgbb.params_.to_dict())
    print("BG/BB se", bgbb.standard_errors_.to_dict())
    ll = BetaGeoBetaBinomFitter._loglikelihood(bgbb.params_.values, d["frequency"], d["recency"], d["periods"])
    print("BG/BB log_likelihood", (ll * d["weights"]).sum())
    bgbb.params_ = pd.Series({"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783})
    x, tx, n = d["frequency"], d["recency"], d["periods"]
    out = d[["frequency", "recency", "periods"]].copy()
    out["p_alive"] = bgbb.conditional_probability_alive(0, x, tx, n)
    for m in [1, 5, 10]:
        out[f"purchases_{m}"] = bgbb.conditional_expected_number_of_purchases_up_to_time(m, x, tx, n)
    pq.write_table(
        pa.Table.from_pandas(out, preserve_index=False), ROOT / "tests" / "fixtures" / "lifetimes_bgbb.parquet"
    )


if __name__ == "__main__":
    main()
