//! `clv`: a customer's lifetime value over a horizon from fitted models.

use datafusion_common::{Result, ScalarValue, exec_err};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::units::{periods_per_year, prepare};
use super::{ModelKind, check_spend, check_time, purchase_models, score_rows, spend_models};
use crate::common::{check_history, named};
use crate::math::Num;
use crate::math::bgnbd::SeriesCache;
use crate::math::calendar::PeriodUnit;
use crate::math::discounting::present_value;
use crate::math::gamma_gamma::GammaGamma;
use crate::models::purchase::PurchaseModel;

const NAME: &str = "clv";
const PARAMS: [&str; 10] = [
    "frequency",
    "recency",
    "t",
    "monetary_value",
    "model",
    "spend_model",
    "horizon",
    "discount_rate",
    "period",
    "annual_discount_rate",
];
pub(crate) const SUMMARY: [&str; 7] = [
    "summary",
    "model",
    "spend_model",
    "horizon",
    "discount_rate",
    "period",
    "annual_discount_rate",
];
const KINDS: [Option<ModelKind>; 10] = [
    None,
    None,
    None,
    None,
    Some(ModelKind::Purchases),
    Some(ModelKind::Spend),
    None,
    None,
    None,
    None,
];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"A customer's lifetime value over the next `horizon` time units from a purchase model and a spend model: the present value of the purchases `model` (BG/NBD, MBG/NBD or Pareto/NBD) expects from the customer's history, each worth the spend `spend_model` (Gamma-Gamma) expects from their `frequency` and `monetary_value` (`expected_spend`). As lifetimes' `customer_lifetime_value`, but with explicit units.

Units: `recency`, `t`, `horizon` and `period` are all in the time unit the model was fitted in, and `discount_rate` is per one such unit (default 0). Or state the rate per year, `annual_discount_rate => 0.10`, where the summary or the model says the unit: it is converted to (1 + R)^(1 / periods a year) − 1, with 365.2425 days, 52.1775 weeks, 12 months, 4 quarters a year; give one of the two rates, not both.

Discounting: with `period` 0 (the default), continuously: CLV = spend × ∫₀^horizon (1 + discount_rate)^−τ dE(τ), E(τ) the purchases expected within τ. With `period` p > 0, as lifetimes does: purchases are grouped into periods of length p (the last one may be shorter) and each period's are discounted at its end. lifetimes' `customer_lifetime_value(bgf, frequency, recency, T, monetary_value, time=12, discount_rate=0.01, freq='D')` (12 "months" of 30 days, 1% a month, summaries in days) is `clv(..., horizon => 360, discount_rate => power(1.01, 1.0 / 30) - 1, period => 30)`.

NULLs give NULL, as does a repeat buyer whose `monetary_value` is 0 or less (see `expected_spend`). Errors: those of `p_alive` and `expected_spend`; `horizon`, `discount_rate` or `period` negative or not finite; more than 100,000 periods (`horizon / period`); under BG/NBD and MBG/NBD a `horizon` beyond 2,000 times the model's `alpha` + `t` (see `expected_purchases`).

**Summary form**: ``clv(s, model, spend_model, horizon [, discount_rate [, period [, annual_discount_rate]]])`` takes the struct of `rfm_summary` (or `rfm_holdout`) in place of `frequency`, `recency`, `t` and `monetary_value`. A model fitted from a summary in another unit is an error naming both units.

