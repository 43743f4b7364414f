//! `clv_interval`: `clv` with a confidence interval for the parameters'
//! uncertainty.

use datafusion_common::{Result, ScalarValue};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::clv::Valuation;
use super::units::prepare;
use super::{ModelKind, interval_fields, interval_result, score_rows_of};
use crate::common::named;
use crate::math::bgnbd::SeriesCache;
use crate::math::delta::{interval, log_variance, normal_quantile};
use crate::models::{gamma_gamma, purchase, read_estimates};

const NAME: &str = "clv_interval";
const PARAMS: [&str; 11] = [
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
    "level",
];
pub(crate) const SUMMARY: [&str; 8] = [
    "summary",
    "model",
    "spend_model",
    "horizon",
    "discount_rate",
    "period",
    "annual_discount_rate",
    "level",
];
const KINDS: [Option<ModelKind>; 11] = [
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
    None,
];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"`clv` with a confidence interval for the uncertainty of both models' fitted parameters: returns `{estimate, lower, upper, level}`, `estimate` equal to `clv`. The method is `expected_purchases_interval`'s (the delta method on the log scale from the fits' `cov`), with the two fits independent: Var ln CLV is the sum of the purchase model's and the spend model's parts. `level` defaults to 0.95; give it by name (`level => 0.9`) to leave the optional discounting arguments out (in clvsql's CLI and server; DataFusion itself wants every parameter before the last one named). It covers the model's expected value of the customer, not what they will actually spend, and assumes the models are right. Both models must carry `cov` (converged fits). Arguments, NULLs, summary form and errors as for `clv`; `level` strictly between 0 and 1. Costs about fifteen evaluations of `clv` a row."#,
    syntax_example = "clv_interval(frequency, recency, t, monetary_value, model, spend_model, horizon [, discount_rate [, period [, annual_discount_rate [, level]]]]), clv_interval(summary, model, spend_model, horizon [, ...])",
    sql_example = r#"```sql
> WITH s AS (SELECT rfm_summary(order_date, amount, DATE '1997-09-30', 'week') AS s
             FROM 'data/cdnow_sample.parquet' GROUP BY customer_id),
       m AS (SELECT bgnbd_fit(s) AS m, gamma_gamma_fit(s) AS g FROM s)
  SELECT round(i['estimate'], 2) AS estimate, round(i['lower'], 2) AS lower, round(i['upper'], 2) AS upper
  FROM (SELECT clv_interval(2, 30.43, 38.86, 35.0, m, g, horizon => INTERVAL '1 year', discount_rate => 0.0018) AS i FROM m);
+----------+-------+-------+
| estimate | lower | upper |
+----------+-------+-------+
| 53.08    | 48.4  | 58.21 |
+----------+-------+-------+
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
        description = "A fitted BG/NBD, MBG/NBD or Pareto/NBD model struct, with its cov."
    ),
    argument(
        name = "spend_model",
        description = "A fitted Gamma-Gamma model struct, with its cov."
    ),
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
        description = "As for `clv` (default 0, continuous discounting)."
    ),
    argument(
        name = "annual_discount_rate",
        description = "Discount rate per year, as for `clv` (default 0)."
    ),
    argument(
        name = "level",
        description = "Confidence level, between 0 and 1 (default 0.95)."
    ),
    related_udf(name = "clv"),
    related_udf(name = "expected_purchases_interval")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvIntervalFunc {
    signature: Signature,
}

scoring_function!(
    ClvIntervalFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 4,
    invoke: invoke,
    returns: arrow::datatypes::DataType::Struct(interval_fields())
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let (a, units) = prepare(NAME, &PARAMS, &SUMMARY, &KINDS, &args.args)?;
    let models = read_estimates(NAME, "model", &a[4], &purchase::MODELS)?;
    let spend_models = read_estimates(NAME, "spend_model", &a[5], &gamma_gamma::MODELS)?;
    let zero = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.0)));
    let default_level = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.95)));
    let (rows, all_scalar) = score_rows_of(
        NAME,
        &a,
        [
            (PARAMS[0], &a[0]),
            (PARAMS[1], &a[1]),
            (PARAMS[2], &a[2]),
            (PARAMS[3], &a[3]),
            (PARAMS[6], &a[6]),
            (PARAMS[7], a.get(7).unwrap_or(&zero)),
            (PARAMS[8], a.get(8).unwrap_or(&zero)),
            (PARAMS[9], a.get(9).unwrap_or(&zero)),
            (PARAMS[10], a.get(10).unwrap_or(&default_level)),
        ],
        args.number_rows,
        |_: &mut (), row, numbers| {
            let (Some(purchases), Some(spend)) = (models.get(row), spend_models.get(row)) else {
                return Ok(None);
            };
            let level = numbers[8];
            let valuation_numbers = std::array::from_fn(|i| numbers[i]);
            let Some(valuation) = Valuation::checked(NAME, valuation_numbers, units.get(row))?
            else {
                return Ok(None);
            };
            let z = named(NAME, normal_quantile(level))?;
            let spend_model = (spend.model.build)(&spend.params);
            let purchase_model = (purchases.model.build)(&purchases.params);
            let by_purchases = |params: &[f64]| {
                valuation.value(
                    &(purchases.model.build)(params),
                    &spend_model,
                    &mut SeriesCache::default(),
                )
            };
            let by_spend = |params: &[f64]| {
                valuation.value(
                    &purchase_model,
                    &(spend.model.build)(params),
                    &mut SeriesCache::default(),
                )
            };
            let estimate = named(NAME, by_purchases(&purchases.params))?;
            let variance = if estimate > 0.0 {
                named(
                    NAME,
                    log_variance(&purchases.params, &purchases.covariance, by_purchases),
                )? + named(
                    NAME,
                    log_variance(&spend.params, &spend.covariance, by_spend),
                )?
            } else {
                0.0
            };
            let [estimate, lower, upper] = interval(estimate, variance, z);
            Ok(Some([estimate, lower, upper, level]))
        },
    )?;
    interval_result(rows, all_scalar)
}
