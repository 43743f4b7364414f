//! Machinery shared by the SQL functions: argument checking with errors
//! that name the function and the argument, and type coercion rules.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use datafusion_common::types::{logical_date, logical_float64, logical_int64, logical_string};
use datafusion_common::{Result, ScalarValue, exec_datafusion_err, exec_err, plan_err};
use datafusion_expr::{
    Coercion, ColumnarValue, Signature, TypeSignature, TypeSignatureClass, Volatility,
};

use crate::math::Num;

/// Creates `fn $name() -> Arc<$kind>`, a singleton of the function `$impl`.
macro_rules! make_function {
    ($kind:ident, $impl:ty, $name:ident) => {
        pub fn $name() -> std::sync::Arc<datafusion_expr::$kind> {
            static INSTANCE: std::sync::LazyLock<std::sync::Arc<datafusion_expr::$kind>> =
                std::sync::LazyLock::new(|| {
                    std::sync::Arc::new(datafusion_expr::$kind::new_from_impl(<$impl>::new()))
                });
            std::sync::Arc::clone(&INSTANCE)
        }
    };
}
pub(crate) use make_function;

/// An argument type as `SHOW FUNCTIONS` lists it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Listed {
    Date,
    Timestamp,
    Float,
    Int,
    Text,
}

impl Listed {
    fn coercion(self) -> Coercion {
        Coercion::new_exact(match self {
            Listed::Date => TypeSignatureClass::Native(logical_date()),
            Listed::Timestamp => TypeSignatureClass::Timestamp,
            Listed::Float => TypeSignatureClass::Native(logical_float64()),
            Listed::Int => TypeSignatureClass::Native(logical_int64()),
            Listed::Text => TypeSignatureClass::Native(logical_string()),
        })
    }
}

/// The signature of a clvsql function: its own coercion (`coerce_types`,
/// whose errors name the function and the argument) first, then `listed`,
/// canonical argument lists for `information_schema` and `SHOW FUNCTIONS`
/// (which show nothing for a user-defined signature alone).
///
/// DataFusion takes the first variant that accepts the arguments and drops
/// the errors of the others. So the functions' `coerce_types` never fail
/// ([`lenient`]): types they cannot accept stay as they are, and the return
/// type checks them again and reports the error at planning.
pub(crate) fn signature(params: &[&str], listed: &[&[Listed]]) -> Signature {
    let mut variants = vec![TypeSignature::UserDefined];
    variants.extend(
        listed
            .iter()
            .map(|args| TypeSignature::Coercible(args.iter().map(|a| a.coercion()).collect())),
    );
    let mut signature = Signature::one_of(variants, Volatility::Immutable);
    // `with_parameter_names` rejects a `OneOf` holding `UserDefined` as of
    // variable arity; the names match the user-defined coercion's arguments.
    signature.parameter_names = Some(params.iter().map(|p| p.to_string()).collect());
    signature
}

/// `coerce_types` that never fails: the strict check runs again in
/// `return_type` (see [`signature`]).
pub(crate) fn lenient(
    arg_types: &[DataType],
    strict: impl Fn(&[DataType]) -> Result<Vec<DataType>>,
) -> Result<Vec<DataType>> {
    Ok(strict(arg_types).unwrap_or_else(|_| arg_types.to_vec()))
}

/// Checks the argument count of `function` against its parameter names,
/// the last `optional` of which may be left out.
pub(crate) fn check_arity(
    function: &str,
    params: &[&str],
    optional: usize,
    arg_types: &[DataType],
) -> Result<()> {
    let required = params.len() - optional;
    if arg_types.len() < required || arg_types.len() > params.len() {
        let expected = if optional == 0 {
            format!("{required}")
        } else {
            format!("{required} to {}", params.len())
        };
        return plan_err!(
            "{function} takes {expected} arguments ({}), got {}",
            params.join(", "),
            arg_types.len()
        );
    }
    Ok(())
}

/// A numeric (or NULL) argument, coerced to `Float64`.
pub(crate) fn coerce_float(function: &str, arg: &str, data_type: &DataType) -> Result<DataType> {
    if data_type.is_numeric() || data_type.is_null() {
        Ok(DataType::Float64)
    } else {
        plan_err!("{function}: argument {arg} must be numeric, got {data_type}")
    }
}

/// An integer (or NULL) argument, coerced to `Int64`.
pub(crate) fn coerce_integer(function: &str, arg: &str, data_type: &DataType) -> Result<DataType> {
    if data_type.is_integer() || data_type.is_null() {
        Ok(DataType::Int64)
    } else {
        plan_err!("{function}: argument {arg} must be an integer, got {data_type}")
    }
}

/// A string (or NULL) argument, coerced to `Utf8`.
pub(crate) fn coerce_string(function: &str, arg: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Null
        | DataType::Dictionary(_, _) => Ok(DataType::Utf8),
        other => plan_err!("{function}: argument {arg} must be a string, got {other}"),
    }
}

