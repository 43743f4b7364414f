//! What the fit aggregates share: an accumulator of the distinct rows of
//! their inputs with counts (customers sharing a history), so state and fit
//! time grow with distinct histories, not customers; states merge across
//! partitions by adding counts. The optional trailing `penalizer` argument
//! must be one constant, and travels in the state.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, StringArray,
    StructArray, UInt64Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion_common::{HashMap, Result, ScalarValue, exec_err, internal_err};
use datafusion_expr::Accumulator;
use datafusion_expr::function::StateFieldsArgs;

use crate::common::{check_arity, coerce_float};
use crate::math::Num;
use crate::math::optimize::Fitted;

/// A fit aggregate's inputs: `K` numeric columns, then `penalizer`.
pub(crate) struct FitInputs<const K: usize> {
    pub function: &'static str,
    /// The argument names, `penalizer` last.
    pub params: &'static [&'static str],
}

impl<const K: usize> FitInputs<K> {
    /// The argument types after coercion (all DOUBLE), or an error naming the
    /// argument.
    pub fn coerce(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.function, self.params, 1, arg_types)?;
        self.params
            .iter()
            .zip(arg_types)
            .map(|(param, data_type)| coerce_float(self.function, param, data_type))
            .collect()
    }

    pub fn state_fields(&self, args: &StateFieldsArgs) -> Vec<FieldRef> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, false)));
        let mut fields: Vec<FieldRef> = self.params[..K]
            .iter()
            .map(|p| {
                Arc::new(Field::new(
                    format!("{}[{p}]", args.name),
                    list.clone(),
                    true,
                ))
            })
            .collect();
        fields.push(Arc::new(Field::new(
            format!("{}[count]", args.name),
            DataType::List(Arc::new(Field::new_list_field(DataType::UInt64, false))),
            true,
        )));
        fields.push(Arc::new(Field::new(
            format!("{}[penalizer]", args.name),
            DataType::Float64,
            true,
        )));
        fields
    }
}

/// Checks one row of a fit's inputs: `Ok(true)` to count it, `Ok(false)` to
/// leave it out, or an error naming the argument and the value.
pub(crate) type RowCheck<const K: usize> = fn(&[f64; K]) -> Result<bool>;

/// Fits a model on distinct rows with their counts (at least one) and the
/// penalizer; `Ok(None)` when the rows cannot identify it and NULL is the
/// documented result.
pub(crate) type FitRows<const K: usize> = fn(Vec<([f64; K], f64)>, f64) -> Result<Option<Fitted>>;

#[derive(Debug)]
pub(crate) struct PatternAccumulator<const K: usize> {
    function: &'static str,
    counts: HashMap<[u64; K], u64>,
    penalizer: Option<f64>,
    check: RowCheck<K>,
    fit: FitRows<K>,
    output: Fields,
}

impl<const K: usize> PatternAccumulator<K> {
    pub fn new(
        function: &'static str,
        check: RowCheck<K>,
        fit: FitRows<K>,
        output: Fields,
    ) -> Self {
        Self {
            function,
            counts: HashMap::default(),
            penalizer: None,
            check,
            fit,
            output,
        }
    }

    fn set_penalizer(&mut self, value: f64) -> Result<()> {
        let function = self.function;
        if !value.is_finite() || value < 0.0 {
            return exec_err!(
                "{function}: argument penalizer must be a finite number >= 0, got {}",
                Num(value)
            );
        }
        match self.penalizer {
            Some(p) if p != value => exec_err!(
                "{function}: argument penalizer must be one constant, got {} and {}",
                Num(p),
                Num(value)
            ),
            _ => {
                self.penalizer = Some(value);
                Ok(())
            }
        }
    }

    fn add(&mut self, row: [f64; K], count: u64) {
        // +0.0 turns −0.0 into 0.0, so both count as one history.
        *self
            .counts
            .entry(row.map(|v| (v + 0.0).to_bits()))
            .or_default() += count;
    }
}

