//! `expected_purchases`: a customer's expected purchases over a horizon.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::units::prepare;
use super::{ModelKind, check_time, purchase_models, score_rows};
use crate::common::{check_history, named};
use crate::math::bgnbd::SeriesCache;

const NAME: &str = "expected_purchases";
const PARAMS: [&str; 5] = ["frequency", "recency", "t", "horizon", "model"];
pub(crate) const SUMMARY: [&str; 3] = ["summary", "model", "horizon"];
const KINDS: [Option<ModelKind>; 5] = [None, None, None, None, Some(ModelKind::Purchases)];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"The expected number of purchases a customer with history (`frequency`, `recency`, `t`) makes in the next `horizon` time units under a fitted BG/NBD, MBG/NBD or Pareto/NBD `model` (conditional expectation: Fader, Hardie & Lee 2005 eq. 10 for BG/NBD, lifetimes' `ModifiedBetaGeoFitter` for MBG/NBD, note 009 for Pareto/NBD). Under a BG/BB model (Fader, Hardie & Shang 2010 eq. 13) `recency`, `t` and `horizon` are whole numbers of opportunities. Otherwise `recency`, `t` and `horizon` are all in the model's time unit: for a model fitted on days, a year is `horizon => 365`; on weeks, `52`. With `frequency`, `recency` and `t` all 0 it is the expectation for a new customer. The Gauss hypergeometric function of BG/NBD's formula is summed in scaled arithmetic, finite for frequencies in the thousands and horizons far beyond the customer's age: up to 2,000 times the model's `alpha` + `t` under BG/NBD and MBG/NBD (a century in weeks for a new customer of the paper's model), beyond which its series would need unbounded time. Arguments, NULLs and errors as for `p_alive`; `horizon` must be finite and >= 0, and within that bound for BG/NBD and MBG/NBD.

**Summary form**: ``expected_purchases(s, model, horizon)`` takes the struct of `rfm_summary` (or `rfm_holdout`) in place of `frequency`, `recency` and `t` (note the order: the model before the horizon). A model fitted from a summary in another unit is an error naming both units.

`horizon` may be an INTERVAL (`horizon => INTERVAL '1 year'`) where the customers (a summary struct) or the model (fitted from one) say the time unit: it is converted into that unit, a week as 7 days, a month as a calendar month in month, quarter and year units and as 365.2425 / 12 days in day and week units (so a year is 365.2425 days or 52.1775 weeks)."#,
    syntax_example = "expected_purchases(frequency, recency, t, horizon, model), expected_purchases(s, model, horizon)",
    sql_example = r#"```sql
> SELECT round(expected_purchases(2, 30.43, 38.86, 39,
           named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426)), 5) AS next_39_weeks;
+---------------+
| next_39_weeks |
+---------------+
| 1.22603       |
+---------------+
```"#,
    argument(
        name = "frequency",
        description = "Repeat purchases (whole number >= 0)."
    ),
    argument(
        name = "recency",
        description = "Time from the first to the last purchase, in the model's time unit."
    ),
    argument(
        name = "t",
        description = "Time from the first purchase to the end of observation, same unit."
    ),
    argument(
        name = "horizon",
        description = "How far ahead to count purchases, in the model's time unit (>= 0), or an INTERVAL."
    ),
    argument(
        name = "model",
        description = "A BG/NBD, MBG/NBD, Pareto/NBD or BG/BB model struct."
    ),
    related_udf(name = "prob_purchases"),
    related_udf(name = "clv")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExpectedPurchasesFunc {
    signature: Signature,
}

scoring_function!(
    ExpectedPurchasesFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 0,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let (a, _) = prepare(NAME, &PARAMS, &SUMMARY, &KINDS, &args.args)?;
    let a = &a;
    let models = purchase_models(NAME, "model", &a[4])?;
    score_rows(
        NAME,
        a,
        [
            (PARAMS[0], &a[0]),
            (PARAMS[1], &a[1]),
            (PARAMS[2], &a[2]),
            (PARAMS[3], &a[3]),
        ],
        args.number_rows,
        |cache: &mut SeriesCache, row, [x, t_x, t, horizon]| {
            let Some(model) = models.get(row) else {
                return Ok(None);
            };
            check_history(NAME, x, t_x, t)?;
            check_time(NAME, "horizon", horizon)?;
            named(NAME, model.expected_purchases(x, t_x, t, horizon, cache)).map(Some)
        },
    )
}
