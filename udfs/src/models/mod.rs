//! The model contract, in one place: each model's name, parameters and the
//! struct its fit returns and its scorers read. A model is SQL data: the
//! struct a fit returns (from a CTE, a cross join or a scalar subquery) or
//! a literal `named_struct(...)`; scorers read it by field name. Its `model`
//! field names the model where fields alone cannot (BG/NBD and MBG/NBD
//! share theirs); a struct without one is the first model its fields fit.
//!
//! Each model's file holds its [`Model`]; fits write the struct with
//! [`output_fields`] and [`fit_struct`], scorers read it with
//! [`read_models`].

pub(crate) mod bgbb;
pub(crate) mod bgnbd;
pub(crate) mod gamma_gamma;
pub(crate) mod mbgnbd;
pub(crate) mod pareto_nbd;
pub(crate) mod purchase;
pub(crate) mod sbg;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, StructArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Float64Type};
use datafusion_common::{Result, ScalarValue, exec_datafusion_err, exec_err, internal_err};
use datafusion_expr::ColumnarValue;

use crate::math::Num;
use crate::math::calendar::PeriodUnit;
use crate::math::optimize::Fitted;

/// A model: what its fit returns and its scorers read, and how a scorer
/// builds `M` (the model's numbers) from the parameters.
#[derive(Debug)]
pub(crate) struct Model<M> {
    /// The value of the struct's `model` field.
    pub id: &'static str,
    /// The name people write.
    pub title: &'static str,
    /// The aggregate that fits it.
    pub fit: &'static str,
    /// Its parameters, in order: the struct's first fields.
    pub params: &'static [&'static str],
    pub build: fn(&[f64]) -> M,
}

/// A struct of one DOUBLE field per parameter of `model`.
fn per_param<M>(model: &Model<M>) -> Fields {
    model
        .params
        .iter()
        .map(|p| Field::new(*p, DataType::Float64, true))
        .collect()
}

/// The smallest struct read as `model`: its parameters and its name, as
/// `SHOW FUNCTIONS` lists a model argument.
pub(crate) fn listed_type<M>(model: &Model<M>) -> DataType {
    let mut fields: Vec<Field> = per_param(model)
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("model", DataType::Utf8, true));
    DataType::Struct(fields.into())
}

/// The type of the `cov` field: per parameter, its covariances with each.
fn covariance_type<M>(model: &Model<M>) -> DataType {
    let row = DataType::Struct(per_param(model));
    DataType::Struct(
        model
            .params
            .iter()
            .map(|p| Field::new(*p, row.clone(), true))
            .collect(),
    )
}

/// The struct a fit returns: the model's parameters, its `model` name and
/// `unit`, the standard errors `se` (one field per parameter) and the
/// covariance matrix `cov` (`cov['r']['alpha']`), and the fit's report.
pub(crate) fn output_fields<M>(model: &Model<M>) -> Fields {
    let mut fields: Vec<Field> = per_param(model)
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend([
        Field::new("model", DataType::Utf8, true),
        Field::new("unit", DataType::Utf8, true),
        Field::new("se", DataType::Struct(per_param(model)), true),
        Field::new("cov", covariance_type(model), true),
        Field::new("log_likelihood", DataType::Float64, true),
        Field::new("aic", DataType::Float64, true),
        Field::new("bic", DataType::Float64, true),
        Field::new("customers", DataType::Int64, true),
        Field::new("skipped", DataType::Int64, true),
        Field::new("converged", DataType::Boolean, true),
        Field::new("iterations", DataType::Int64, true),
        Field::new("status", DataType::Utf8, true),
    ]);
    fields.into()
}

