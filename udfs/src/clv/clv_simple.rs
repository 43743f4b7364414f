//! `clv_simple`: the textbook CLV formula for customers without a history.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::datatypes::{DataType, Float64Type};
use datafusion_common::{Result, exec_err};
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use crate::common::{Listed, check_arity, coerce_float, evaluate, lenient, signature};
use crate::math::Num;
use crate::math::textbook_clv;

const NAME: &str = "clv_simple";
const PARAMS: [&str; 5] = [
    "avg_order_value",
    "purchase_frequency",
    "lifespan",
    "margin",
    "discount_rate",
];

#[user_doc(
    doc_section(label = "Customer lifetime value"),
    description = r#"The textbook customer lifetime value:

`CLV = margin × avg_order_value × purchase_frequency × A(lifespan, discount_rate)`, with `A(L, d) = (1 − (1 + d)^−L) / d` and `A(L, 0) = L`.

That is the value of a period (`avg_order_value × purchase_frequency`, times `margin`) received at the end of each of `lifespan` periods and discounted at `discount_rate` per period: `Σ_{k=1..L} value / (1 + d)^k`, which the closed form extends to fractional lifespans. All rates share one period: with `purchase_frequency` in orders per year, `lifespan` is in years and `discount_rate` is annual (a monthly rate from an annual one is `(1 + annual)^(1/12) − 1`). `margin` defaults to 1 (revenue CLV) and `discount_rate` to 0 (no discounting). Errors: any argument NaN or infinite, a negative `avg_order_value`, `purchase_frequency`, `lifespan` or `discount_rate`, or a `margin` outside 0..1 (write 30% as 0.3). NULL in any argument gives NULL."#,
    syntax_example = "clv_simple(avg_order_value, purchase_frequency, lifespan [, margin [, discount_rate]])",
    sql_example = r#"```sql
> SELECT clv_simple(50, 4, 3) AS revenue, clv_simple(50, 4, 3, 0.3) AS profit,
         round(clv_simple(50, 4, 3, 1, 0.1), 4) AS discounted;
+---------+--------+------------+
| revenue | profit | discounted |
+---------+--------+------------+
| 600.0   | 180.0  | 497.3704   |
+---------+--------+------------+
```"#,
    argument(
        name = "avg_order_value",
        description = "Average value of one order (>= 0)."
    ),
    argument(name = "purchase_frequency", description = "Orders per period (>= 0)."),
    argument(
        name = "lifespan",
        description = "Expected customer lifespan in periods (>= 0)."
    ),
    argument(
        name = "margin",
        description = "Profit margin as a fraction from 0 to 1 (default 1)."
    ),
    argument(
        name = "discount_rate",
        description = "Discount rate per period (>= 0, default 0)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvSimpleFunc {
    signature: Signature,
}

impl Default for ClvSimpleFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ClvSimpleFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(&PARAMS, &[&[Listed::Float; 5]]),
        }
    }
}

/// The argument types after coercion, or an error naming the argument.
fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(NAME, &PARAMS, 2, arg_types)?;
    PARAMS
        .iter()
        .zip(arg_types)
        .map(|(param, data_type)| coerce_float(NAME, param, data_type))
        .collect()
}

impl ScalarUDFImpl for ClvSimpleFunc {
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
        evaluate(&args.args, |arrays| {
            Ok(Arc::new(clv_simple(arrays)?) as ArrayRef)
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Valid range of each argument: (lowest, highest).
const BOUNDS: [(f64, f64); 5] = [
    (0.0, f64::INFINITY),
    (0.0, f64::INFINITY),
    (0.0, f64::INFINITY),
    (0.0, 1.0),
    (0.0, f64::INFINITY),
];

fn clv_simple(arrays: &[ArrayRef]) -> Result<Float64Array> {
    let columns: Vec<&Float64Array> = arrays
        .iter()
        .map(|a| a.as_primitive::<Float64Type>())
        .collect();
    for ((param, column), (lo, hi)) in PARAMS.iter().zip(&columns).zip(BOUNDS) {
        if let Some(bad) = column
            .iter()
            .flatten()
            .find(|v| !v.is_finite() || *v < lo || *v > hi)
        {
            let range = if hi.is_finite() {
                format!("between {} and {}", Num(lo), Num(hi))
            } else {
                format!(">= {}", Num(lo))
            };
            return exec_err!(
                "{NAME}: argument {param} must be a finite number {range}, got {}",
                Num(bad)
            );
        }
    }
    let rows = columns[0].len();
    let value = |column: Option<&&Float64Array>, row: usize, default: f64| match column {
        None => Some(default),
        Some(c) if c.is_null(row) => None,
        Some(c) => Some(c.value(row)),
    };
    let result: Float64Array = (0..rows)
        .map(|row| {
            Some(textbook_clv::clv_simple(
                value(columns.first(), row, 0.0)?,
                value(columns.get(1), row, 0.0)?,
                value(columns.get(2), row, 0.0)?,
                value(columns.get(3), row, 1.0)?,
                value(columns.get(4), row, 0.0)?,
            ))
        })
        .collect();
    // Finite arguments can still multiply beyond f64's range.
    if let Some(row) = (0..rows).find(|&row| result.is_valid(row) && !result.value(row).is_finite())
    {
        let shown: Vec<String> = PARAMS
            .iter()
            .zip(&columns)
            .map(|(param, column)| format!("{param} = {}", Num(column.value(row))))
            .collect();
        return exec_err!(
            "{NAME}: the value overflows f64 ({}); state amounts in larger units",
            shown.join(", ")
        );
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: Vec<Option<f64>>) -> ArrayRef {
        Arc::new(Float64Array::from(values))
    }

    #[test]
    fn defaults_and_nulls() {
        let out = clv_simple(&[
            column(vec![Some(50.0), None]),
            column(vec![Some(4.0), Some(4.0)]),
            column(vec![Some(3.0), Some(3.0)]),
        ])
        .unwrap();
        assert_eq!(out.value(0), 600.0);
        assert!(out.is_null(1));
    }

    #[test]
    fn margin_is_a_fraction() {
        let err = clv_simple(&[
            column(vec![Some(50.0)]),
            column(vec![Some(4.0)]),
            column(vec![Some(3.0)]),
            column(vec![Some(30.0)]),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "clv_simple: argument margin must be a finite number between 0 and 1, got 30"
            ),
            "{err}"
        );
    }
}
