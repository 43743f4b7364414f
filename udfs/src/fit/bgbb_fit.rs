//! `bgbb_fit`: fits the BG/BB model to histories in discrete opportunities.

use datafusion_common::Result;
use datafusion_expr::Signature;
use datafusion_macros::user_doc;

use super::fit_histories;
use super::patterns::{FitInputs, Row};
use crate::common::named;
use crate::math::bgbb::{self, check_history};
use crate::math::histories::Histories;
use crate::models::bgbb::MODEL;

const NAME: &str = MODEL.fit;
const PARAMS: [&str; 4] = ["frequency", "recency", "n_periods", "penalizer"];
const INPUTS: FitInputs<3> = FitInputs {
    function: NAME,
    params: &PARAMS,
    flags: &[],
};

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"Fits the BG/BB model (Fader, Hardie & Shang 2010, "Customer-Base Analysis in a Discrete-Time Noncontractual Setting") by maximum likelihood, as `lifetimes`' `BetaGeoBetaBinomFitter` does, for businesses where customers can transact only at discrete opportunities: a yearly donation drive, an annual conference, a weekly class. While alive, a customer transacts at each opportunity with a probability drawn from Beta(`alpha`, `beta`); before each later opportunity they drop out with a probability drawn from Beta(`gamma`, `delta`).

One row per customer: `frequency` transactions in the `n_periods` opportunities after their first, the last at opportunity `recency` (whole numbers, `frequency` <= `recency` <= `n_periods`, `recency` 0 without transactions; at most 100,000 opportunities). Summarise with `rfm_summary(..., unit => 'year')` (or the unit of the opportunities): its `frequency`, `recency` and `t` are these counts when there is at most one opportunity per period.

The example scores a donor who gave in 3 of the 6 yearly drives after their first, the last in drive 5, with the paper's estimates on its donation data (what `bgbb_fit` returns on `tests/fixtures/donations.csv`).

Returns a struct `{alpha, beta, gamma, delta, model, unit, se, log_likelihood, aic, bic, customers, skipped, converged, iterations, status}` with `model = 'bgbb'`, the other fields as for `bgnbd_fit`. Score with `p_alive` (P(alive at opportunity `n_periods`)), `churn_prob`, `expected_purchases` (the transactions expected over the next `horizon` opportunities, a whole number) and `prob_purchases`, passing `n_periods` as their `t`; `clv` refuses a BG/BB model (it discounts continuous time: multiply `expected_purchases` by `expected_spend` per opportunity instead). Errors: the row checks above, naming the argument and the values; a data set without a single repeat transaction. NULL rows are skipped; no rows give NULL.

**Summary form**: `bgbb_fit(s [, penalizer])` takes the struct of `rfm_summary` (or of `rfm_holdout`, its calibration part) in place of the columns, and the model records the summary's `unit`: scorers then refuse customers summarised in another unit and convert INTERVAL horizons and annual discount rates by it."#,
    syntax_example = "bgbb_fit(frequency, recency, n_periods [, penalizer]), bgbb_fit(summary [, penalizer])",
    sql_example = r#"```sql
> SELECT round(p_alive(3, 5, 6, m), 4) AS p_alive, round(expected_purchases(3, 5, 6, 5, m), 4) AS next_5
  FROM (SELECT named_struct('alpha', 1.204, 'beta', 0.750, 'gamma', 0.657, 'delta', 2.783) AS m);
+---------+--------+
| p_alive | next_5 |
+---------+--------+
| 0.8241  | 1.8044 |
+---------+--------+
```"#,
    argument(
        name = "frequency",
        description = "Transactions after the first (whole number >= 0)."
    ),
    argument(
        name = "recency",
        description = "The opportunity of the last transaction (whole number, 0 without transactions)."
    ),
    argument(
        name = "n_periods",
        description = "The opportunities after the first transaction (whole number >= recency)."
    ),
    argument(
        name = "penalizer",
        description = "L2 penalty on the parameters (default 0), as for `bgnbd_fit`."
    ),
    related_udf(name = "p_alive"),
    related_udf(name = "expected_purchases")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BgBbFitFunc {
    signature: Signature,
}

fit_function!(
    BgBbFitFunc,
    model: MODEL,
    inputs: INPUTS,
    check: history_row,
    fit: |rows, penalizer| {
        let start = |_: &Histories| vec![1.0; 4];
        fit_histories(NAME, MODEL.params, rows, penalizer, start, |h, p, threads| {
            Ok(bgbb::mean_log_likelihood(h, p, threads))
        })
    }
);

fn history_row([x, t_x, n]: &[f64; 3]) -> Result<Row> {
    named(NAME, check_history(*x, *t_x, *n, "n_periods"))?;
    Ok(Row::Fit)
}