impl<const K: usize> Accumulator for PatternAccumulator<K> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let columns: Vec<&Float64Array> = values
            .iter()
            .map(|v| v.as_primitive::<Float64Type>())
            .collect();
        if let Some(penalizer) = columns.get(K) {
            if penalizer.null_count() > 0 {
                return exec_err!("{}: argument penalizer must not be NULL", self.function);
            }
            let values = penalizer.values();
            if let Some(first) = values.first() {
                self.set_penalizer(*first)?;
                if let Some(other) = values.iter().find(|v| *v != first) {
                    self.set_penalizer(*other)?;
                }
            }
        } else {
            self.penalizer.get_or_insert(0.0);
        }
        for i in 0..columns[0].len() {
            if columns[..K].iter().any(|c| c.is_null(i)) {
                continue;
            }
            let row: [f64; K] = std::array::from_fn(|k| columns[k].value(i));
            if (self.check)(&row)? {
                self.add(row, 1);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<_> = states[..K].iter().map(|s| s.as_list::<i32>()).collect();
        let counts = states[K].as_list::<i32>();
        let penalizers = states[K + 1].as_primitive::<Float64Type>();
        for state in 0..counts.len() {
            if penalizers.is_valid(state) {
                self.set_penalizer(penalizers.value(state))?;
            }
            if counts.is_null(state) {
                continue;
            }
            let columns: Vec<ArrayRef> = lists.iter().map(|l| l.value(state)).collect();
            let columns: Vec<&Float64Array> = columns
                .iter()
                .map(|c| c.as_primitive::<Float64Type>())
                .collect();
            let state_counts = counts.value(state);
            for (i, count) in state_counts
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .enumerate()
            {
                self.add(std::array::from_fn(|k| columns[k].value(i)), *count);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut state: Vec<ScalarValue> = (0..K)
            .map(|k| {
                let values: Float64Array = self
                    .counts
                    .keys()
                    .map(|key| f64::from_bits(key[k]))
                    .collect();
                one_list(Arc::new(values))
            })
            .collect();
        let counts: UInt64Array = self.counts.values().copied().collect();
        state.push(one_list(Arc::new(counts)));
        state.push(ScalarValue::Float64(self.penalizer));
        Ok(state)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let null = || ScalarValue::try_from(DataType::Struct(self.output.clone()));
        if self.counts.is_empty() {
            return null();
        }
        // Sorted, so that the fit sums in one order whatever the hashing.
        let mut rows: Vec<([f64; K], f64)> = self
            .counts
            .iter()
            .map(|(key, count)| (key.map(f64::from_bits), *count as f64))
            .collect();
        rows.sort_by(|a, b| {
            a.0.iter()
                .zip(&b.0)
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let customers: u64 = self.counts.values().sum();
        match (self.fit)(rows, self.penalizer.unwrap_or(0.0))? {
            None => null(),
            Some(fitted) => fit_struct(&self.output, &fitted, customers),
        }
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.counts.capacity() * (size_of::<[u64; K]>() + size_of::<u64>() + 1)
    }
}

/// The fields every fit returns after its parameters.
pub(crate) fn output_fields(params: &[&str]) -> Fields {
    let mut fields: Vec<Field> = params
        .iter()
        .map(|p| Field::new(*p, DataType::Float64, true))
        .collect();
    fields.extend([
        Field::new("log_likelihood", DataType::Float64, true),
        Field::new("customers", DataType::Int64, true),
        Field::new("converged", DataType::Boolean, true),
        Field::new("iterations", DataType::Int64, true),
        Field::new("status", DataType::Utf8, true),
    ]);
    fields.into()
}

/// A list scalar holding `values`.
fn one_list(values: ArrayRef) -> ScalarValue {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), false));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(field, offsets, values, None)))
}

fn fit_struct(fields: &Fields, fitted: &Fitted, customers: u64) -> Result<ScalarValue> {
    let mut arrays: Vec<ArrayRef> = fitted
        .params
        .iter()
        .map(|p| Arc::new(Float64Array::from(vec![*p])) as ArrayRef)
        .collect();
    arrays.extend([
        Arc::new(Float64Array::from(vec![fitted.log_likelihood])) as ArrayRef,
        Arc::new(Int64Array::from(vec![customers as i64])),
        Arc::new(BooleanArray::from(vec![fitted.converged])),
        Arc::new(Int64Array::from(vec![fitted.iterations as i64])),
        Arc::new(StringArray::from(vec![fitted.status.as_str()])),
    ]);
    if arrays.len() != fields.len() {
        return internal_err!(
            "a fit returned {} values for {} fields",
            arrays.len(),
            fields.len()
        );
    }
    ScalarValue::try_from_array(&StructArray::try_new(fields.clone(), arrays, None)?, 0)
}
