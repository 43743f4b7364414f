//! Scalars that score customers with a fitted model. The model is SQL data:
//! the struct a fit returns (from a CTE, a cross join or a scalar subquery)
//! or a literal `named_struct(...)`; the functions read it by field name.

/// What every scoring function shares, for a struct `$func` declared with
/// its `#[user_doc]`: `new`, argument checks and coercion (`$params` the
/// argument names, `$kinds` which of them are models, the last `$optional`
/// may be left out; `$summary` the parameters of the form taking a summary
/// struct first in place of the columns it holds, empty without one), a
/// result of type `$returns` (default DOUBLE), and `$invoke` to score. Defined before the `mod`s below,
/// which see it by textual scope.
macro_rules! scoring_function {
    (
        $func:ident,
        name: $name:expr,
        params: $params:expr,
        summary: $summary:expr,
        kinds: $kinds:expr,
        optional: $optional:expr,
        invoke: $invoke:ident
    ) => {
        scoring_function!(
            $func,
            name: $name,
            params: $params,
            summary: $summary,
            kinds: $kinds,
            optional: $optional,
            invoke: $invoke,
            returns: arrow::datatypes::DataType::Float64
        );
    };
    (
        $func:ident,
        name: $name:expr,
        params: $params:expr,
        summary: $summary:expr,
        kinds: $kinds:expr,
        optional: $optional:expr,
        invoke: $invoke:ident,
        returns: $returns:expr
    ) => {
        impl Default for $func {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $func {
            pub fn new() -> Self {
                Self {
                    signature: $crate::score::listed_signature(&$params, &$kinds, $optional),
                }
            }
        }

        fn coerce(
            arg_types: &[arrow::datatypes::DataType],
        ) -> datafusion_common::Result<Vec<arrow::datatypes::DataType>> {
            if $crate::score::units::is_summary_form(&$params, &$summary, arg_types) {
                $crate::common::check_arity($name, &$summary, $optional, arg_types)?;
                let kinds: Vec<Option<$crate::score::ModelKind>> = $summary
                    .iter()
                    .map(|s| $params.iter().position(|p| p == s).and_then(|i| $kinds[i]))
                    .collect();
                return $crate::score::coerce_args($name, &$summary, &kinds, arg_types);
            }
            if let Some(first @ arrow::datatypes::DataType::Struct(_)) = arg_types.first()
                && !$summary.is_empty()
                && $crate::common::check_arity($name, &$params, $optional, arg_types).is_err()
            {
                return $crate::summary::not_a_summary(
                    $name,
                    &$crate::score::units::summarised(&$params, &$summary),
                    first,
                );
            }
            $crate::common::check_arity($name, &$params, $optional, arg_types)?;
            $crate::score::coerce_args($name, &$params, &$kinds, arg_types)
        }

        impl datafusion_expr::ScalarUDFImpl for $func {
            fn name(&self) -> &str {
                $name
            }

            fn signature(&self) -> &datafusion_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[arrow::datatypes::DataType],
            ) -> datafusion_common::Result<Vec<arrow::datatypes::DataType>> {
                $crate::common::lenient(arg_types, coerce)
            }

            fn return_type(
                &self,
                arg_types: &[arrow::datatypes::DataType],
            ) -> datafusion_common::Result<arrow::datatypes::DataType> {
                coerce(arg_types)?;
                Ok($returns)
            }

            fn invoke_with_args(
                &self,
                args: datafusion_expr::ScalarFunctionArgs,
            ) -> datafusion_common::Result<datafusion_expr::ColumnarValue> {
                $invoke(args)
            }

            fn documentation(&self) -> Option<&datafusion_expr::Documentation> {
                self.doc()
            }
        }
    };
}

pub mod churn_prob;
pub mod clv;
pub mod clv_interval;
pub mod expected_purchases;
pub mod expected_purchases_interval;
pub mod expected_spend;
pub mod p_alive;
pub mod prob_purchases;
pub mod sbg_dert;
pub mod sbg_retention;
pub mod sbg_survival;
pub(crate) mod units;

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::datatypes::{DataType, Float64Type};
use datafusion_common::{Result, ScalarValue, exec_err, internal_datafusion_err, plan_err};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, Signature, TypeSignature};

