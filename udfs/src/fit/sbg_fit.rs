//! `sbg_fit`: fits the sBG model of contract renewals.

use datafusion_common::{Result, exec_err};
use datafusion_expr::Signature;
use datafusion_macros::user_doc;

use super::patterns::{FitInputs, Row};
use crate::common::named;
use crate::math::Num;
use crate::math::optimize::{Fitted, maximize_likelihood};
use crate::math::sbg::mean_log_likelihood;
use crate::models::sbg::MODEL;

const NAME: &str = MODEL.fit;
const PARAMS: [&str; 3] = ["tenure", "churned", "penalizer"];
const INPUTS: FitInputs<2> = FitInputs {
    function: NAME,
    params: &PARAMS,
    flags: &["churned"],
};

#[user_doc(
    doc_section(label = "Subscriptions"),
    description = r#"Fits the shifted-beta-geometric (sBG) model of contract renewals (Fader & Hardie 2007, "How to Project Customer Retention") by maximum likelihood, for subscription businesses: at each renewal a subscriber cancels with a probability that is the same for them every period and drawn from Beta(`alpha`, `beta`) across subscribers. Because the subscribers most likely to cancel leave first, the retention rate of a cohort rises over time, which a fitted line or a constant churn rate misses.

One row per subscriber: `tenure`, the whole periods they stayed (for a subscriber lost, the periods until they cancelled, >= 1; for one still active, the periods observed so far) and `churned`, whether they are lost (BOOLEAN, or 1/0; an active subscriber is right-censored). Returns a struct `{alpha, beta, model, unit, se, log_likelihood, aic, bic, customers, skipped, converged, iterations, status}` with `model = 'sbg'` and `unit` NULL (tenures do not say their unit), the other fields as for `bgnbd_fit`; NULL rows are skipped, and so are subscribers active with tenure 0 (S(0) = 1 tells nothing); no rows give NULL. Pass it to `sbg_survival`, `sbg_retention` and `sbg_dert`. Errors: a tenure that is not a whole number >= 0 (>= 1 when churned), a churned value other than true/false or 1/0."#,
    syntax_example = "sbg_fit(tenure, churned [, penalizer])",
    sql_example = r#"```sql
> SELECT round(m['alpha'], 3) AS alpha, round(m['beta'], 3) AS beta, round(m['log_likelihood'], 1) AS ll
  FROM (SELECT sbg_fit(tenure, churned) AS m
        FROM (VALUES (1, true, 369), (2, true, 163), (3, true, 86), (4, true, 56), (5, true, 37),
                     (6, true, 27), (7, true, 21), (7, false, 241)) AS cohort(tenure, churned, n)
        CROSS JOIN generate_series(1, 400) AS g(i) WHERE i <= n);
+-------+-------+---------+
| alpha | beta  | ll      |
+-------+-------+---------+
| 0.704 | 1.182 | -1680.3 |
+-------+-------+---------+
```"#,
    argument(
        name = "tenure",
        description = "Whole periods the subscriber stayed: until they cancelled, or so far."
    ),
    argument(
        name = "churned",
        description = "Whether the subscriber is lost (true) or still active (false)."
    ),
    argument(
        name = "penalizer",
        description = "L2 penalty on the parameters (default 0), as for `bgnbd_fit`."
    ),
    related_udf(name = "sbg_survival"),
    related_udf(name = "sbg_retention"),
    related_udf(name = "sbg_dert")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SbgFitFunc {
    signature: Signature,
}

fit_function!(
    SbgFitFunc,
    model: MODEL,
    inputs: INPUTS,
    check: subscriber_row,
    fit: fit
);

fn subscriber_row([tenure, churned]: &[f64; 2]) -> Result<Row> {
    if *churned != 0.0 && *churned != 1.0 {
        return exec_err!(
            "{NAME}: argument churned must be true or false (or 1 or 0), got {}",
            Num(*churned)
        );
    }
    let least = *churned;
    if !tenure.is_finite() || tenure.fract() != 0.0 || *tenure < least {
        return exec_err!(
            "{NAME}: argument tenure must be a whole number of periods >= {least}{}, got {}",
            if least > 0.0 {
                " for a subscriber lost (they stayed at least one period)"
            } else {
                ""
            },
            Num(*tenure)
        );
    }
    // Active after no period: no information (S(0) = 1), not counted.
    Ok(if *tenure == 0.0 && least == 0.0 {
        Row::Outside
    } else {
        Row::Fit
    })
}

fn fit(rows: Vec<([f64; 2], f64)>, penalizer: f64) -> Result<Option<Fitted>> {
    let rows: Vec<(f64, bool, f64)> = rows
        .into_iter()
        .map(|([tenure, churned], count)| (tenure, churned == 1.0, count))
        .collect();
    let customers = rows.iter().map(|(_, _, n)| n).sum();
    let fitted = maximize_likelihood(
        |log_params| mean_log_likelihood(&rows, log_params),
        MODEL.params,
        penalizer,
        customers,
        &[1.0; MODEL.params.len()],
    );
    named(NAME, fitted).map(Some)
}
