//! `prob_purchases`: the distribution of a new customer's purchase count.

use datafusion_common::Result;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature};
use datafusion_macros::user_doc;

use super::units::prepare;
use super::{ModelKind, check_time, purchase_models, score_rows};
use crate::common::{check_whole, named};

const NAME: &str = "prob_purchases";
const PARAMS: [&str; 3] = ["n", "horizon", "model"];
const SUMMARY: [&str; 0] = [];
const KINDS: [Option<ModelKind>; 3] = [None, None, Some(ModelKind::Purchases)];

#[user_doc(
    doc_section(label = "Probabilistic models"),
    description = r#"The probability that a new customer makes exactly `n` purchases within `horizon` time units of their first (P(X(t) = n)) under a fitted BG/NBD model (Fader, Hardie & Lee 2005 eq. 8), MBG/NBD model (lifetimes' `ModifiedBetaGeoFitter`), BG/BB model (`horizon` whole opportunities, Fader, Hardie & Shang 2010 eq. 7) or Pareto/NBD model (Fader & Hardie's note 028 at a zero history). Over n = 0, 1, 2, ... the probabilities sum to 1 and their mean is `expected_purchases(0, 0, 0, horizon, model)`. `horizon` is in the model's time unit; NULLs give NULL. Errors: `n` not a whole number >= 0 (and, for Pareto/NBD, above 10,000: its probability is a sum of n + 1 terms), `horizon` negative or not finite, the model errors of `p_alive`.

`horizon` may be an INTERVAL (`horizon => INTERVAL '1 year'`) where the customers (a summary struct) or the model (fitted from one) say the time unit: it is converted into that unit, a week as 7 days, a month as a calendar month in month, quarter and year units and as 365.2425 / 12 days in day and week units (so a year is 365.2425 days or 52.1775 weeks)."#,
    syntax_example = "prob_purchases(n, horizon, model)",
    sql_example = r#"```sql
> SELECT n, round(prob_purchases(n, 52,
           named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426)), 4) AS p
  FROM (VALUES (0), (1), (2), (5)) AS t(n);
+---+--------+
| n | p      |
+---+--------+
| 0 | 0.5384 |
| 1 | 0.2046 |
| 2 | 0.0906 |
| 5 | 0.0206 |
+---+--------+
```"#,
    argument(name = "n", description = "Number of purchases (whole number >= 0)."),
    argument(
        name = "horizon",
        description = "Time since the first purchase, in the model's time unit (>= 0)."
    ),
    argument(
        name = "model",
        description = "A BG/NBD, MBG/NBD, Pareto/NBD or BG/BB model struct."
    ),
    related_udf(name = "expected_purchases"),
    related_udf(name = "bgnbd_fit")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ProbPurchasesFunc {
    signature: Signature,
}

scoring_function!(
    ProbPurchasesFunc,
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
    let models = purchase_models(NAME, "model", &a[2])?;
    score_rows(
        NAME,
        a,
        [(PARAMS[0], &a[0]), (PARAMS[1], &a[1])],
        args.number_rows,
        |_: &mut (), row, [n, horizon]| {
            let Some(model) = models.get(row) else {
                return Ok(None);
            };
            check_whole(NAME, "n", n)?;
            check_time(NAME, "horizon", horizon)?;
            named(NAME, model.prob_purchases(n, horizon)).map(Some)
        },
    )
}