use crate::common::{all_scalar, check_history, check_whole, coerce_float, named};
use crate::math::Num;
use crate::math::gamma_gamma::GammaGamma;
use crate::math::sbg::Sbg;
use crate::models::purchase::{self, PurchaseModel};
use crate::models::{Models, accepts, describe, gamma_gamma, listed_type, read_models, sbg};
use crate::parallel::{available_threads, map_in_parallel};

/// Which models a model argument takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ModelKind {
    /// A purchase-count model: BG/NBD, MBG/NBD or Pareto/NBD.
    Purchases,
    /// A spend model: Gamma-Gamma.
    Spend,
    /// A retention model: sBG.
    Retention,
}

impl ModelKind {
    /// The type `SHOW FUNCTIONS` lists for an argument of this kind: the
    /// parameters of its first model and the model's name.
    fn listed_type(self) -> DataType {
        match self {
            ModelKind::Purchases => listed_type(purchase::MODELS[0]),
            ModelKind::Spend => listed_type(gamma_gamma::MODELS[0]),
            ModelKind::Retention => listed_type(sbg::MODELS[0]),
        }
    }
}

/// A scoring function's signature ([`crate::common::signature`]) listing
/// its required arguments in `information_schema` and `SHOW FUNCTIONS`:
/// DOUBLEs and model structs. The model types are not classes a coercible
/// signature can name, so the listing is an exact one; it never decides a
/// call, which the user-defined coercion, tried first, always accepts.
pub(crate) fn listed_signature(
    params: &[&str],
    kinds: &[Option<ModelKind>],
    optional: usize,
) -> Signature {
    let mut signature = crate::common::signature(params, &[]);
    let required = kinds[..params.len() - optional]
        .iter()
        .map(|kind| kind.map_or(DataType::Float64, ModelKind::listed_type))
        .collect();
    if let TypeSignature::OneOf(variants) = &mut signature.type_signature {
        variants.push(TypeSignature::Exact(required));
    }
    signature
}

/// Checks a model argument's type at planning; the type stays as it is.
pub(crate) fn coerce_model(
    function: &str,
    arg: &str,
    kind: ModelKind,
    data_type: &DataType,
) -> Result<DataType> {
    if data_type.is_null() {
        return Ok(DataType::Null);
    }
    let (ok, expected) = match kind {
        ModelKind::Purchases => (
            accepts(&purchase::MODELS, data_type),
            describe(&purchase::MODELS),
        ),
        ModelKind::Spend => (
            accepts(&gamma_gamma::MODELS, data_type),
            describe(&gamma_gamma::MODELS),
        ),
        ModelKind::Retention => (accepts(&sbg::MODELS, data_type), describe(&sbg::MODELS)),
    };
    if ok {
        return Ok(data_type.clone());
    }
    plan_err!("{function}: argument {arg} must be {expected}, got {data_type}")
}

/// Coerces a scoring function's arguments: numbers to DOUBLE, models, a
/// summary struct (a first argument named "summary") and horizons given as
/// INTERVALs kept (models after checking their fields). `kinds[i]` is
/// `Some` for model arguments.
pub(crate) fn coerce_args(
    function: &str,
    params: &[&str],
    kinds: &[Option<ModelKind>],
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    params
        .iter()
        .zip(kinds)
        .zip(arg_types)
        .map(|((param, kind), data_type)| match kind {
            Some(kind) => coerce_model(function, param, *kind, data_type),
            None if *param == "summary" => Ok(data_type.clone()),
            None if units::takes_interval(param) && matches!(data_type, DataType::Interval(_)) => {
                Ok(data_type.clone())
            }
            None => coerce_float(function, param, data_type),
        })
        .collect()
}

/// The purchase-count models of a `model` argument.
pub(crate) fn purchase_models(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
) -> Result<Models<PurchaseModel>> {
    read_models(function, arg, value, &purchase::MODELS)
}

/// The spend models of a `spend_model` argument.
pub(crate) fn spend_models(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
) -> Result<Models<GammaGamma>> {
    read_models(function, arg, value, &gamma_gamma::MODELS)
}

/// The retention models of a `model` argument.
pub(crate) fn retention_models(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
) -> Result<Models<Sbg>> {
    read_models(function, arg, value, &sbg::MODELS)
}

/// Rows one thread scores. DataFusion's batches (8,192 rows) stay on the
/// thread that calls; a window's output arrives as one batch of every
/// customer and is split across the cores.
const ROWS_PER_THREAD: usize = 32_768;

