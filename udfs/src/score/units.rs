//! What scorers do before scoring: a summary struct in place of its
//! columns, the time unit the summary and the models agree on, and
//! horizons given as INTERVALs converted into that unit.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, IntervalMonthDayNanoType, IntervalUnit};
use datafusion_common::{Result, ScalarValue, exec_err};
use datafusion_expr::ColumnarValue;

use super::ModelKind;
use crate::math::calendar::PeriodUnit;
use crate::summary::{is_summary, summary_column, summary_unit};

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
    param == "horizon"
}

fn as_array(value: &ColumnarValue) -> Result<ArrayRef> {
    match value {
        ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(1),
        ColumnarValue::Array(array) => Ok(Arc::clone(array)),
    }
}

/// `array` as a value of the same shape as `like` (a scalar for a scalar).
fn like(like: &ColumnarValue, array: ArrayRef) -> Result<ColumnarValue> {
    Ok(match like {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?),
        ColumnarValue::Array(_) => ColumnarValue::Array(array),
    })
}

/// The unit a model argument was fitted in, where its struct says.
fn model_unit(function: &str, arg: &str, value: &ColumnarValue) -> Result<Option<PeriodUnit>> {
    let array = as_array(value)?;
    match array.as_struct_opt() {
        Some(models) if models.column_by_name("unit").is_some() => summary_unit(function, models)
            .or_else(|_| {
                exec_err!("{function}: the models of argument {arg} were fitted in different units")
            }),
        _ => Ok(None),
    }
}

/// The arguments in the column form of `params`, with horizons as DOUBLE,
/// and the unit they are in where the summary or a model says. A summary
/// struct first (the summary form, `summary` its parameters) stands for
/// its columns; a summary and a model in different units are an error
/// naming both.
pub(crate) fn prepare(
    function: &str,
    params: &[&str],
    summary: &[&str],
    kinds: &[Option<ModelKind>],
    args: &[ColumnarValue],
) -> Result<(Vec<ColumnarValue>, Option<PeriodUnit>)> {
    let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
    let mut unit = None;
    let mut columns: Vec<ColumnarValue> = if is_summary_form(params, summary, &types) {
        let summaries = as_array(&args[0])?;
        let summaries: &StructArray = summaries.as_struct();
        unit = summary_unit(function, summaries)?;
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
        if kind.is_none() {
            continue;
        }
        if let Some(fitted) = model_unit(function, param, value)? {
            match unit {
                Some(known) if known != fitted => {
                    return exec_err!(
                        "{function}: the customers are in {known}s but argument {param} was fitted in {fitted}s; summarise and fit in one unit"
                    );
                }
                _ => unit = Some(fitted),
            }
        }
    }
    for (param, value) in params.iter().zip(columns.iter_mut()) {
        if takes_interval(param) && matches!(value.data_type(), DataType::Interval(_)) {
            let Some(unit) = unit else {
                return exec_err!(
                    "{function}: argument {param} is an INTERVAL, but neither the customers nor the model say their time unit: pass an rfm_summary struct, a model fitted from one, or {param} as a number"
                );
            };
            let intervals = cast(
                &as_array(value)?,
                &DataType::Interval(IntervalUnit::MonthDayNano),
            )?;
            let intervals = intervals.as_primitive::<IntervalMonthDayNanoType>();
            let periods: Float64Array = intervals
                .iter()
                .map(|i| {
                    i.map(|i| {
                        interval_in(
                            unit,
                            f64::from(i.months),
                            f64::from(i.days),
                            i.nanoseconds as f64,
                        )
                    })
                })
                .collect();
            *value = like(value, Arc::new(periods))?;
        }
    }
    Ok((columns, unit))
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
