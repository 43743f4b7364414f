//! `p_alive`: the probability that a customer is still active.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::{HISTORY_KINDS, HISTORY_PARAMS, HISTORY_SUMMARY, ModelKind, score_histories};

const NAME: &str = "p_alive";
const PARAMS: [&str; 4] = HISTORY_PARAMS;
const SUMMARY: [&str; 2] = HISTORY_SUMMARY;
const KINDS: [Option<ModelKind>; 4] = HISTORY_KINDS;

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"The probability that a customer with history (`frequency`, `recency`, `t`) is still active ("alive") under a fitted BG/NBD, MBG/NBD or Pareto/NBD `model`: Fader, Hardie & Lee's note 021 for BG/NBD, Batislam et al. (2007) for MBG/NBD, note 009 eq. 15 for Pareto/NBD. **Under BG/NBD a customer without repeat purchases is always alive (1)**, however long ago their only purchase: the model cannot lose a customer before their second purchase. Under MBG/NBD and Pareto/NBD such a customer's P(alive) falls with the time since that purchase; use one of them to ask who is churning. `recency` and `t` must be in the model's time unit. Under a BG/BB model (`bgbb_fit`, discrete opportunities) they are whole numbers of opportunities (`t` is `n_periods`), and the result is P(alive at opportunity `t`).

`model` is the struct `bgnbd_fit`, `mbgnbd_fit`, `pareto_nbd_fit` or `bgbb_fit` returns, or a literal with the same fields (`named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426)`): its `model` field (`'bgnbd'`, `'mbgnbd'`, `'pareto_nbd'`, `'bgbb'`) names the model; without one (or where it is NULL) the fields decide, and r, alpha, a, b is BG/NBD. NULL in any argument (or a NULL model field) gives NULL. Errors: the history checks of the fits, a model parameter that is not finite and above 0, a struct that is neither model (at planning).

**Summary form**: ``p_alive(s, model)`` takes the struct of `rfm_summary` (or `rfm_holdout`) in place of `frequency`, `recency` and `t`. A model fitted from a summary in another unit is an error naming both units."#,
    syntax_example = "p_alive(frequency, recency, t, model), p_alive(s, model)",
    sql_example = r#"```sql
> SELECT round(p_alive(2, 30.43, 38.86,
           named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426)), 5) AS p_alive;
+---------+
| p_alive |
+---------+
| 0.72658 |
+---------+
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
    related_udf(name = "churn_prob"),
    related_udf(name = "bgnbd_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PAliveFunc {
    signature: Signature,
}

scoring_function!(
    PAliveFunc,
    name: NAME,
    params: PARAMS,
    summary: SUMMARY,
    kinds: KINDS,
    optional: 0,
    invoke: invoke
);

fn invoke(args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    score_histories(NAME, &args, |model, x, t_x, t| model.p_alive(x, t_x, t))
}