/// The struct of [`output_fields`] for a fit on `customers` rows that left
/// out `skipped`, in the time unit `unit` where the fit knows it. AIC is
/// 2k − 2 ln L and BIC k ln(customers) − 2 ln L for k parameters (ln L
/// without penalty).
pub(crate) fn fit_struct<M>(
    model: &Model<M>,
    fitted: &Fitted,
    (customers, skipped): (u64, u64),
    unit: Option<PeriodUnit>,
) -> Result<ScalarValue> {
    let fields = output_fields(model);
    let one = |value: f64| Arc::new(Float64Array::from(vec![value])) as ArrayRef;
    let mut arrays: Vec<ArrayRef> = fitted.params.iter().map(|p| one(*p)).collect();
    let k = model.params.len();
    let cov = |i: usize, j: usize| fitted.covariance.as_ref().map(|c| c[i][j]);
    let doubles = |values: Vec<Option<f64>>| -> Vec<ArrayRef> {
        values
            .into_iter()
            .map(|v| Arc::new(Float64Array::from(vec![v])) as ArrayRef)
            .collect()
    };
    let se = StructArray::try_new(
        per_param(model),
        doubles((0..k).map(|i| cov(i, i).map(f64::sqrt)).collect()),
        None,
    )?;
    let rows: Vec<ArrayRef> = (0..k)
        .map(|i| {
            let row = StructArray::try_new(
                per_param(model),
                doubles((0..k).map(|j| cov(i, j)).collect()),
                None,
            )?;
            Ok(Arc::new(row) as ArrayRef)
        })
        .collect::<Result<_>>()?;
    let DataType::Struct(cov_fields) = covariance_type(model) else {
        return internal_err!("the covariance of a fit is not a struct");
    };
    let covariance = StructArray::try_new(cov_fields, rows, None)?;
    let k = k as f64;
    let ll = fitted.log_likelihood;
    arrays.extend([
        Arc::new(StringArray::from(vec![model.id])) as ArrayRef,
        Arc::new(StringArray::from(vec![unit.map(|u| u.to_string())])),
        Arc::new(se),
        Arc::new(covariance),
        one(ll),
        one(2.0 * k - 2.0 * ll),
        one(k * (customers as f64).ln() - 2.0 * ll),
        Arc::new(Int64Array::from(vec![customers as i64])),
        Arc::new(Int64Array::from(vec![skipped as i64])),
        Arc::new(BooleanArray::from(vec![fitted.converged])),
        Arc::new(Int64Array::from(vec![fitted.iterations as i64])),
        Arc::new(StringArray::from(vec![fitted.status.as_str()])),
    ]);
    ScalarValue::try_from_array(&StructArray::try_new(fields, arrays, None)?, 0)
}

/// Whether `data_type` is a struct with a numeric (or NULL) field for each
/// of `names`.
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

/// The places in `models` of those whose parameters a struct of
/// `data_type` has, one per set of parameters (the first: BG/NBD before
/// MBG/NBD).
fn fitting<M>(models: &[&Model<M>], data_type: &DataType) -> Vec<usize> {
    let mut found: Vec<usize> = Vec::new();
    for (i, model) in models.iter().enumerate() {
        if has_fields(data_type, model.params)
            && !found.iter().any(|&f| models[f].params == model.params)
        {
            found.push(i);
        }
    }
    found
}

fn has_model_field(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Struct(fields) if fields.find("model").is_some())
}

/// Whether a struct of `data_type` can be read as one of `models` (at
/// planning: the rows' `model` names are checked when read).
pub(crate) fn accepts<M>(models: &[&Model<M>], data_type: &DataType) -> bool {
    match fitting(models, data_type).len() {
        0 => false,
        1 => true,
        _ => has_model_field(data_type),
    }
}

