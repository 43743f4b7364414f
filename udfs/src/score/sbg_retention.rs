//! `sbg_retention`: the retention rate at the t-th renewal under the sBG
//! model.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::{ModelKind, score_periods};

const NAME: &str = "sbg_retention";
const PARAMS: [&str; 2] = ["t", "model"];
const SUMMARY: [&str; 0] = [];
const KINDS: [Option<ModelKind>; 2] = [None, Some(ModelKind::Retention)];

#[user_doc(
    doc_section(label = "Subscriptions"),
    description = r#"The retention rate at the `t`-th renewal under a fitted sBG `model` (Fader & Hardie 2007, eq. 4): of the subscribers active after `t` − 1 periods, the share who renew, r(t) = (beta + t − 1) / (alpha + beta + t − 1). It rises with `t` as the subscribers likeliest to cancel leave first; 1 − r(t) is the churn rate at `t`. NULLs give NULL. Errors: `t` not a whole number from 1 to 100,000, model parameters not finite and above 0."#,
    syntax_example = "sbg_retention(t, model)",
    sql_example = r#"```sql
> SELECT t, round(sbg_retention(t, named_struct('alpha', 0.704, 'beta', 1.182)), 3) AS retention
  FROM generate_series(1, 3) AS g(t);
+---+-----------+
| t | retention |
+---+-----------+
| 1 | 0.627     |
| 2 | 0.756     |
| 3 | 0.819     |
+---+-----------+
```"#,
    argument(name = "t", description = "The renewal (whole number >= 1)."),
    argument(name = "model", description = "An sBG model struct.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SbgRetentionFunc {
    signature: Signature,
}

scoring_function!(
    SbgRetentionFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 0,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    score_periods(NAME, &args, |model, t| model.retention(t))
}
