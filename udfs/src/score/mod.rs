//! Scalars that score customers with a fitted model. The model is SQL data:
//! the struct a fit returns (from a CTE, a cross join or a scalar subquery)
//! or a literal `named_struct(...)`; the functions read it by field name.

/// What every scoring function shares, for a struct `$func` declared (with
/// its `#[user_doc]`) beside `NAME`, `PARAMS` and `KINDS` in the function's
/// file: `new`, argument checks and coercion (the last `$optional` of
/// `PARAMS` may be left out), a DOUBLE result, and `$invoke` to score.
/// Defined before the `mod`s below, which see it by textual scope.
macro_rules! scoring_function {
    ($func:ident, optional: $optional:expr, invoke: $invoke:ident) => {
        impl Default for $func {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $func {
            pub fn new() -> Self {
                Self {
                    signature: $crate::common::signature(&PARAMS, &[]),
                }
            }
        }

        fn coerce(
            arg_types: &[arrow::datatypes::DataType],
        ) -> datafusion_common::Result<Vec<arrow::datatypes::DataType>> {
            $crate::common::check_arity(NAME, &PARAMS, $optional, arg_types)?;
            $crate::score::coerce_args(NAME, &PARAMS, &KINDS, arg_types)
        }

        impl datafusion_expr::ScalarUDFImpl for $func {
            fn name(&self) -> &str {
                NAME
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
                Ok(arrow::datatypes::DataType::Float64)
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
pub mod expected_purchases;
pub mod expected_spend;
pub mod p_alive;
pub mod prob_purchases;

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use datafusion_common::{
    Result, ScalarValue, exec_datafusion_err, exec_err, internal_datafusion_err, plan_err,
};
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs};

use crate::common::{all_scalar, check_history, check_whole, coerce_float, named};
use crate::math::Num;
use crate::math::bgnbd::{BgNbd, SeriesCache};
use crate::math::gamma_gamma::GammaGamma;
use crate::math::histories::{available_threads, map_in_parallel};
use crate::math::pareto_nbd::ParetoNbd;

/// A purchase-count model, told apart by its fields.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PurchaseModel {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
}

const BGNBD: [&str; 4] = ["r", "alpha", "a", "b"];
const PARETO_NBD: [&str; 4] = ["r", "alpha", "s", "beta"];
const GAMMA_GAMMA: [&str; 3] = ["p", "q", "v"];

impl PurchaseModel {
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => Ok(m.p_alive(x, t_x, t)),
            Self::ParetoNbd(m) => m.p_alive(x, t_x, t),
        }
    }

    pub fn churn_prob(&self, x: f64, t_x: f64, t: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => Ok(m.churn_prob(x, t_x, t)),
            Self::ParetoNbd(m) => m.churn_prob(x, t_x, t),
        }
    }

    /// The purchases expected over the next `horizon`; `cache` keeps series
    /// coefficients for the next customers.
    pub fn expected_purchases(
        &self,
        x: f64,
        t_x: f64,
        t: f64,
        horizon: f64,
        cache: &mut SeriesCache,
    ) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => m.expected_purchases(x, t_x, t, horizon, cache),
            Self::ParetoNbd(m) => m.expected_purchases(x, t_x, t, horizon),
        }
    }

    /// The purchases expected from a customer alive at age t over any
    /// horizon up to `max_horizon` (`expected_purchases` divided by
    /// `p_alive`), for many horizons at the cost of few.
    pub fn purchase_curve(
        &self,
        x: f64,
        t: f64,
        max_horizon: f64,
        cache: &mut SeriesCache,
    ) -> PurchaseCurve {
        match self {
            Self::BgNbd(m) => PurchaseCurve::BgNbd(m.purchase_curve(x, t, max_horizon, cache)),
            Self::ParetoNbd(m) => PurchaseCurve::ParetoNbd(*m, x, t),
        }
    }

    /// The time scale of the expectation's dependence on the horizon (its
    /// singularity lies at −scale), for the quadrature of `clv`.
    pub fn time_scale(&self, t: f64) -> f64 {
        match self {
            Self::BgNbd(m) => m.alpha + t,
            Self::ParetoNbd(m) => m.beta + t,
        }
    }

    pub fn prob_purchases(&self, n: f64, horizon: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => m.prob_purchases(n, horizon),
            Self::ParetoNbd(m) => m.prob_purchases(n, horizon),
        }
    }
}

