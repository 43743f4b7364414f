//! `clv`: a customer's lifetime value over a horizon from fitted models.

use datafusion_common::{Result, ScalarValue};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::{ModelKind, check_spend, check_time, purchase_models, score_rows, spend_models};
use crate::common::{check_history, named};
use crate::math::bgnbd::SeriesCache;
use crate::math::discounting::present_value;

const NAME: &str = "clv";
const PARAMS: [&str; 9] = [
    "frequency",
    "recency",
    "t",
    "monetary_value",
    "model",
    "spend_model",
    "horizon",
    "discount_rate",
    "period",
];
const KINDS: [Option<ModelKind>; 9] = [
    None,
    None,
    None,
    None,
    Some(ModelKind::Purchases),
    Some(ModelKind::Spend),
    None,
    None,
    None,
];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"A customer's lifetime value over the next `horizon` time units from a purchase model and a spend model: the present value of the purchases `model` (BG/NBD, MBG/NBD or Pareto/NBD) expects from the customer's history, each worth the spend `spend_model` (Gamma-Gamma) expects from their `frequency` and `monetary_value` (`expected_spend`). As lifetimes' `customer_lifetime_value`, but with explicit units.

Units: `recency`, `t`, `horizon` and `period` are all in the time unit the model was fitted in, and `discount_rate` is per one such unit. From an annual rate R: per day `power(1 + R, 1.0 / 365) - 1`, per week `power(1 + R, 1.0 / 52) - 1`. Summarising the same customers in days or in weeks then gives the same CLV.

Discounting: with `period` 0 (the default), continuously: CLV = spend × ∫₀^horizon (1 + discount_rate)^−τ dE(τ), E(τ) the purchases expected within τ. With `period` p > 0, as lifetimes does: purchases are grouped into periods of length p (the last one may be shorter) and each period's are discounted at its end. lifetimes' `customer_lifetime_value(bgf, frequency, recency, T, monetary_value, time=12, discount_rate=0.01, freq='D')` (12 "months" of 30 days, 1% a month, summaries in days) is `clv(..., horizon => 360, discount_rate => power(1.01, 1.0 / 30) - 1, period => 30)`.

NULLs give NULL, as does a repeat buyer whose `monetary_value` is 0 or less (see `expected_spend`). Errors: those of `p_alive` and `expected_spend`; `horizon`, `discount_rate` or `period` negative or not finite; more than 100,000 periods (`horizon / period`); under BG/NBD and MBG/NBD a `horizon` beyond 2,000 times the model's `alpha` + `t` (see `expected_purchases`)."#,
    syntax_example = "clv(frequency, recency, t, monetary_value, model, spend_model, horizon, discount_rate [, period])",
    sql_example = r#"```sql
> SELECT round(clv(2, 30.43, 38.86, 35.0,
           named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426),
           named_struct('p', 6.25, 'q', 3.74, 'v', 15.44),
           horizon => 52, discount_rate => power(1.1, 1.0 / 52) - 1), 2) AS clv_1y;
+--------+
| clv_1y |
+--------+
| 52.27  |
+--------+
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
        name = "monetary_value",
        description = "Mean value of the repeat purchases, as `rfm_summary` returns."
    ),
    argument(
        name = "model",
        description = "A BG/NBD, MBG/NBD or Pareto/NBD model struct."
    ),
    argument(name = "spend_model", description = "A Gamma-Gamma model struct."),
    argument(
        name = "horizon",
        description = "How far ahead to value purchases, in the model's time unit (>= 0)."
    ),
    argument(
        name = "discount_rate",
        description = "Discount rate per time unit of the model (>= 0)."
    ),
    argument(
        name = "period",
        description = "Length of the periods whose purchases are discounted together, same unit; 0 (default) discounts continuously."
    ),
    related_udf(name = "expected_purchases"),
    related_udf(name = "expected_spend"),
    related_udf(name = "clv_simple")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvFunc {
    signature: Signature,
}

scoring_function!(
    ClvFunc,
    name: NAME,
    params: PARAMS,
    kinds: KINDS,
    optional: 1,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let a = &args.args;
    let models = purchase_models(NAME, "model", &a[4])?;
    let spend_models = spend_models(NAME, "spend_model", &a[5])?;
    let continuous = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.0)));
    let period = a.get(8).unwrap_or(&continuous);
    score_rows(
        NAME,
        a,
        [
            (PARAMS[0], &a[0]),
            (PARAMS[1], &a[1]),
            (PARAMS[2], &a[2]),
            (PARAMS[3], &a[3]),
            (PARAMS[6], &a[6]),
            (PARAMS[7], &a[7]),
            (PARAMS[8], period),
        ],
        args.number_rows,
        |cache: &mut SeriesCache, row, [x, t_x, t, m, horizon, discount_rate, period]| {
            let (Some(model), Some(spend_model)) = (models.get(row), spend_models.get(row)) else {
                return Ok(None);
            };
            check_history(NAME, x, t_x, t)?;
            let spend_known = check_spend(NAME, x, m)?;
            check_time(NAME, "horizon", horizon)?;
            check_time(NAME, "discount_rate", discount_rate)?;
            check_time(NAME, "period", period)?;
            if !spend_known {
                return Ok(None);
            }
            let spend = named(NAME, spend_model.expected_spend(x, m))?;
            // The present value is linear in the expectation, whose
            // P(alive) factor does not depend on the horizon.
            let alive = named(NAME, model.p_alive(x, t_x, t))?;
            let (curve, time_scale) = named(NAME, model.purchase_curve(x, t, horizon, cache))?;
            let purchases_if_alive = named(
                NAME,
                present_value(
                    |times, values| curve.at_each(times, values),
                    horizon,
                    discount_rate,
                    (period > 0.0).then_some(period),
                    time_scale,
                ),
            )?;
            Ok(Some(spend * alive * purchases_if_alive))
        },
    )
}