/// Scores `rows` rows for `function`: `numbers` are the DOUBLE arguments
/// among `args`, with their names; `kernel` gets scratch space of its own
/// thread (`S`, e.g. a cache), a row's index and numbers when none of them
/// is NULL (the result is NULL otherwise), and returns `None` for a row
/// whose model is NULL. A result that is not finite (arguments or model
/// parameters near the ends of f64) is an error naming the row's numbers.
/// The result is a scalar when every one of `args` is one.
pub(crate) fn score_rows<const N: usize, S: Default>(
    function: &str,
    args: &[ColumnarValue],
    numbers: [(&str, &ColumnarValue); N],
    rows: usize,
    kernel: impl Fn(&mut S, usize, [f64; N]) -> Result<Option<f64>> + Sync,
) -> Result<ColumnarValue> {
    let (scores, all_scalar) = score_rows_of(function, args, numbers, rows, |s, row, v| {
        Ok(kernel(s, row, v)?.map(|score| [score]))
    })?;
    let result: ArrayRef = Arc::new(Float64Array::from_iter(
        scores.into_iter().map(|s| s.map(|[s]| s)),
    ));
    shaped(result, all_scalar)
}

/// The struct an interval function returns.
pub(crate) fn interval_fields() -> arrow::datatypes::Fields {
    ["estimate", "lower", "upper", "level"]
        .into_iter()
        .map(|name| arrow::datatypes::Field::new(name, DataType::Float64, true))
        .collect()
}

/// Intervals `[estimate, lower, upper, level]` per row as the struct of
/// [`interval_fields`].
pub(crate) fn interval_result(
    rows: Vec<Option<[f64; 4]>>,
    all_scalar: bool,
) -> Result<ColumnarValue> {
    let valid = arrow::buffer::NullBuffer::from_iter(rows.iter().map(Option::is_some));
    let columns: Vec<ArrayRef> = (0..4)
        .map(|k| {
            Arc::new(Float64Array::from_iter(
                rows.iter().map(|r| r.map(|values| values[k])),
            )) as ArrayRef
        })
        .collect();
    let result = arrow::array::StructArray::try_new(interval_fields(), columns, Some(valid))?;
    shaped(Arc::new(result), all_scalar)
}