/// See [`PurchaseModel::purchase_curve`].
pub(crate) enum PurchaseCurve {
    BgNbd(crate::math::bgnbd::PurchaseCurve),
    ParetoNbd(ParetoNbd, f64, f64),
}

impl PurchaseCurve {
    pub fn at(&self, horizon: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(curve) => curve.at(horizon),
            Self::ParetoNbd(m, x, t) => Ok(m.expected_purchases_if_alive(*x, *t, horizon)),
        }
    }

    /// The curve at each of `horizons`, into `values`.
    pub fn at_each(&self, horizons: &[f64], values: &mut [f64]) -> Result<(), String> {
        match self {
            Self::BgNbd(curve) => curve.at_each(horizons, values),
            Self::ParetoNbd(..) => {
                for (value, horizon) in values.iter_mut().zip(horizons) {
                    *value = self.at(*horizon)?;
                }
                Ok(())
            }
        }
    }
}

/// Which fields a model argument must have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ModelKind {
    /// BG/NBD (r, alpha, a, b) or Pareto/NBD (r, alpha, s, beta).
    Purchases,
    /// Gamma-Gamma (p, q, v).
    Spend,
}

fn has_fields(data_type: &DataType, names: &[&str]) -> bool {
    match data_type {
        DataType::Struct(fields) => names.iter().all(|name| {
            fields
                .find(name)
                .is_some_and(|(_, f)| f.data_type().is_numeric() || f.data_type().is_null())
        }),
        _ => false,
    }
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
    let ok = match kind {
        ModelKind::Purchases => has_fields(data_type, &BGNBD) != has_fields(data_type, &PARETO_NBD),
        ModelKind::Spend => has_fields(data_type, &GAMMA_GAMMA),
    };
    if ok {
        return Ok(data_type.clone());
    }
    let expected = match kind {
        ModelKind::Purchases => {
            "a BG/NBD model (a struct with numeric fields r, alpha, a, b, as bgnbd_fit returns) or a Pareto/NBD model (r, alpha, s, beta, as pareto_nbd_fit returns)"
        }
        ModelKind::Spend => {
            "a Gamma-Gamma model (a struct with numeric fields p, q, v, as gamma_gamma_fit returns)"
        }
    };
    plan_err!("{function}: argument {arg} must be {expected}, got {data_type}")
}

/// Coerces a scoring function's arguments: numbers to DOUBLE, models kept
/// (after checking their fields). `kinds[i]` is `Some` for model arguments.
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
            None => coerce_float(function, param, data_type),
        })
        .collect()
}

/// The model of every row (one, when the argument is a scalar); `None` where
/// the model or one of its parameters is NULL.
pub(crate) enum Models<M> {
    One(Option<M>),
    PerRow(Vec<Option<M>>),
}

impl<M> Models<M> {
    pub fn get(&self, row: usize) -> Option<&M> {
        match self {
            Models::One(m) => m.as_ref(),
            Models::PerRow(models) => models[row].as_ref(),
        }
    }
}

/// Reads model parameters by name, checking each is finite and above 0.
fn read_models<M>(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
    names: &[&str],
    build: impl Fn(&[f64]) -> M,
) -> Result<Models<M>> {
    let array = match value {
        ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(1)?,
        ColumnarValue::Array(array) => Arc::clone(array),
    };
    let models = if let Some(structs) = array.as_struct_opt() {
        read_struct(function, arg, structs, names, build)?
    } else {
        (0..array.len()).map(|_| None).collect()
    };
    Ok(match value {
        ColumnarValue::Scalar(_) => Models::One(models.into_iter().next().flatten()),
        ColumnarValue::Array(_) => Models::PerRow(models),
    })
}

