//! Data preparation: per-customer summaries from raw transactions.

pub mod rfm_holdout;
pub mod rfm_summary;

use arrow::array::{ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion_common::{Result, exec_err};

use crate::math::Num;
use crate::math::calendar::{PeriodUnit, civil_from_days};
use crate::math::exact_sum::{ExactSum, MAX_AMOUNT};

/// An `amount` argument in fixed point, or an error naming `function`.
fn exact_amount(function: &str, amount: f64) -> Result<ExactSum> {
    match ExactSum::of(amount) {
        Some(sum) => Ok(sum),
        None => exec_err!(
            "{function}: argument amount must be a finite number between -{MAX_AMOUNT:e} and {MAX_AMOUNT:e}, got {}",
            Num(amount)
        ),
    }
}

/// The single value of the `unit` column (a literal in practice).
fn constant_unit(function: &str, unit: &ArrayRef) -> Result<PeriodUnit> {
    let unit = cast(unit, &DataType::Utf8)?;
    let unit = unit.as_string::<i32>();
    let mut seen: Option<&str> = None;
    for value in unit.iter() {
        match (value, seen) {
            (None, _) => return exec_err!("{function}: argument unit must not be NULL"),
            (Some(v), Some(s)) if v != s => {
                return exec_err!(
                    "{function}: argument unit must be the same for all rows, got '{s}' and '{v}'"
                );
            }
            (Some(v), _) => seen = Some(v),
        }
    }
    let name = seen.unwrap_or("day");
    name.parse().or_else(|_| {
        exec_err!(
            "{function}: argument unit must be one of {}, got '{name}'",
            PeriodUnit::NAMES
        )
    })
}

/// A day number as YYYY-MM-DD.
fn format_day(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}