/// A point in time: dates stay `Date32`, timestamps lose their time zone
/// (keeping the UTC instant), strings stay strings, for [`parse_times`] to
/// read (a cast at planning would fail without naming the function).
pub(crate) fn coerce_time(function: &str, arg: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Date32 | DataType::Date64 | DataType::Null => Ok(DataType::Date32),
        DataType::Timestamp(unit, _) => Ok(DataType::Timestamp(*unit, None)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Utf8),
        other => plan_err!("{function}: argument {arg} must be a DATE or TIMESTAMP, got {other}"),
    }
}

/// The time type a coerced time argument is read as: strings as
/// microsecond timestamps.
pub(crate) fn time_type(coerced: &DataType) -> DataType {
    match coerced {
        DataType::Utf8 => DataType::Timestamp(TimeUnit::Microsecond, None),
        other => other.clone(),
    }
}

/// A coerced time argument as [`time_type`] says: strings parsed as
/// timestamps, and one that does not parse an error naming the argument.
pub(crate) fn parse_times(function: &str, arg: &str, values: &ArrayRef) -> Result<ArrayRef> {
    let Some(text) = values.as_string_opt::<i32>() else {
        return Ok(Arc::clone(values));
    };
    let parsed = cast(values, &time_type(values.data_type()))?;
    if let Some(row) = (0..text.len()).find(|&i| text.is_valid(i) && parsed.is_null(i)) {
        let shown: String = text.value(row).chars().take(40).collect();
        return exec_err!(
            "{function}: argument {arg} must be a date or timestamp (e.g. '2024-12-31' or '2024-12-31T23:59:59'), got '{shown}'"
        );
    }
    Ok(parsed)
}

/// How many raw values of a time type make one day.
pub(crate) fn units_per_day(data_type: &DataType) -> i64 {
    match data_type {
        DataType::Timestamp(TimeUnit::Second, _) => 86_400,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 86_400_000,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 86_400_000_000,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 86_400_000_000_000,
        _ => 1,
    }
}

/// Runs a vectorised `kernel` over the arguments as arrays; the result is a
/// scalar when every argument is one.
pub(crate) fn evaluate(
    args: &[ColumnarValue],
    kernel: impl FnOnce(&[ArrayRef]) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let result = kernel(&ColumnarValue::values_to_arrays(args)?)?;
    if all_scalar(args) {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

/// Checks a customer history as the purchase-count models read it:
/// frequency x a whole number >= 0, recency t_x and age t finite with
/// 0 <= t_x <= t, t_x > 0 when x > 0 (repeat purchases come after the first,
/// in continuous time) and t_x = 0 when x = 0.
pub(crate) fn check_history(function: &str, x: f64, t_x: f64, t: f64) -> Result<()> {
    check_whole(function, "frequency", x)?;
    if !t_x.is_finite() || t_x < 0.0 {
        return exec_err!(
            "{function}: argument recency must be a finite number >= 0, got {}",
            Num(t_x)
        );
    }
    if !t.is_finite() || t < t_x {
        return exec_err!(
            "{function}: argument t must be a finite number >= recency, got t = {} with recency = {}",
            Num(t),
            Num(t_x)
        );
    }
    if x > 0.0 && t_x == 0.0 {
        return exec_err!(
            "{function}: argument recency must be > 0 when frequency > 0 (repeat purchases come after the first), got recency = 0 with frequency = {}",
            Num(x)
        );
    }
    if x == 0.0 && t_x != 0.0 {
        return exec_err!(
            "{function}: argument recency must be 0 when frequency is 0, got recency = {}",
            Num(t_x)
        );
    }
    Ok(())
}

/// Refuses `function(DISTINCT ...)` (DataFusion leaves DISTINCT to the
/// aggregate, and ours count every row); called from `state_fields`, which
/// physical planning calls before any row is read.
pub(crate) fn refuse_distinct(function: &str, is_distinct: bool) -> Result<()> {
    if is_distinct {
        return plan_err!(
            "{function}: DISTINCT is not supported, every row counts; remove duplicate rows in a subquery first (FROM (SELECT DISTINCT ...))"
        );
    }
    Ok(())
}

/// True when every argument is a scalar.
pub(crate) fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// A count argument: a whole number >= 0.
pub(crate) fn check_whole(function: &str, arg: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 {
        return exec_err!(
            "{function}: argument {arg} must be a whole number >= 0, got {}",
            Num(value)
        );
    }
    Ok(())
}

/// Names the function in an error of the math (which returns `String`s).
pub(crate) fn named<T>(function: &str, result: Result<T, String>) -> Result<T> {
    result.map_err(|e| exec_datafusion_err!("{function}: {e}"))
}

/// A list scalar holding `values` (an aggregate state).
pub(crate) fn one_list(values: ArrayRef) -> ScalarValue {
    let field = Arc::new(arrow::datatypes::Field::new_list_field(
        values.data_type().clone(),
        false,
    ));
    let offsets = arrow::buffer::OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(arrow::array::ListArray::new(
        field, offsets, values, None,
    )))
}
