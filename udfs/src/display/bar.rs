//! `bar`: a value drawn as a horizontal bar of Unicode blocks, as DuckDB's.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion_common::{Result, exec_err};
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use crate::common::{
    Listed, check_arity, coerce_float, coerce_integer, evaluate, lenient, signature,
};
use crate::math::Num;

const NAME: &str = "bar";
const PARAMS: [&str; 4] = ["value", "min", "max", "width"];

/// The width of a bar when none is given, as DuckDB's.
const DEFAULT_WIDTH: i64 = 80;
/// The widest bar drawn.
const MAX_WIDTH: i64 = 1000;

#[user_doc(
    doc_section(label = "Display"),
    description = r#"Draws `value` as a horizontal bar of Unicode block characters, to see a distribution or segment sizes at a glance in any query (as DuckDB's `bar`).

The bar is `width` characters long when `value` is `max` and empty when it is `min`, in steps of an eighth of a character; values outside `min`..`max` are drawn at the nearer end, NaN as an empty bar. The text is padded with spaces to `width` characters, so bars line up in a table. Errors: `min` or `max` not finite, `max` not greater than `min`, or a `width` outside 1..1000. NULL in any argument gives NULL."#,
    syntax_example = "bar(value, min, max [, width])",
    sql_example = r#"```sql
> SELECT n, bar(n, 0, 8, 8) AS drawn FROM (VALUES (2), (5), (8)) AS t(n);
+---+----------+
| n | drawn    |
+---+----------+
| 2 | ██       |
| 5 | █████    |
| 8 | ████████ |
+---+----------+
```"#,
    argument(name = "value", description = "The number to draw."),
    argument(name = "min", description = "The value drawn as an empty bar."),
    argument(name = "max", description = "The value drawn as a full bar."),
    argument(
        name = "width",
        description = "Characters of a full bar, 1 to 1000 (default 80)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BarFunc {
    signature: Signature,
}

impl Default for BarFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BarFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(&PARAMS, &[&[Listed::Float; 3]]),
        }
    }
}

fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(NAME, &PARAMS, 1, arg_types)?;
    PARAMS
        .iter()
        .zip(arg_types)
        .map(|(param, data_type)| match *param {
            "width" => coerce_integer(NAME, param, data_type),
            _ => coerce_float(NAME, param, data_type),
        })
        .collect()
}

impl ScalarUDFImpl for BarFunc {
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
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        evaluate(&args.args, |arrays| Ok(Arc::new(bars(arrays)?) as ArrayRef))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn bars(arrays: &[ArrayRef]) -> Result<StringArray> {
    let value = arrays[0].as_primitive::<Float64Type>();
    let min = arrays[1].as_primitive::<Float64Type>();
    let max = arrays[2].as_primitive::<Float64Type>();
    let width = arrays.get(3).map(|w| w.as_primitive::<Int64Type>());
    (0..value.len())
        .map(|row| {
            let width = match width {
                Some(w) if w.is_null(row) => return Ok(None),
                Some(w) => w.value(row),
                None => DEFAULT_WIDTH,
            };
            if value.is_null(row) || min.is_null(row) || max.is_null(row) {
                return Ok(None);
            }
            draw(value.value(row), min.value(row), max.value(row), width).map(Some)
        })
        .collect()
}

/// Eighths of a block, from one eighth to seven.
const PARTIAL: [char; 7] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉'];

/// `value` as a bar `width` characters long from `min` to `max`, padded
/// with spaces to `width`; errors name the bad argument.
pub fn draw(value: f64, min: f64, max: f64, width: i64) -> Result<String> {
    for (arg, v) in [("min", min), ("max", max)] {
        if !v.is_finite() {
            return exec_err!("{NAME}: argument {arg} must be finite, got {}", Num(v));
        }
    }
    if max <= min {
        return exec_err!(
            "{NAME}: argument max must be greater than min, got max = {} with min = {}",
            Num(max),
            Num(min)
        );
    }
    if !(1..=MAX_WIDTH).contains(&width) {
        return exec_err!("{NAME}: argument width must be 1 to {MAX_WIDTH}, got {width}");
    }
    let width = width as usize;
    let share = if value.is_nan() {
        0.0
    } else if (max - min).is_finite() {
        (value - min) / (max - min)
    } else {
        // max - min overflows for ends near f64's limits: halve each side.
        (value / 2.0 - min / 2.0) / (max / 2.0 - min / 2.0)
    };
    let eighths = (share.clamp(0.0, 1.0) * (width * 8) as f64).round() as usize;
    let mut text: String = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        text.push(PARTIAL[eighths % 8 - 1]);
    }
    let drawn = eighths.div_ceil(8);
    text.extend(std::iter::repeat_n(' ', width - drawn));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_like_duckdb() {
        // DuckDB 1.x: bar(5,0,10,10), bar(3.3,0,10,10), bar(15,0,10,10), bar(-1,0,10,10).
        assert_eq!(draw(5.0, 0.0, 10.0, 10).unwrap(), "█████     ");
        assert_eq!(draw(3.3, 0.0, 10.0, 10).unwrap(), "███▎      ");
        assert_eq!(draw(15.0, 0.0, 10.0, 10).unwrap(), "██████████");
        assert_eq!(draw(-1.0, 0.0, 10.0, 10).unwrap(), "          ");
        assert_eq!(draw(f64::NAN, 0.0, 10.0, 3).unwrap(), "   ");
        assert_eq!(draw(f64::INFINITY, 0.0, 1.0, 2).unwrap(), "██");
        assert_eq!(draw(5.0, 0.0, 10.0, 80).unwrap().chars().count(), 80);
    }

    #[test]
    fn extreme_ends_stay_finite() {
        assert_eq!(draw(0.0, -f64::MAX, f64::MAX, 2).unwrap(), "█ ");
        assert_eq!(draw(5e-324, 0.0, 5e-324, 2).unwrap(), "██");
    }

    #[test]
    fn bad_arguments_are_named() {
        let message = |r: Result<String>| r.unwrap_err().strip_backtrace();
        assert_eq!(
            message(draw(1.0, 2.0, 2.0, 10)),
            "Execution error: bar: argument max must be greater than min, got max = 2 with min = 2"
        );
        assert!(message(draw(1.0, f64::NAN, 2.0, 10)).contains("argument min must be finite"));
        assert!(
            message(draw(1.0, 0.0, 2.0, 0)).contains("argument width must be 1 to 1000, got 0")
        );
    }
}