/// The result as a scalar where every argument is one.
pub(crate) fn shaped(result: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

/// [`score_rows`] for kernels returning `M` numbers a row (every one must
/// be finite); with whether every argument is a scalar (one row then).
pub(crate) fn score_rows_of<const N: usize, const M: usize, S: Default>(
    function: &str,
    args: &[ColumnarValue],
    numbers: [(&str, &ColumnarValue); N],
    rows: usize,
    kernel: impl Fn(&mut S, usize, [f64; N]) -> Result<Option<[f64; M]>> + Sync,
) -> Result<(Vec<Option<[f64; M]>>, bool)> {
    let all_scalar = all_scalar(args);
    let rows = if all_scalar { 1 } else { rows };
    let arrays = numbers
        .iter()
        .map(|(_, v)| v.to_array(rows))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let columns: Vec<&Float64Array> = arrays
        .iter()
        .map(|a| a.as_primitive::<Float64Type>())
        .collect();
    let score = |range: Range<usize>| -> Result<Vec<Option<[f64; M]>>> {
        let mut scratch = S::default();
        range
            .map(|row| {
                if columns.iter().any(|c| c.is_null(row)) {
                    return Ok(None);
                }
                let values = std::array::from_fn(|i| columns[i].value(row));
                match kernel(&mut scratch, row, values)? {
                    Some(scores) if scores.iter().any(|s| !s.is_finite()) => {
                        let shown: Vec<String> = numbers
                            .iter()
                            .zip(values)
                            .map(|((name, _), value)| format!("{name} = {}", Num(value)))
                            .collect();
                        exec_err!(
                            "{function}: no finite result for {} with this model: the arguments or the model's parameters are beyond the range of double precision",
                            shown.join(", ")
                        )
                    }
                    scores => Ok(scores),
                }
            })
            .collect()
    };
    let mut out = Vec::new();
    for part in map_in_parallel(rows, available_threads(), ROWS_PER_THREAD, score) {
        let part = part.ok_or_else(|| internal_datafusion_err!("a scoring thread panicked"))??;
        if out.is_empty() {
            out = part; // one thread (the usual batch): no copy
        } else {
            out.extend(part);
        }
    }
    Ok((out, all_scalar))
}

/// Scores customer histories (`frequency`, `recency`, `t`: the first three
/// arguments) with the purchase model of the fourth, as `score` says:
/// `p_alive` and `churn_prob`.
pub(crate) fn score_histories(
    function: &str,
    args: &ScalarFunctionArgs,
    score: impl Fn(&PurchaseModel, f64, f64, f64) -> Result<f64, String> + Sync,
) -> Result<ColumnarValue> {
    let (a, _) = units::prepare(
        function,
        &HISTORY_PARAMS,
        &HISTORY_SUMMARY,
        &HISTORY_KINDS,
        &args.args,
    )?;
    let a = &a;
    let models = purchase_models(function, "model", &a[3])?;
    score_rows(
        function,
        a,
        [("frequency", &a[0]), ("recency", &a[1]), ("t", &a[2])],
        args.number_rows,
        |_: &mut (), row, [x, t_x, t]| {
            let Some(model) = models.get(row) else {
                return Ok(None);
            };
            check_history(function, x, t_x, t)?;
            named(function, score(model, x, t_x, t)).map(Some)
        },
    )
}

/// Scores periods `t` (the first argument) with the retention model of the
/// second, as `score` says: `sbg_survival` and `sbg_retention`.
pub(crate) fn score_periods(
    function: &str,
    args: &ScalarFunctionArgs,
    score: impl Fn(&Sbg, f64) -> Result<f64, String> + Sync,
) -> Result<ColumnarValue> {
    let a = &args.args;
    let models = retention_models(function, "model", &a[1])?;
    score_rows(
        function,
        a,
        [("t", &a[0])],
        args.number_rows,
        |_: &mut (), row, [t]| match models.get(row) {
            Some(model) => named(function, score(model, t)).map(Some),
            None => Ok(None),
        },
    )
}

/// The arguments of `p_alive` and `churn_prob`, and of their summary form.
pub(crate) const HISTORY_PARAMS: [&str; 4] = ["frequency", "recency", "t", "model"];
pub(crate) const HISTORY_SUMMARY: [&str; 2] = ["summary", "model"];
pub(crate) const HISTORY_KINDS: [Option<ModelKind>; 4] =
    [None, None, None, Some(ModelKind::Purchases)];

/// A horizon or other length of time: finite and >= 0.
pub(crate) fn check_time(function: &str, arg: &str, value: f64) -> Result<()> {
    if !value.is_finite() || value < 0.0 {
        return exec_err!(
            "{function}: argument {arg} must be a finite number >= 0, got {}",
            Num(value)
        );
    }
    Ok(())
}

/// A spend history: frequency a whole number >= 0 and, for a repeat buyer, a
/// finite mean spend. Whether the spend model can take it: not a repeat
/// buyer whose mean spend is 0 or less (the fits skip them, scores are NULL).
pub(crate) fn check_spend(function: &str, x: f64, m: f64) -> Result<bool> {
    check_whole(function, "frequency", x)?;
    if x > 0.0 && !m.is_finite() {
        return exec_err!(
            "{function}: argument monetary_value must be a finite number for a repeat buyer, got {} with frequency {}",
            Num(m),
            Num(x)
        );
    }
    Ok(x == 0.0 || m > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_batch_is_scored_in_order_across_threads() {
        let rows = 3 * ROWS_PER_THREAD + 5;
        let values: Float64Array = (0..rows)
            .map(|i| (i % 7 != 0).then_some(i as f64))
            .collect();
        let values = ColumnarValue::Array(Arc::new(values));
        let args = [values.clone()];
        let scored = score_rows(
            "f",
            &args,
            [("v", &values)],
            rows,
            |_: &mut (), row, [v]| Ok(Some(v + row as f64)),
        )
        .unwrap()
        .into_array(rows)
        .unwrap();
        let scored = scored.as_primitive::<Float64Type>();
        for row in 0..rows {
            let expected = (row % 7 != 0).then_some(2.0 * row as f64);
            assert_eq!(scored.is_valid(row).then(|| scored.value(row)), expected);
        }
        // The first failing row is the one reported, whichever thread met it.
        let error = score_rows("f", &args, [("v", &values)], rows, |_: &mut (), row, _| {
            if row >= 2 * ROWS_PER_THREAD {
                exec_err!("row {row}")
            } else {
                Ok(Some(0.0))
            }
        })
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("row {}", 2 * ROWS_PER_THREAD)),
            "{error}"
        );
    }
}
