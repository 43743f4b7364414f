//! `bgnbd_fit`: fits the BG/NBD model to customer histories.

use datafusion_expr::Signature;
use datafusion_macros::user_doc;

use super::patterns::FitInputs;
use super::{HISTORY_PARAMS, fit_bgnbd, history_row};
use crate::math::bgnbd::Dropout;
use crate::models::bgnbd::MODEL;

const NAME: &str = MODEL.fit;
const INPUTS: FitInputs<3> = FitInputs {
    function: NAME,
    params: &HISTORY_PARAMS,
    flags: &[],
};

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"Fits the BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way") by maximum likelihood to one row per customer, as `lifetimes`' `BetaGeoFitter` does. While alive, a customer buys at a Poisson rate drawn from Gamma(`r`, `alpha`); after each purchase they drop out with a probability drawn from Beta(`a`, `b`).

**BG/NBD calls every customer without a repeat purchase alive** (`p_alive` = 1, `churn_prob` = 0, however long ago their only purchase): to rank who is churning, fit `mbgnbd_fit` or `pareto_nbd_fit` instead (compare them with `aic`, or on a holdout: `sql/validate.sql`).

Returns a struct `{r, alpha, a, b, model, unit, se, log_likelihood, aic, bic, customers, skipped, converged, iterations, status}`: the parameters (`alpha` in the time unit of `recency` and `t`); `model = 'bgnbd'`; `unit`, the time unit of the summaries fitted on (NULL when fitted from columns, which do not say); `se`, their standard errors (a struct with the same field names, `m['se']['alpha']`: the inverse observed information at the optimum by the delta method from log-parameters, as lifetimes' `summary` reports them; NULL when the fit did not converge); the total log-likelihood at them (without penalty); AIC (2k − 2 ln L) and BIC (k ln(customers) − 2 ln L) with k = 4 parameters, to compare models fitted on the same customers; the customers fitted on; `skipped`, the rows left out (always 0 here: every valid history is fitted, an invalid one is an error); whether the optimiser converged, its iterations and a status in words ("converged", or why it stopped: a fit that does not converge returns its best point with `converged = false`). Data that hold no finite, unique maximum (one customer, a handful of identical ones) give `converged = false` and a status saying so ("no finite maximum: ... runs to ..." when a parameter leaves 1e-8..1e8, "no unique maximum" when the likelihood is flat in some direction), never a confident answer at the edge of the parameter space; a `penalizer` > 0 keeps parameters from growing without bound). Pass the struct to `p_alive`, `churn_prob`, `expected_purchases`, `prob_purchases` and `clv`.

The fit works on the distinct `(frequency, recency, t)` histories with their counts (L-BFGS on log-parameters, analytic gradient, both cores), so its cost grows with distinct histories, not customers. Rows with a NULL argument are skipped. Errors: a frequency that is not a whole number >= 0, a negative or non-finite recency, `t < recency`, `recency = 0` with `frequency > 0` or `recency > 0` with `frequency = 0`; a data set without a single repeat purchase (the model's `a` and `b` are then unidentified). No rows gives NULL.

**Summary form**: `bgnbd_fit(s [, penalizer])` takes the struct of `rfm_summary` (or of `rfm_holdout`, its calibration part) in place of the columns, and the model records the summary's `unit`: scorers then refuse customers summarised in another unit and convert INTERVAL horizons and annual discount rates by it."#,
    syntax_example = "bgnbd_fit(frequency, recency, t [, penalizer]), bgnbd_fit(summary [, penalizer])",
    sql_example = r#"```sql
> WITH s AS (SELECT rfm_summary(order_date, amount, DATE '1997-09-30') AS s
             FROM 'data/cdnow_sample.parquet' GROUP BY customer_id),
       m AS (SELECT bgnbd_fit(s['frequency'], s['recency'] / 7, s['t'] / 7) AS m FROM s)
  SELECT round(m['r'], 4) AS r, round(m['alpha'], 4) AS alpha, round(m['a'], 4) AS a,
         round(m['b'], 4) AS b, round(m['log_likelihood'], 2) AS ll, m['converged'] AS converged FROM m;
+--------+--------+--------+--------+----------+-----------+
| r      | alpha  | a      | b      | ll       | converged |
+--------+--------+--------+--------+----------+-----------+
| 0.2426 | 4.4136 | 0.7929 | 2.4259 | -9582.43 | true      |
+--------+--------+--------+--------+----------+-----------+
```"#,
    argument(
        name = "frequency",
        description = "Repeat purchases (whole number >= 0), as `rfm_summary` returns."
    ),
    argument(
        name = "recency",
        description = "Time from the first to the last purchase, in the model's time unit."
    ),
    argument(
        name = "t",
        description = "The customer's age: time from the first purchase to the end of observation, same unit."
    ),
    argument(
        name = "penalizer",
        description = "L2 penalty on the parameters (default 0): `penalizer × (r² + alpha² + a² + b²)` is added to the mean negative log-likelihood per customer, as lifetimes' `penalizer_coef`."
    ),
    related_udf(name = "pareto_nbd_fit"),
    related_udf(name = "p_alive"),
    related_udf(name = "expected_purchases")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BgNbdFitFunc {
    signature: Signature,
}

fit_function!(
    BgNbdFitFunc,
    model: MODEL,
    inputs: INPUTS,
    check: |row| history_row(NAME, row),
    fit: |rows, penalizer| {
        fit_bgnbd(NAME, MODEL.params, rows, penalizer, Dropout::AfterRepeatPurchases)
    }
);
