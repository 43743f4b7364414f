//! `expected_spend`: a customer's expected spend per purchase.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::units::prepare;
use super::{ModelKind, check_spend, score_rows, spend_models};
use crate::common::named;

const NAME: &str = "expected_spend";
const PARAMS: [&str; 3] = ["frequency", "monetary_value", "spend_model"];
pub(crate) const SUMMARY: [&str; 2] = ["summary", "spend_model"];
const KINDS: [Option<ModelKind>; 3] = [None, None, Some(ModelKind::Spend)];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"The expected mean value of a customer's future purchases under a fitted Gamma-Gamma `spend_model` (note 025 eq. 5, lifetimes' `conditional_expected_average_profit`): the customer's mean `monetary_value` over `frequency` repeat purchases, shrunk towards the population mean `p·v/(q − 1)` by the weight `p·frequency / (p·frequency + q − 1)`. A customer without repeat purchases gets the population mean (`monetary_value` is then ignored). NULLs give NULL. A repeat buyer whose `monetary_value` is 0 or less is a customer the model cannot take (`gamma_gamma_fit` skips them): NULL. Errors: `frequency` not a whole number >= 0, `monetary_value` not finite for a repeat buyer, a model with `q <= 1` (its mean spend is infinite), a struct without numeric fields p, q, v (at planning).

**Summary form**: ``expected_spend(s, spend_model)`` takes the struct of `rfm_summary` (or `rfm_holdout`) in place of `frequency` and `monetary_value`. A model fitted from a summary in another unit is an error naming both units."#,
    syntax_example = "expected_spend(frequency, monetary_value, spend_model), expected_spend(s, spend_model)",
    sql_example = r#"```sql
> SELECT round(expected_spend(3, 40.0, named_struct('p', 6.25, 'q', 3.74, 'v', 15.44)), 4) AS spend;
+---------+
| spend   |
+---------+
| 39.3904 |
+---------+
```"#,
    argument(
        name = "frequency",
        description = "Repeat purchases (whole number >= 0)."
    ),
    argument(
        name = "monetary_value",
        description = "Mean value of the repeat purchases, as `rfm_summary` returns."
    ),
    argument(
        name = "spend_model",
        description = "A Gamma-Gamma model struct, as `gamma_gamma_fit` returns."
    ),
    related_udf(name = "gamma_gamma_fit"),
    related_udf(name = "clv")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExpectedSpendFunc {
    signature: Signature,
}

scoring_function!(
    ExpectedSpendFunc,
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
    let models = spend_models(NAME, "spend_model", &a[2])?;
    score_rows(
        NAME,
        a,
        [(PARAMS[0], &a[0]), (PARAMS[1], &a[1])],
        args.number_rows,
        |_: &mut (), row, [x, m]| {
            let Some(model) = models.get(row) else {
                return Ok(None);
            };
            if !check_spend(NAME, x, m)? {
                return Ok(None);
            }
            named(NAME, model.expected_spend(x, m)).map(Some)
        },
    )
}
