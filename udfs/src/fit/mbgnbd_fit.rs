//! `mbgnbd_fit`: fits the MBG/NBD model to customer histories.

use datafusion_expr::Signature;
use datafusion_macros::user_doc;

use super::patterns::FitInputs;
use super::{HISTORY_PARAMS, fit_bgnbd, history_row};
use crate::math::bgnbd::Dropout;
use crate::models::mbgnbd::MODEL;

const NAME: &str = MODEL.fit;
const INPUTS: FitInputs<3> = FitInputs {
    function: NAME,
    params: &HISTORY_PARAMS,
    flags: &[],
};

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"Fits the MBG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation and comparison of models for customer base analysis") by maximum likelihood to one row per customer, as `lifetimes`' `ModifiedBetaGeoFitter` does. It is BG/NBD with one change: a customer may drop out at every purchase, the first included, so **a customer without repeat purchases can be gone**, and the longer ago their only purchase, the likelier. BG/NBD calls every such customer alive (`p_alive` = 1); use MBG/NBD (or Pareto/NBD) to ask who is churning.

While alive, a customer buys at a Poisson rate drawn from Gamma(`r`, `alpha`); at each purchase they drop out with a probability drawn from Beta(`a`, `b`). Returns the struct of `bgnbd_fit` with `model = 'mbgnbd'`, which tells the scorers (`p_alive`, `churn_prob`, `expected_purchases`, `prob_purchases`, `clv`) to use MBG/NBD's formulas; a literal model needs that field too (`named_struct('model', 'mbgnbd', 'r', ..., 'alpha', ..., 'a', ..., 'b', ...)`). Arguments, NULLs, convergence, standard errors and errors as for `bgnbd_fit`.

**Summary form**: `mbgnbd_fit(s [, penalizer])` takes the struct of `rfm_summary` (or of `rfm_holdout`, its calibration part) in place of the columns, and the model records the summary's `unit`: scorers then refuse customers summarised in another unit and convert INTERVAL horizons and annual discount rates by it."#,
    syntax_example = "mbgnbd_fit(frequency, recency, t [, penalizer]), mbgnbd_fit(summary [, penalizer])",
    sql_example = r#"```sql
> WITH s AS (SELECT rfm_summary(order_date, amount, DATE '1997-09-30') AS s
             FROM 'data/cdnow_sample.parquet' GROUP BY customer_id),
       m AS (SELECT mbgnbd_fit(s['frequency'], s['recency'] / 7, s['t'] / 7) AS m FROM s)
  SELECT round(m['r'], 4) AS r, round(m['alpha'], 4) AS alpha, round(m['a'], 4) AS a,
         round(m['b'], 4) AS b, round(m['log_likelihood'], 2) AS ll, m['model'] AS model FROM m;
+--------+--------+--------+-------+----------+--------+
| r      | alpha  | a      | b     | ll       | model  |
+--------+--------+--------+-------+----------+--------+
| 0.5248 | 6.1831 | 0.8914 | 1.614 | -9582.14 | mbgnbd |
+--------+--------+--------+-------+----------+--------+
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
        description = "L2 penalty on the parameters (default 0), as for `bgnbd_fit`."
    ),
    related_udf(name = "bgnbd_fit"),
    related_udf(name = "p_alive"),
    related_udf(name = "churn_prob")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MbgNbdFitFunc {
    signature: Signature,
}

fit_function!(
    MbgNbdFitFunc,
    model: MODEL,
    inputs: INPUTS,
    check: |row| history_row(NAME, row),
    fit: |rows, penalizer| {
        fit_bgnbd(NAME, MODEL.params, rows, penalizer, Dropout::AtEveryPurchase)
    }
);
