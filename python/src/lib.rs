//! The native module of the `clvsql` Python package: each of clvsql's SQL
//! functions as an object that datafusion-python's `udf`, `udaf` and `udwf`
//! take through DataFusion's FFI (the `__datafusion_*_udf__` capsule
//! protocol, datafusion-ffi 55.2, as PyPI's `datafusion` 55 was built
//! with), its documentation, and the placement of named arguments, which
//! the FFI does not carry.

mod guard;
mod sql_text;

use std::sync::Arc;

use clvsql_udfs::named_args::{Slot, placement};
use datafusion_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion_ffi::udaf::FFI_AggregateUDF;
use datafusion_ffi::udf::FFI_ScalarUDF;
use datafusion_ffi::udwf::FFI_WindowUDF;
use datafusion_sql::sqlparser::dialect::dialect_from_str;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::guard::{GuardedAggregate, GuardedScalar, GuardedWindow};

/// One of clvsql's SQL functions, for datafusion-python: pass it to
/// `datafusion.udf`, `udaf` or `udwf` by its `kind`.
#[pyclass(frozen, module = "clvsql._clvsql")]
struct Function {
    inner: clvsql_udfs::Function,
}

impl Function {
    fn wrong_kind(&self, wanted: &str) -> PyErr {
        PyTypeError::new_err(format!(
            "{} is a {} function, not a {wanted} one",
            self.inner.name(),
            self.kind()
        ))
    }
}

#[pymethods]
impl Function {
    /// The function's SQL name.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// `"scalar"`, `"aggregate"` or `"window"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.inner {
            clvsql_udfs::Function::Scalar(_) => "scalar",
            clvsql_udfs::Function::Aggregate(_) => "aggregate",
            clvsql_udfs::Function::Window(_) => "window",
        }
    }

    /// The function's reference, as in `docs/functions.md`.
    #[getter]
    fn doc(&self) -> String {
        self.inner
            .documentation()
            .map(clvsql_udfs::docs::markdown)
            .unwrap_or_default()
    }

    /// The section of the reference the function is in.
    #[getter]
    fn section(&self) -> &'static str {
        self.inner
            .documentation()
            .map_or("", |doc| doc.doc_section.label)
    }

    /// The names of the parameters, in order (of the form that takes
    /// columns, where a summary form exists).
    #[getter]
    fn parameters(&self) -> Vec<String> {
        self.inner
            .signature()
            .parameter_names
            .clone()
            .unwrap_or_default()
    }

    fn __datafusion_scalar_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let clvsql_udfs::Function::Scalar(f) = &self.inner else {
            return Err(self.wrong_kind("scalar"));
        };
        let guarded = Arc::new(ScalarUDF::new_from_impl(GuardedScalar(Arc::clone(f))));
        PyCapsule::new_with_value(py, FFI_ScalarUDF::from(guarded), c"datafusion_scalar_udf")
    }

    fn __datafusion_aggregate_udf__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let clvsql_udfs::Function::Aggregate(f) = &self.inner else {
            return Err(self.wrong_kind("aggregate"));
        };
        let guarded = Arc::new(AggregateUDF::new_from_impl(GuardedAggregate(Arc::clone(f))));
        PyCapsule::new_with_value(
            py,
            FFI_AggregateUDF::from(guarded),
            c"datafusion_aggregate_udf",
        )
    }

    fn __datafusion_window_udf__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        let clvsql_udfs::Function::Window(f) = &self.inner else {
            return Err(self.wrong_kind("window"));
        };
        let guarded = Arc::new(WindowUDF::new_from_impl(GuardedWindow(Arc::clone(f))));
        PyCapsule::new_with_value(py, FFI_WindowUDF::from(guarded), c"datafusion_window_udf")
    }

    fn __repr__(&self) -> String {
        format!("<clvsql {} function {}>", self.kind(), self.inner.name())
    }
}

/// Every one of clvsql's functions, in the order of the reference.
#[pyfunction]
fn functions() -> Vec<Function> {
    let mut all = clvsql_udfs::all_functions();
    let order: Vec<String> = clvsql_udfs::docs::documented()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    all.sort_by_key(|f| order.iter().position(|name| name == f.name()));
    all.into_iter().map(|inner| Function { inner }).collect()
}

/// The arguments of the positional call standing for a call of `function`
/// whose arguments are named `names` (`None`: by position): for each, the
/// index of the call's argument or the default of a skipped parameter (a
/// number, as SQL text). `None` when no argument is named.
#[pyfunction]
fn place(function: &str, names: Vec<Option<String>>) -> PyResult<Option<Vec<Placed>>> {
    let names: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
    let slots = placement(function, &names).map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(slots.map(|slots| {
        slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Given(i) => Placed::Given(i),
                Slot::Default(value) => Placed::Default(value),
            })
            .collect()
    }))
}

/// A [`Slot`] for Python: an int, or a default as text.
#[derive(IntoPyObject)]
enum Placed {
    Given(usize),
    Default(&'static str),
}

/// `query` with the named arguments of clvsql's functions placed by
/// position, parsed in `dialect` (DataFusion's `sql_parser.dialect`); the
/// text unchanged when no call names an argument, or when it does not parse
/// (DataFusion then reports the syntax error).
#[pyfunction]
#[pyo3(signature = (query, dialect = "generic"))]
fn positional_sql(query: &str, dialect: &str) -> PyResult<String> {
    let dialect = dialect_from_str(dialect)
        .ok_or_else(|| PyValueError::new_err(format!("unsupported SQL dialect: {dialect}")))?;
    sql_text::positional_sql(query, dialect.as_ref())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

#[pymodule]
#[pyo3(name = "_clvsql")]
fn clvsql_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Function>()?;
    m.add_function(wrap_pyfunction!(functions, m)?)?;
    m.add_function(wrap_pyfunction!(place, m)?)?;
    m.add_function(wrap_pyfunction!(positional_sql, m)?)?;
    Ok(())
}
