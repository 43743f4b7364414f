//! `sbg_survival`: the share of a subscriber cohort still active after t
//! periods under the sBG model.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::{ModelKind, score_periods};

const NAME: &str = "sbg_survival";
const PARAMS: [&str; 2] = ["t", "model"];
const SUMMARY: [&str; 0] = [];
const KINDS: [Option<ModelKind>; 2] = [None, Some(ModelKind::Retention)];

#[user_doc(
    doc_section(label = "Subscriptions"),
    description = r#"The share of a cohort of subscribers still active after `t` periods under a fitted sBG `model` (Fader & Hardie 2007, eq. 3): S(t) = B(alpha, beta + t) / B(alpha, beta), 1 at t = 0. Past the periods the model was fitted on it projects the cohort's survival: the example projects years 8 to 12 of the paper's regular cohort from the fit on years 1 to 7 (actual: 0.223, 0.207, 0.194, 0.183, 0.173). `model` is the struct `sbg_fit` returns or a literal `named_struct('alpha', ..., 'beta', ...)`. NULLs give NULL. Errors: `t` not a whole number from 0 to 100,000, model parameters not finite and above 0."#,
    syntax_example = "sbg_survival(t, model)",
    sql_example = r#"```sql
> SELECT t, round(sbg_survival(t, named_struct('alpha', 0.704, 'beta', 1.182)), 3) AS survival
  FROM generate_series(8, 12) AS g(t);
+----+----------+
| t  | survival |
+----+----------+
| 8  | 0.22     |
| 9  | 0.204    |
| 10 | 0.191    |
| 11 | 0.18     |
| 12 | 0.17     |
+----+----------+
```"#,
    argument(
        name = "t",
        description = "Periods since the cohort started (whole number >= 0)."
    ),
    argument(name = "model", description = "An sBG model struct.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SbgSurvivalFunc {
    signature: Signature,
}

scoring_function!(
    SbgSurvivalFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 0,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    score_periods(NAME, &args, |model, t| model.survival(t))
}
