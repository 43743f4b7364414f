//! What scorers do before scoring: a summary struct in place of its
//! columns, the time unit the summary and the models agree on, and
//! horizons given as INTERVALs converted into that unit.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, IntervalMonthDayNanoType, IntervalUnit};
use datafusion_common::{Result, ScalarValue, exec_err};
use datafusion_expr::ColumnarValue;

use super::ModelKind;
use crate::math::calendar::PeriodUnit;
use crate::summary::{is_summary, row_units, summary_column};

/// The average Gregorian month in days: how months meet day and week units.
pub(crate) const DAYS_PER_MONTH: f64 = 365.2425 / 12.0;

/// How many periods of `unit` make a year (a year of 365.2425 days for days
/// and weeks, calendar months otherwise).
pub(crate) fn periods_per_year(unit: PeriodUnit) -> f64 {
    match unit {
        PeriodUnit::Day => 365.2425,
        PeriodUnit::Week => 365.2425 / 7.0,
        PeriodUnit::Month => 12.0,
        PeriodUnit::Quarter => 4.0,
        PeriodUnit::Year => 1.0,
    }
}

/// An interval of `months`, `days` and `nanos` in periods of `unit`:
/// months as calendar months in month, quarter and year units and as
/// [`DAYS_PER_MONTH`] days in day and week units.
fn interval_in(unit: PeriodUnit, months: f64, days: f64, nanos: f64) -> f64 {
    let days = days + nanos / 86_400e9;
    match unit {
        PeriodUnit::Day => months * DAYS_PER_MONTH + days,
        PeriodUnit::Week => (months * DAYS_PER_MONTH + days) / 7.0,
        PeriodUnit::Month => months + days / DAYS_PER_MONTH,
        PeriodUnit::Quarter => (months + days / DAYS_PER_MONTH) / 3.0,
        PeriodUnit::Year => (months + days / DAYS_PER_MONTH) / 12.0,
    }
}

/// The arguments a summary struct stands for: those of `params` that
/// `summary` (the summary form's parameters) does not have.
pub(crate) fn summarised<'p>(params: &[&'p str], summary: &[&str]) -> Vec<&'p str> {
    params
        .iter()
        .filter(|p| !summary.contains(p))
        .copied()
        .collect()
}

/// Whether a call's argument types are the summary form.
pub(crate) fn is_summary_form(params: &[&str], summary: &[&str], arg_types: &[DataType]) -> bool {
    arg_types
        .first()
        .is_some_and(|first| is_summary(first, &summarised(params, summary)))
}

/// Whether an argument may be an INTERVAL.
pub(crate) fn takes_interval(param: &str) -> bool {
    param == "horizon" || param == "period"
}

/// `array` as a value of the same shape as `like` (a scalar for a scalar).
fn like(like: &ColumnarValue, array: ArrayRef) -> Result<ColumnarValue> {
    Ok(match like {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?),
        ColumnarValue::Array(_) => ColumnarValue::Array(array),
    })
}

/// The time unit of each row, where the summary or a model says.
pub(crate) enum RowUnits {
    One(Option<PeriodUnit>),
    PerRow(Vec<Option<PeriodUnit>>),
}

impl RowUnits {
    pub fn get(&self, row: usize) -> Option<PeriodUnit> {
        match self {
            Self::One(unit) => *unit,
            Self::PerRow(units) => units.get(row).copied().flatten(),
        }
    }
}

/// What says the unit of the rows: the customers or a model.
struct UnitSource {
    /// "the customers" or "argument NAME", for messages.
    what: String,
    /// One unit for all rows (a scalar argument).
    scalar: bool,
    units: Vec<Option<PeriodUnit>>,
}

/// The units of the rows of a struct argument: one per row, or one for all
/// where the argument is a scalar.
fn units_of(function: &str, what: &str, value: &ColumnarValue) -> Result<Option<UnitSource>> {
    let array = value.to_array(1)?;
    let Some(structs) = array.as_struct_opt() else {
        return Ok(None);
    };
    let units = row_units(function, what, structs)?;
    Ok(units.map(|units| UnitSource {
        what: what.to_string(),
        scalar: matches!(value, ColumnarValue::Scalar(_)),
        units,
    }))
}