/// What `models` look like, for messages: "a BG/NBD model (a struct with
/// numeric fields r, alpha, a, b, as bgnbd_fit returns) or ...".
pub(crate) fn describe<M>(models: &[&Model<M>]) -> String {
    models
        .iter()
        .map(|m| {
            format!(
                "a {} model (a struct with numeric fields {}, as {} returns)",
                m.title,
                m.params.join(", "),
                m.fit
            )
        })
        .collect::<Vec<_>>()
        .join(" or ")
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

/// Reads the models of argument `arg`: each row is the model its `model`
/// field names, or without one the model its fields fit; parameters are
/// checked to be finite and above 0.
pub(crate) fn read_models<M>(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
    models: &[&'static Model<M>],
) -> Result<Models<M>> {
    read_each(function, arg, value, models, |_, model, params| {
        Ok((model.build)(params))
    })
}

/// A model with its parameters and their covariance, for intervals.
pub(crate) struct Estimated<M: 'static> {
    pub model: &'static Model<M>,
    pub params: Vec<f64>,
    pub covariance: Vec<Vec<f64>>,
}

/// Reads the models of argument `arg` as [`read_models`] does, with the
/// covariance of their parameters (the `cov` field a fit returns); a model
/// without one is an error.
pub(crate) fn read_estimates<M>(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
    models: &[&'static Model<M>],
) -> Result<Models<Estimated<M>>> {
    let array = value.to_array(1)?;
    let covariances = array
        .as_struct_opt()
        .and_then(|s| s.column_by_name("cov"))
        .and_then(|c| c.as_struct_opt().cloned());
    // Each covariance as DOUBLE, cast once.
    let cast_columns: std::cell::RefCell<HashMap<(String, String), ArrayRef>> =
        std::cell::RefCell::default();
    read_each(function, arg, value, models, |row, model, params| {
        let missing = || {
            exec_datafusion_err!(
                "{function}: argument {arg} has no covariance of its parameters (the cov field of a converged fit), which an interval needs"
            )
        };
        let covariances = covariances
            .as_ref()
            .filter(|c| c.is_valid(row))
            .ok_or_else(missing)?;
        let covariance = model
            .params
            .iter()
            .map(|p| {
                let row_struct = covariances.column_by_name(p).ok_or_else(missing)?;
                let row_struct = row_struct.as_struct_opt().ok_or_else(missing)?;
                model
                    .params
                    .iter()
                    .map(|q| {
                        let key = (p.to_string(), q.to_string());
                        let column = match cast_columns.borrow().get(&key) {
                            Some(column) => Arc::clone(column),
                            None => {
                                let column = row_struct.column_by_name(q).ok_or_else(missing)?;
                                cast(column, &DataType::Float64)?
                            }
                        };
                        cast_columns.borrow_mut().insert(key, Arc::clone(&column));
                        let column = column.as_primitive::<Float64Type>();
                        if row_struct.is_null(row)
                            || column.is_null(row)
                            || !column.value(row).is_finite()
                        {
                            return Err(missing());
                        }
                        let value = column.value(row);
                        if p == q && value < 0.0 {
                            return exec_err!(
                                "{function}: argument {arg} has cov['{p}']['{p}'] = {}; a variance must be >= 0",
                                Num(value)
                            );
                        }
                        Ok(value)
                    })
                    .collect::<Result<Vec<f64>>>()
            })
            .collect::<Result<Vec<Vec<f64>>>>()?;
        Ok(Estimated {
            model,
            params: params.to_vec(),
            covariance,
        })
    })
}

/// Reads each row's model and parameters and makes `T` of them with `make`
/// (row, model, parameters).
fn read_each<M, T>(
    function: &str,
    arg: &str,
    value: &ColumnarValue,
    models: &[&'static Model<M>],
    make: impl Fn(usize, &'static Model<M>, &[f64]) -> Result<T>,
) -> Result<Models<T>> {
    let array = value.to_array(1)?;
    let read = match array.as_struct_opt() {
        Some(structs) => read_struct(function, arg, structs, models, make)?,
        None => (0..array.len()).map(|_| None).collect(),
    };
    Ok(match value {
        ColumnarValue::Scalar(_) => Models::One(read.into_iter().next().flatten()),
        ColumnarValue::Array(_) => Models::PerRow(read),
    })
}

fn read_struct<M, T>(
    function: &str,
    arg: &str,
    structs: &StructArray,
    models: &[&'static Model<M>],
    make: impl Fn(usize, &'static Model<M>, &[f64]) -> Result<T>,
) -> Result<Vec<Option<T>>> {
    let ids = structs
        .column_by_name("model")
        .map(|c| cast(c, &DataType::Utf8))
        .transpose()?;
    let ids = ids.as_ref().map(|c| c.as_string::<i32>());
    // The models a struct without a model name fits.
    let unnamed = fitting(models, structs.data_type());
    // Each model's parameters as DOUBLE columns, cast on the model's first
    // row: per row, only a model name comparison and the values' reads (a
    // hash lookup per parameter and row was an eighth of a 5M-customer
    // pipeline).
    let mut columns: Vec<Option<Vec<Float64Array>>> = vec![None; models.len()];
    let mut out = Vec::with_capacity(structs.len());
    let mut params = Vec::new();
    for row in 0..structs.len() {
        if structs.is_null(row) {
            out.push(None);
            continue;
        }
        let model = match ids.filter(|ids| ids.is_valid(row)) {
            Some(ids) => {
                let id = ids.value(row);
                models.iter().position(|m| m.id == id).ok_or_else(|| {
                    let known: Vec<String> = models.iter().map(|m| format!("'{}'", m.id)).collect();
                    exec_datafusion_err!(
                        "{function}: argument {arg} has model = '{id}'; expected {}",
                        known.join(", ")
                    )
                })?
            }
            None => match unnamed.as_slice() {
                [model] => *model,
                // A NULL name where the fields fit several: unknown, NULL.
                [_, _, ..] if ids.is_some() => {
                    out.push(None);
                    continue;
                }
                _ => {
                    return exec_err!(
                        "{function}: argument {arg} must be {}; its fields fit {} models, so it needs a model field naming one",
                        describe(models),
                        unnamed.len()
                    );
                }
            },
        };
        let (model, model_columns) = (models[model], &mut columns[model]);
        if model_columns.is_none() {
            let mut cast_columns = vec![];
            for name in model.params {
                let column = structs.column_by_name(name).ok_or_else(|| {
                    exec_datafusion_err!(
                        "{function}: argument {arg} is a {} model (model = '{}') but has no field {name}",
                        model.title,
                        model.id
                    )
                })?;
                cast_columns.push(cast(column, &DataType::Float64)?.as_primitive().clone());
            }
            *model_columns = Some(cast_columns);
        }
        params.clear();
        let mut null = false;
        for (name, column) in model.params.iter().zip(model_columns.iter().flatten()) {
            if column.is_null(row) {
                null = true;
                break;
            }
            let value = column.value(row);
            if !value.is_finite() || value <= 0.0 {
                return exec_err!(
                    "{function}: argument {arg} has {name} = {}; model parameters must be finite and above 0",
                    Num(value)
                );
            }
            params.push(value);
        }
        out.push(if null {
            None
        } else {
            Some(make(row, model, &params)?)
        });
    }
    Ok(out)
}
