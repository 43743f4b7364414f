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

/// The struct a fit returns: the model's parameters, its `model` name, the
/// standard errors `se` (one field per parameter) and the fit's report.
pub(crate) fn output_fields<M>(model: &Model<M>) -> Fields {
    let params = || -> Vec<Field> {
        model
            .params
            .iter()
            .map(|p| Field::new(*p, DataType::Float64, true))
            .collect()
    };
    let mut fields = params();
    fields.extend([
        Field::new("model", DataType::Utf8, true),
        Field::new("unit", DataType::Utf8, true),
        Field::new("se", DataType::Struct(params().into()), true),
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
    let Some(DataType::Struct(se_fields)) = fields
        .find("se")
        .map(|(_, field)| field.data_type().clone())
    else {
        return internal_err!("a fit's struct has no se");
    };
    let se: Vec<ArrayRef> = (0..model.params.len())
        .map(|i| {
            let value = fitted.standard_errors.as_ref().map(|se| se[i]);
            Arc::new(Float64Array::from(vec![value])) as ArrayRef
        })
        .collect();
    let k = model.params.len() as f64;
    let ll = fitted.log_likelihood;
    arrays.extend([
        Arc::new(StringArray::from(vec![model.id])) as ArrayRef,
        Arc::new(StringArray::from(vec![unit.map(|u| u.to_string())])),
        Arc::new(StructArray::try_new(se_fields, se, None)?),
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

/// The models of `models` whose parameters a struct of `data_type` has,
/// one per set of parameters (the first: BG/NBD before MBG/NBD).
fn fitting<'m, M>(models: &[&'m Model<M>], data_type: &DataType) -> Vec<&'m Model<M>> {
    let mut found: Vec<&Model<M>> = Vec::new();
    for model in models {
        if has_fields(data_type, model.params) && !found.iter().any(|f| f.params == model.params) {
            found.push(model);
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
    models: &[&Model<M>],
) -> Result<Models<M>> {
    let array = match value {
        ColumnarValue::Scalar(scalar) => scalar.to_array_of_size(1)?,
        ColumnarValue::Array(array) => Arc::clone(array),
    };
    let read = match array.as_struct_opt() {
        Some(structs) => read_struct(function, arg, structs, models)?,
        None => (0..array.len()).map(|_| None).collect(),
    };
    Ok(match value {
        ColumnarValue::Scalar(_) => Models::One(read.into_iter().next().flatten()),
        ColumnarValue::Array(_) => Models::PerRow(read),
    })
}

fn read_struct<M>(
    function: &str,
    arg: &str,
    structs: &StructArray,
    models: &[&Model<M>],
) -> Result<Vec<Option<M>>> {
    let ids = structs
        .column_by_name("model")
        .map(|c| cast(c, &DataType::Utf8))
        .transpose()?;
    let ids = ids.as_ref().map(|c| c.as_string::<i32>());
    let unnamed = fitting(models, structs.data_type());
    let mut columns: HashMap<&str, ArrayRef> = HashMap::new();
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
                models.iter().find(|m| m.id == id).ok_or_else(|| {
                    let known: Vec<String> = models.iter().map(|m| format!("'{}'", m.id)).collect();
                    exec_datafusion_err!(
                        "{function}: argument {arg} has model = '{id}'; expected {}",
                        known.join(", ")
                    )
                })?
            }
            None => match unnamed.as_slice() {
                [model] => model,
                _ => {
                    return exec_err!(
                        "{function}: argument {arg} must be {}; its fields fit {} models, so it needs a model field naming one",
                        describe(models),
                        unnamed.len()
                    );
                }
            },
        };
        params.clear();
        let mut null = false;
        for name in model.params {
            if !columns.contains_key(name) {
                let column = structs.column_by_name(name).ok_or_else(|| {
                    exec_datafusion_err!(
                        "{function}: argument {arg} is a {} model (model = '{}') but has no field {name}",
                        model.title,
                        model.id
                    )
                })?;
                columns.insert(name, cast(column, &DataType::Float64)?);
            }
            let column = columns[name].as_primitive::<Float64Type>();
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
        out.push((!null).then(|| (model.build)(&params)));
    }
    Ok(out)
}
