//! Data preparation: per-customer summaries from raw transactions.

pub mod rfm_holdout;
pub mod rfm_summary;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, FieldRef, Fields};
use datafusion_common::{Result, exec_err};

use crate::common::{check_arity, coerce_float, coerce_string, coerce_time};
use crate::math::Num;
use crate::math::calendar::{PeriodUnit, civil_from_days};
use crate::math::exact_sum::{ExactSum, MAX_AMOUNT};

/// The state type of fixed-point sums: exact sums travel between
/// partitions as 128-bit integers.
const DECIMAL_STATE: DataType = DataType::Decimal128(38, 0);

/// Fixed-point sums as a state array.
fn decimal_array(values: impl Iterator<Item = i128>) -> Result<ArrayRef> {
    let array =
        arrow::array::Decimal128Array::from_iter_values(values).with_precision_and_scale(38, 0)?;
    Ok(Arc::new(array))
}

/// The argument types of an aggregate over a transaction log, after
/// coercion: `params` are `order_ts`, `amount`, dates, then an optional
/// `unit`; or an error naming the argument.
fn coerce_log(function: &str, params: &[&str], arg_types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(function, params, 1, arg_types)?;
    let unit = params.len() - 1;
    params
        .iter()
        .zip(arg_types)
        .enumerate()
        .map(|(i, (param, data_type))| match i {
            1 => coerce_float(function, param, data_type),
            i if i == unit => coerce_string(function, param, data_type),
            _ => coerce_time(function, param, data_type),
        })
        .collect()
}

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

/// The summary-struct fields an argument stands for: `rfm_summary`'s, or
/// `rfm_holdout`'s calibration part.
const SUMMARY_FIELDS: [(&str, [&str; 2]); 5] = [
    ("frequency", ["frequency", "frequency_cal"]),
    ("recency", ["recency", "recency_cal"]),
    ("t", ["t", "t_cal"]),
    ("n_periods", ["t", "t_cal"]),
    ("monetary_value", ["monetary_value", "monetary_value_cal"]),
];

/// The field of a summary struct with `fields` that stands for argument
/// `arg`, if the argument is one a summary holds.
pub(crate) fn summary_field<'f>(fields: &'f Fields, arg: &str) -> Option<&'f FieldRef> {
    let (_, names) = SUMMARY_FIELDS.iter().find(|(a, _)| *a == arg)?;
    names
        .iter()
        .find_map(|name| fields.find(name).map(|(_, field)| field))
        .filter(|field| field.data_type().is_numeric() || field.data_type().is_null())
}

/// Whether `data_type` is a customer summary struct (numeric frequency,
/// recency and t, or their `_cal` forms) standing for the columns `args`.
pub(crate) fn is_summary(data_type: &DataType, args: &[&str]) -> bool {
    match data_type {
        DataType::Struct(fields) => {
            !args.is_empty() && args.iter().all(|arg| summary_field(fields, arg).is_some())
        }
        _ => false,
    }
}

/// The error for a struct given where a summary of the columns `args` may
/// stand: which fields it lacks.
pub(crate) fn not_a_summary<T>(function: &str, args: &[&str], data_type: &DataType) -> Result<T> {
    let fields: Vec<String> = args
        .iter()
        .map(|arg| {
            SUMMARY_FIELDS
                .iter()
                .find(|(a, _)| a == arg)
                .map_or(arg.to_string(), |(_, names)| names[0].to_string())
        })
        .collect();
    datafusion_common::plan_err!(
        "{function}: argument summary must be a customer summary, the struct of rfm_summary or rfm_holdout (numeric fields {}), got {data_type}",
        fields.join(", ")
    )
}

/// The column of `summaries` that stands for argument `arg`, as DOUBLE.
pub(crate) fn summary_column(
    function: &str,
    summaries: &StructArray,
    arg: &str,
) -> Result<ArrayRef> {
    let Some(field) = summary_field(summaries.fields(), arg) else {
        return exec_err!("{function}: the summary struct has no field for argument {arg}");
    };
    let column = summaries.column_by_name(field.name()).ok_or_else(|| {
        datafusion_common::exec_datafusion_err!("{function}: the summary struct has no {arg}")
    })?;
    // A field is NULL where its struct is.
    let column = match summaries.nulls() {
        Some(nulls) => arrow::compute::kernels::nullif::nullif(
            column,
            &arrow::array::BooleanArray::new(!nulls.inner(), None),
        )?,
        None => Arc::clone(column),
    };
    Ok(cast(&column, &DataType::Float64)?)
}

/// The unit of each row of `structs` (summaries or models, `what` in
/// messages, e.g. "argument model"): `None` without a `unit` field, where
/// it or the struct is NULL; an error for a name that is no unit.
pub(crate) fn row_units(
    function: &str,
    what: &str,
    structs: &StructArray,
) -> Result<Option<Vec<Option<PeriodUnit>>>> {
    let Some(units) = structs.column_by_name("unit") else {
        return Ok(None);
    };
    let units = cast(units, &DataType::Utf8)?;
    let units = units.as_string::<i32>();
    (0..structs.len())
        .map(|row| {
            if structs.is_null(row) || units.is_null(row) {
                return Ok(None);
            }
            let name = units.value(row);
            name.parse().map(Some).or_else(|_| {
                exec_err!(
                    "{function}: {what} has unit '{name}', not one of {}",
                    PeriodUnit::NAMES
                )
            })
        })
        .collect::<Result<_>>()
        .map(Some)
}

/// The one unit of the rows of `summaries`, or an error naming two.
pub(crate) fn summary_unit(function: &str, summaries: &StructArray) -> Result<Option<PeriodUnit>> {
    let mut found: Option<PeriodUnit> = None;
    for unit in row_units(function, "the summary", summaries)?
        .into_iter()
        .flatten()
        .flatten()
    {
        match found {
            Some(seen) if seen != unit => {
                return exec_err!(
                    "{function}: the summaries have different units, '{seen}' and '{unit}'"
                );
            }
            _ => found = Some(unit),
        }
    }
    Ok(found)
}
