//! `churn_prob`: the probability that a customer has already left.

use arrow::datatypes::DataType;
use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use super::{ModelKind, coerce_args, purchase_models, score_rows};
use crate::common::{check_arity, check_history, lenient, named, signature};

const NAME: &str = "churn_prob";
const PARAMS: [&str; 4] = ["frequency", "recency", "t", "model"];
const KINDS: [Option<ModelKind>; 4] = [None, None, None, Some(ModelKind::Purchases)];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"The probability that a customer with history (`frequency`, `recency`, `t`) has already left ("churned") under a fitted BG/NBD or Pareto/NBD `model`: 1 − `p_alive`, computed directly so small probabilities keep their digits. Arguments, NULLs and errors as for `p_alive`."#,
    syntax_example = "churn_prob(frequency, recency, t, model)",
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
    argument(name = "model", description = "A BG/NBD or Pareto/NBD model struct."),
    related_udf(name = "p_alive"),
    related_udf(name = "bgnbd_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnProbFunc {
    signature: Signature,
}

impl Default for ChurnProbFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ChurnProbFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(&PARAMS, &[]),
        }
    }
}

fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(NAME, &PARAMS, 0, arg_types)?;
    coerce_args(NAME, &PARAMS, &KINDS, arg_types)
}

impl ScalarUDFImpl for ChurnProbFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        lenient(arg_types, coerce)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        coerce(arg_types)?;
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = &args.args;
        let models = purchase_models(NAME, "model", &a[3])?;
        score_rows(
            a,
            [&a[0], &a[1], &a[2]],
            args.number_rows,
            |_: &mut (), row, [x, t_x, t]| {
                let Some(model) = models.get(row) else {
                    return Ok(None);
                };
                check_history(NAME, x, t_x, t)?;
                named(NAME, model.churn_prob(x, t_x, t)).map(Some)
            },
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
