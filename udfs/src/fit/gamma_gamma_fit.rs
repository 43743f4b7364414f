//! `gamma_gamma_fit`: fits the Gamma-Gamma spend model to repeat buyers.

use datafusion_common::{Result, exec_err};
use datafusion_expr::Signature;
use datafusion_macros::user_doc;

use super::patterns::{FitInputs, Row};
use crate::common::{check_whole, named};
use crate::math::Num;
use crate::math::gamma_gamma::{Spends, mean_log_likelihood};
use crate::math::optimize::{Fitted, maximize_likelihood};
use crate::models::gamma_gamma::MODEL;
use crate::parallel::available_threads;

const NAME: &str = MODEL.fit;
const PARAMS: [&str; 3] = ["frequency", "monetary_value", "penalizer"];
const INPUTS: FitInputs<2> = FitInputs {
    function: NAME,
    params: &PARAMS,
    flags: &[],
};

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"Fits the Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value Curves"; Fader & Hardie's note 025) by maximum likelihood, as `lifetimes`' `GammaGammaFitter` does: a customer's purchase values are Gamma(`p`, ν) with ν drawn from Gamma(`q`, `v`).

The model describes the mean value `monetary_value` of a customer's `frequency` repeat purchases, so only repeat buyers (`frequency > 0`) are fitted on; rows with `frequency = 0` are skipped, as are rows with a NULL argument. Bad rows: a repeat buyer whose `monetary_value` is 0 or less (returns, free orders) is a customer the model cannot take (it has no room for zero or negative spend): the row is skipped and counted in `skipped`, and the fit is the fit of the others, as if they had been filtered out first. Returns a struct `{p, q, v, model, unit, se, log_likelihood, aic, bic, customers, skipped, converged, iterations, status}` (`model = 'gamma_gamma'`, the other fields as for `bgnbd_fit`) where `customers` counts the repeat buyers used; NULL when there are none. Convergence is reported as by `bgnbd_fit`, including `converged = false` on data without a finite, unique maximum. Errors: a frequency that is not a whole number >= 0, a `monetary_value` that is not finite for a repeat buyer. The model assumes spend is independent of purchase frequency; check `corr(frequency, monetary_value)` over repeat buyers is near 0. Pass the struct to `expected_spend` and `clv`.

**Summary form**: `gamma_gamma_fit(s [, penalizer])` takes the struct of `rfm_summary` (or of `rfm_holdout`, its calibration part) in place of the columns, and the model records the summary's `unit`: scorers then refuse customers summarised in another unit and convert INTERVAL horizons and annual discount rates by it."#,
    syntax_example = "gamma_gamma_fit(frequency, monetary_value [, penalizer]), gamma_gamma_fit(summary [, penalizer])",
    sql_example = r#"```sql
> WITH s AS (SELECT rfm_summary(order_date, amount, DATE '1997-09-30') AS s
             FROM 'data/cdnow_sample.parquet' GROUP BY customer_id),
       m AS (SELECT gamma_gamma_fit(s['frequency'], s['monetary_value']) AS m FROM s)
  SELECT round(m['p'], 4) AS p, round(m['q'], 4) AS q, round(m['v'], 4) AS v,
         m['customers'] AS customers FROM m;
+--------+--------+---------+-----------+
| p      | q      | v       | customers |
+--------+--------+---------+-----------+
| 6.2496 | 3.7442 | 15.4435 | 946       |
+--------+--------+---------+-----------+
```"#,
    argument(
        name = "frequency",
        description = "Repeat purchases (whole number >= 0), as `rfm_summary` returns."
    ),
    argument(
        name = "monetary_value",
        description = "Mean value of the repeat purchases (> 0 for repeat buyers)."
    ),
    argument(
        name = "penalizer",
        description = "L2 penalty on the parameters (default 0): `penalizer × (p² + q² + v²)` is added to the mean negative log-likelihood per customer, as lifetimes' `penalizer_coef`."
    ),
    related_udf(name = "expected_spend"),
    related_udf(name = "clv")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GammaGammaFitFunc {
    signature: Signature,
}

fit_function!(
    GammaGammaFitFunc,
    model: MODEL,
    inputs: INPUTS,
    check: spend_row,
    fit: fit
);

/// Fits on repeat buyers with a mean spend above 0; skips (and counts)
/// those with 0 or less, which the model cannot take.
fn spend_row([x, m]: &[f64; 2]) -> Result<Row> {
    check_whole(NAME, "frequency", *x)?;
    if *x == 0.0 {
        return Ok(Row::Outside);
    }
    if !m.is_finite() {
        return exec_err!(
            "{NAME}: argument monetary_value must be a finite number for a repeat buyer, got {} with frequency {}",
            Num(*m),
            Num(*x)
        );
    }
    Ok(if *m > 0.0 { Row::Fit } else { Row::Skip })
}

fn fit(rows: Vec<([f64; 2], f64)>, penalizer: f64) -> Result<Option<Fitted>> {
    let spends = Spends::new(rows.into_iter().map(|([x, m], count)| (x, m, count)));
    let customers = spends.customers();
    let threads = available_threads();
    let fitted = maximize_likelihood(
        |log_params| mean_log_likelihood(&spends, log_params, threads),
        MODEL.params,
        penalizer,
        customers,
        &[1.0; MODEL.params.len()],
    );
    named(NAME, fitted).map(Some)
}