fn read_struct<M>(
    function: &str,
    arg: &str,
    structs: &StructArray,
    names: &[&str],
    build: impl Fn(&[f64]) -> M,
) -> Result<Vec<Option<M>>> {
    let columns = names
        .iter()
        .map(|name| {
            let column = structs.column_by_name(name).ok_or_else(|| {
                exec_datafusion_err!("{function}: argument {arg} has no field {name}")
            })?;
            Ok(cast(column, &DataType::Float64)?)
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let columns: Vec<&Float64Array> = columns
        .iter()
        .map(|c| c.as_primitive::<Float64Type>())
        .collect();
    let mut models = Vec::with_capacity(structs.len());
    let mut params = vec![0.0; names.len()];
    for row in 0..structs.len() {
        if structs.is_null(row) || columns.iter().any(|c| c.is_null(row)) {
            models.push(None);
            continue;
        }
        for ((param, column), name) in params.iter_mut().zip(&columns).zip(names) {
            *param = column.value(row);
            if !param.is_finite() || *param <= 0.0 {
                return exec_err!(
                    "{function}: argument {arg} has {name} = {}; model parameters must be finite and above 0",
                    Num(*param)
                );
            }
        }
        models.push(Some(build(&params)));
    }
    Ok(models)
}

/// The purchase-count models of a `model` argument.
pub(crate) fn purchase_models(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
) -> Result<Models<PurchaseModel>> {
    let is_bgnbd = has_fields(&value.data_type(), &BGNBD);
    if is_bgnbd {
        read_models(function, arg, value, &BGNBD, |p| {
            PurchaseModel::BgNbd(BgNbd {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            })
        })
    } else {
        read_models(function, arg, value, &PARETO_NBD, |p| {
            PurchaseModel::ParetoNbd(ParetoNbd {
                r: p[0],
                alpha: p[1],
                s: p[2],
                beta: p[3],
            })
        })
    }
}

/// The spend models of a `spend_model` argument.
pub(crate) fn spend_models(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
) -> Result<Models<GammaGamma>> {
    read_models(function, arg, value, &GAMMA_GAMMA, |p| GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2],
    })
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
    let score = |range: Range<usize>| -> Result<Vec<Option<f64>>> {
        let mut scratch = S::default();
        range
            .map(|row| {
                if columns.iter().any(|c| c.is_null(row)) {
                    return Ok(None);
                }
                let values = std::array::from_fn(|i| columns[i].value(row));
                match kernel(&mut scratch, row, values)? {
                    Some(score) if !score.is_finite() => {
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
                    score => Ok(score),
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
    let result = Float64Array::from(out);
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(Arc::new(result)))
    }
}

/// Scores customer histories (`frequency`, `recency`, `t`: the first three
/// arguments) with the purchase model of the fourth, as `score` says:
/// `p_alive` and `churn_prob`.
pub(crate) fn score_histories(
    function: &str,
    args: &ScalarFunctionArgs,
    score: impl Fn(&PurchaseModel, f64, f64, f64) -> Result<f64, String> + Sync,
) -> Result<ColumnarValue> {
    let a = &args.args;
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
/// mean spend that is finite and above 0.
pub(crate) fn check_spend(function: &str, x: f64, m: f64) -> Result<()> {
    check_whole(function, "frequency", x)?;
    if x > 0.0 && (!m.is_finite() || m <= 0.0) {
        return exec_err!(
            "{function}: argument monetary_value must be a finite number > 0 for a repeat buyer, got {} with frequency {}",
            Num(m),
            Num(x)
        );
    }
    Ok(())
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