`horizon` may be an INTERVAL (`horizon => INTERVAL '1 year'`) where the customers (a summary struct) or the model (fitted from one) say the time unit: it is converted into that unit, a week as 7 days, a month as a calendar month in month, quarter and year units and as 365.2425 / 12 days in day and week units (so a year is 365.2425 days or 52.1775 weeks)."#,
    syntax_example = "clv(frequency, recency, t, monetary_value, model, spend_model, horizon [, discount_rate [, period [, annual_discount_rate]]]), clv(s, model, spend_model, horizon [, discount_rate [, period [, annual_discount_rate]]])",
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
        description = "How far ahead to value purchases, in the model's time unit (>= 0), or an INTERVAL."
    ),
    argument(
        name = "discount_rate",
        description = "Discount rate per time unit of the model (>= 0, default 0)."
    ),
    argument(
        name = "period",
        description = "Length of the periods whose purchases are discounted together, same unit; 0 (default) discounts continuously."
    ),
    argument(
        name = "annual_discount_rate",
        description = "Discount rate per year (>= 0, default 0), in place of `discount_rate`: needs the time unit from a summary struct or a model fitted from one."
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
    summary: SUMMARY,
    kinds: KINDS,
    optional: 3,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let (a, units) = prepare(NAME, &PARAMS, &SUMMARY, &KINDS, &args.args)?;
    let a = &a;
    let models = purchase_models(NAME, "model", &a[4])?;
    let spend_models = spend_models(NAME, "spend_model", &a[5])?;
    let zero = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.0)));
    let discount_rate = a.get(7).unwrap_or(&zero);
    let period = a.get(8).unwrap_or(&zero);
    let annual_discount_rate = a.get(9).unwrap_or(&zero);
    score_rows(
        NAME,
        a,
        [
            (PARAMS[0], &a[0]),
            (PARAMS[1], &a[1]),
            (PARAMS[2], &a[2]),
            (PARAMS[3], &a[3]),
            (PARAMS[6], &a[6]),
            (PARAMS[7], discount_rate),
            (PARAMS[8], period),
            (PARAMS[9], annual_discount_rate),
        ],
        args.number_rows,
        |cache: &mut SeriesCache, row, numbers| {
            let (Some(model), Some(spend_model)) = (models.get(row), spend_models.get(row)) else {
                return Ok(None);
            };
            let Some(valuation) = Valuation::checked(NAME, numbers, units.get(row))? else {
                return Ok(None);
            };
            named(NAME, valuation.value(model, spend_model, cache)).map(Some)
        },
    )
}

/// One customer's valuation: history, spend, horizon and discounting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Valuation {
    x: f64,
    t_x: f64,
    t: f64,
    m: f64,
    horizon: f64,
    /// Per period of the model.
    discount_rate: f64,
    period: f64,
}

impl Valuation {
    /// The valuation of `clv`'s numbers (frequency, recency, t,
    /// monetary_value, horizon, discount_rate, period, annual_discount_rate),
    /// checked; `None` for a customer the spend model cannot take.
    pub(crate) fn checked(
        function: &str,
        [x, t_x, t, m, horizon, discount_rate, period, annual]: [f64; 8],
        unit: Option<PeriodUnit>,
    ) -> Result<Option<Self>> {
        check_history(function, x, t_x, t)?;
        let spend_known = check_spend(function, x, m)?;
        check_time(function, "horizon", horizon)?;
        check_time(function, "discount_rate", discount_rate)?;
        check_time(function, "period", period)?;
        check_time(function, "annual_discount_rate", annual)?;
        let discount_rate = per_period_rate(function, discount_rate, annual, unit)?;
        Ok(spend_known.then_some(Self {
            x,
            t_x,
            t,
            m,
            horizon,
            discount_rate,
            period,
        }))
    }

    /// The customer's lifetime value under `model` and `spend_model`.
    pub(crate) fn value(
        &self,
        model: &PurchaseModel,
        spend_model: &GammaGamma,
        cache: &mut SeriesCache,
    ) -> Result<f64, String> {
        let Self {
            x,
            t_x,
            t,
            m,
            horizon,
            discount_rate,
            period,
        } = *self;
        let spend = spend_model.expected_spend(x, m)?;
        // The present value is linear in the expectation, whose P(alive)
        // factor does not depend on the horizon.
        let alive = model.p_alive(x, t_x, t)?;
        let (curve, time_scale) = model.purchase_curve(x, t, horizon, cache)?;
        let purchases_if_alive = present_value(
            |times, values| curve.at_each(times, values),
            horizon,
            discount_rate,
            (period > 0.0).then_some(period),
            time_scale,
        )?;
        Ok(spend * alive * purchases_if_alive)
    }
}

/// The discount rate per period of the model: `discount_rate`, or the
/// annual rate converted by the unit, (1 + R)^(1 / periods a year) − 1.
fn per_period_rate(
    function: &str,
    discount_rate: f64,
    annual: f64,
    unit: Option<PeriodUnit>,
) -> Result<f64> {
    if annual == 0.0 {
        return Ok(discount_rate);
    }
    if discount_rate != 0.0 {
        return exec_err!(
            "{function}: give discount_rate (per period) or annual_discount_rate, not both; got {} and {}",
            Num(discount_rate),
            Num(annual)
        );
    }
    let Some(unit) = unit else {
        return exec_err!(
            "{function}: argument annual_discount_rate needs the time unit, but neither the customers nor the models say it: pass an rfm_summary struct, models fitted from one, or discount_rate per period"
        );
    };
    Ok((1.0 + annual).powf(1.0 / periods_per_year(unit)) - 1.0)
}
