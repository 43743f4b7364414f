//! `churn_prob`: the probability that a customer has already left.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::{HISTORY_KINDS, HISTORY_PARAMS, HISTORY_SUMMARY, ModelKind, score_histories};

const NAME: &str = "churn_prob";
const PARAMS: [&str; 4] = HISTORY_PARAMS;
const SUMMARY: [&str; 2] = HISTORY_SUMMARY;
const KINDS: [Option<ModelKind>; 4] = HISTORY_KINDS;

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"The probability that a customer with history (`frequency`, `recency`, `t`) has already left ("churned") under a fitted BG/NBD, MBG/NBD or Pareto/NBD `model`: 1 − `p_alive`, computed directly so small probabilities keep their digits. **Under BG/NBD it is 0 for every customer without repeat purchases**, half of a typical customer base; use MBG/NBD or Pareto/NBD to rank who is churning. Arguments, NULLs and errors as for `p_alive`.

**Summary form**: ``churn_prob(s, model)`` takes the struct of `rfm_summary` (or `rfm_holdout`) in place of `frequency`, `recency` and `t`. A model fitted from a summary in another unit is an error naming both units."#,
    syntax_example = "churn_prob(frequency, recency, t, model), churn_prob(s, model)",
    sql_example = r#"```sql
> SELECT round(churn_prob(2, 30.43, 38.86,
           named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426)), 5) AS churn_prob;
+------------+
| churn_prob |
+------------+
| 0.27342    |
+------------+
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
        name = "model",
        description = "A BG/NBD, MBG/NBD, Pareto/NBD or BG/BB model struct."
    ),
    related_udf(name = "p_alive"),
    related_udf(name = "bgnbd_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnProbFunc {
    signature: Signature,
}

scoring_function!(
    ChurnProbFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 0,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    score_histories(NAME, &args, |model, x, t_x, t| model.churn_prob(x, t_x, t))
}
