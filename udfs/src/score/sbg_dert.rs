//! `sbg_dert`: a subscriber's discounted expected residual transactions
//! (payments) under the sBG model.

use datafusion_common::{Result, ScalarValue};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::{ModelKind, retention_models, score_rows};
use crate::common::named;

const NAME: &str = "sbg_dert";
const PARAMS: [&str; 3] = ["tenure", "model", "discount_rate"];
const SUMMARY: [&str; 0] = [];
const KINDS: [Option<ModelKind>; 3] = [None, Some(ModelKind::Retention), None];

#[user_doc(
    doc_section(label = "Subscriptions"),
    description = r#"The discounted expected residual transactions of a subscriber still active after `tenure` periods under a fitted sBG `model`: the payments they are still expected to make, each discounted by (1 + `discount_rate`) per period, the next renewal's undiscounted (Fader & Hardie 2010, "Customer-Base Valuation in a Contractual Setting", eq. 6, their DERL with n − 1 = `tenure`): (beta + n) / (alpha + beta + n) · 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d)). Times the margin per payment it is the subscriber's residual CLV; it grows with `tenure`, since those who stayed long are the least likely to cancel.

With `discount_rate` 0 (the default) it is the expected number of future renewals, the expected remaining lifetime in periods, (beta + n) / (alpha − 1): infinite, and an error, when `alpha` <= 1 (then state a discount rate). `discount_rate` is per period of the model. NULLs give NULL. Errors: `tenure` not a whole number from 0 to 100,000, `discount_rate` negative or not finite or too small for the series to converge in bounded time (below about 1e-4, sooner for large `beta`), model parameters not finite and above 0."#,
    syntax_example = "sbg_dert(tenure, model [, discount_rate])",
    sql_example = r#"```sql
> SELECT tenure, round(sbg_dert(tenure, named_struct('alpha', 0.704, 'beta', 1.182), 0.1), 3) AS dert
  FROM generate_series(0, 2) AS g(tenure);
+--------+-------+
| tenure | dert  |
+--------+-------+
| 0      | 2.965 |
| 1      | 4.103 |
| 2      | 4.87  |
+--------+-------+
```"#,
    argument(
        name = "tenure",
        description = "Whole periods the subscriber has stayed so far (>= 0)."
    ),
    argument(name = "model", description = "An sBG model struct."),
    argument(
        name = "discount_rate",
        description = "Discount rate per period (>= 0, default 0: the expected remaining lifetime)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SbgDertFunc {
    signature: Signature,
}

scoring_function!(
    SbgDertFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 1,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let a = &args.args;
    let models = retention_models(NAME, "model", &a[1])?;
    let undiscounted = ColumnarValue::Scalar(ScalarValue::Float64(Some(0.0)));
    let discount_rate = a.get(2).unwrap_or(&undiscounted);
    score_rows(
        NAME,
        a,
        [(PARAMS[0], &a[0]), (PARAMS[2], discount_rate)],
        args.number_rows,
        |_: &mut (), row, [tenure, d]| match models.get(row) {
            Some(model) => named(NAME, model.dert(tenure, d)).map(Some),
            None => Ok(None),
        },
    )
}