/// The arguments in the column form of `params`, with horizons and periods
/// given as INTERVALs converted to DOUBLE, and the time unit of each row
/// where the summary or a model says it. A summary struct first (the
/// summary form, `summary` its parameters) stands for its columns; a
/// summary and a model in different units are an error naming both.
pub(crate) fn prepare(
    function: &str,
    params: &[&str],
    summary: &[&str],
    kinds: &[Option<ModelKind>],
    args: &[ColumnarValue],
) -> Result<(Vec<ColumnarValue>, RowUnits)> {
    let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
    let mut sources: Vec<UnitSource> = Vec::new();
    let columns: Vec<ColumnarValue> = if is_summary_form(params, summary, &types) {
        let summaries = args[0].to_array(1)?;
        let summaries: &StructArray = summaries.as_struct();
        if let Some(source) = units_of(function, "the customers", &args[0])? {
            sources.push(source);
        }
        let mut columns = Vec::with_capacity(params.len());
        for param in params {
            match summary.iter().position(|s| s == param) {
                Some(i) => match args.get(i) {
                    Some(arg) => columns.push(arg.clone()),
                    None => break,
                },
                None => columns.push(like(&args[0], summary_column(function, summaries, param)?)?),
            }
        }
        columns
    } else {
        args.to_vec()
    };
    for ((param, kind), value) in params.iter().zip(kinds).zip(&columns) {
        if kind.is_some()
            && let Some(source) = units_of(function, &format!("argument {param}"), value)?
        {
            sources.push(source);
        }
    }
    let units = row_units_of(function, sources)?;
    let rows = columns
        .iter()
        .find_map(|c| match c {
            ColumnarValue::Array(array) => Some(array.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1);
    let mut columns = columns;
    for (param, value) in params.iter().zip(columns.iter_mut()) {
        if takes_interval(param) && matches!(value.data_type(), DataType::Interval(_)) {
            *value = in_periods(function, param, value, &units, rows)?;
        }
    }
    Ok((columns, units))
}

/// The unit of each row from the units of its `sources` (the customers and
/// the models, each one per row or one for all), which must agree.
fn row_units_of(function: &str, sources: Vec<UnitSource>) -> Result<RowUnits> {
    let rows = sources
        .iter()
        .filter(|source| !source.scalar)
        .map(|source| source.units.len())
        .max();
    let unit_at = |row: usize| -> Result<Option<PeriodUnit>> {
        // The first source that says the unit, which the others must match.
        let mut found: Option<(&str, PeriodUnit)> = None;
        for UnitSource {
            what,
            scalar,
            units,
        } in &sources
        {
            let Some(unit) = units.get(if *scalar { 0 } else { row }).copied().flatten() else {
                continue;
            };
            match found {
                Some(("the customers", seen)) if seen != unit => {
                    return exec_err!(
                        "{function}: the customers are in {seen}s but {what} was fitted in {unit}s; summarise and fit in one unit"
                    );
                }
                Some((first, seen)) if seen != unit => {
                    return exec_err!(
                        "{function}: {first} was fitted in {seen}s but {what} in {unit}s; fit both in one unit"
                    );
                }
                Some(_) => {}
                None => found = Some((what.as_str(), unit)),
            }
        }
        Ok(found.map(|(_, unit)| unit))
    };
    match rows {
        None => Ok(RowUnits::One(unit_at(0)?)),
        Some(rows) => Ok(RowUnits::PerRow(
            (0..rows).map(unit_at).collect::<Result<_>>()?,
        )),
    }
}

/// An INTERVAL argument in periods of each row's unit.
fn in_periods(
    function: &str,
    param: &str,
    value: &ColumnarValue,
    units: &RowUnits,
    rows: usize,
) -> Result<ColumnarValue> {
    let intervals = cast(
        &value.to_array(1)?,
        &DataType::Interval(IntervalUnit::MonthDayNano),
    )?;
    let intervals = intervals.as_primitive::<IntervalMonthDayNanoType>();
    let scalar = matches!(value, ColumnarValue::Scalar(_));
    let per_row = !scalar || matches!(units, RowUnits::PerRow(_));
    let count = if per_row { rows } else { 1 };
    // A row without a unit where others have one is a NULL summary or
    // model (its score is NULL); without a unit anywhere, an error.
    let any_unit = match units {
        RowUnits::One(unit) => unit.is_some(),
        RowUnits::PerRow(units) => units.iter().any(Option::is_some),
    };
    let periods = (0..count)
        .map(|row| {
            let i = if scalar { 0 } else { row };
            if intervals.is_null(i) {
                return Ok(None);
            }
            let interval = intervals.value(i);
            let Some(unit) = units.get(row) else {
                if any_unit {
                    return Ok(None);
                }
                return exec_err!(
                    "{function}: argument {param} is an INTERVAL, but neither the customers nor the model say their time unit: pass an rfm_summary struct, a model fitted from one, or {param} as a number"
                );
            };
            Ok(Some(interval_in(
                unit,
                f64::from(interval.months),
                f64::from(interval.days),
                interval.nanoseconds as f64,
            )))
        })
        .collect::<Result<Float64Array>>()?;
    if per_row {
        Ok(ColumnarValue::Array(Arc::new(periods)))
    } else {
        like(value, Arc::new(periods))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_in_each_unit() {
        // 1 year = 12 months.
        assert!((interval_in(PeriodUnit::Day, 12.0, 0.0, 0.0) - 365.2425).abs() < 1e-9);
        assert!((interval_in(PeriodUnit::Week, 12.0, 0.0, 0.0) - 52.1775).abs() < 1e-9);
        assert_eq!(interval_in(PeriodUnit::Month, 12.0, 0.0, 0.0), 12.0);
        assert_eq!(interval_in(PeriodUnit::Quarter, 12.0, 0.0, 0.0), 4.0);
        assert_eq!(interval_in(PeriodUnit::Year, 12.0, 0.0, 0.0), 1.0);
        // 2 weeks = 14 days; 36 hours = 1.5 days.
        assert_eq!(interval_in(PeriodUnit::Week, 0.0, 14.0, 0.0), 2.0);
        assert_eq!(interval_in(PeriodUnit::Day, 0.0, 1.0, 43_200e9), 1.5);
        assert_eq!(periods_per_year(PeriodUnit::Quarter), 4.0);
    }
}
