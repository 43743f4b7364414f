//! What the fit aggregates share: an accumulator of the distinct rows of
//! their inputs with counts (customers sharing a history), so state and fit
//! time grow with distinct histories, not customers; states merge across
//! partitions by adding counts. The optional trailing `penalizer` argument
//! must be one constant, and travels in the state, as does the number of
//! rows left out as [`Row::Skip`].

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, UInt64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion_common::{HashMap, Result, ScalarValue, exec_err};
use datafusion_expr::Accumulator;
use datafusion_expr::function::StateFieldsArgs;

use crate::common::{check_arity, coerce_float, one_list};
use crate::math::Num;
use crate::math::calendar::PeriodUnit;
use crate::math::optimize::Fitted;
use crate::models::{Model, fit_struct, output_fields};
use crate::summary::{is_summary, not_a_summary, summary_column, summary_unit};

/// A fit aggregate's inputs: `K` numeric columns, then `penalizer`.
pub(crate) struct FitInputs<const K: usize> {
    pub function: &'static str,
    /// The argument names, `penalizer` last.
    pub params: &'static [&'static str],
    /// The arguments that may also be BOOLEAN (read as 1 and 0).
    pub flags: &'static [&'static str],
}

impl<const K: usize> FitInputs<K> {
    /// The argument types after coercion (all DOUBLE, or a summary struct
    /// in place of the first `K`), or an error naming the argument.
    pub fn coerce(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if let Some(first) = arg_types.first()
            && is_summary(first, &self.params[..K])
        {
            check_arity(self.function, &["summary", "penalizer"], 1, arg_types)?;
            let mut coerced = vec![first.clone()];
            if let Some(penalizer) = arg_types.get(1) {
                coerced.push(coerce_float(self.function, "penalizer", penalizer)?);
            }
            return Ok(coerced);
        }
        if let Some(first @ DataType::Struct(_)) = arg_types.first() {
            return not_a_summary(self.function, &self.params[..K], first);
        }
        check_arity(self.function, self.params, 1, arg_types)?;
        self.params
            .iter()
            .zip(arg_types)
            .map(|(param, data_type)| match data_type {
                DataType::Boolean if self.flags.contains(param) => Ok(DataType::Float64),
                _ => coerce_float(self.function, param, data_type),
            })
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
        fields.push(Arc::new(Field::new(
            format!("{}[skipped]", args.name),
            DataType::UInt64,
            true,
        )));
        fields.push(Arc::new(Field::new(
            format!("{}[unit]", args.name),
            DataType::Utf8,
            true,
        )));
        fields
    }
}

/// What a fit does with one row of its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Row {
    /// Fit on it.
    Fit,
    /// Leave it out: the model is not about it (a one-time buyer's spend).
    Outside,
    /// Leave it out and count it in `skipped`: a possible customer the model
    /// cannot take (a repeat buyer's spend of 0 or less).
    Skip,
}

/// Checks one row of a fit's inputs: what to do with it, or an error naming
/// the argument and the value where the row is no possible customer.
pub(crate) type RowCheck<const K: usize> = fn(&[f64; K]) -> Result<Row>;

/// Fits a model on distinct rows with their counts (at least one) and the
/// penalizer; `Ok(None)` when the rows cannot identify it and NULL is the
/// documented result.
pub(crate) type FitRows<const K: usize> = fn(Vec<([f64; K], f64)>, f64) -> Result<Option<Fitted>>;

#[derive(Debug)]
pub(crate) struct PatternAccumulator<const K: usize, M: 'static> {
    model: &'static Model<M>,
    function: &'static str,
    /// The argument names, for the fields of a summary struct.
    params: &'static [&'static str],
    /// The time unit of the summaries fitted on, where they say.
    unit: Option<PeriodUnit>,
    counts: HashMap<[u64; K], u64>,
    penalizer: Option<f64>,
    skipped: u64,
    check: RowCheck<K>,
    fit: FitRows<K>,
}

impl<const K: usize, M: 'static> PatternAccumulator<K, M> {
    pub fn new(
        model: &'static Model<M>,
        inputs: &FitInputs<K>,
        check: RowCheck<K>,
        fit: FitRows<K>,
    ) -> Self {
        Self {
            model,
            function: model.fit,
            params: inputs.params,
            unit: None,
            counts: HashMap::default(),
            penalizer: None,
            skipped: 0,
            check,
            fit,
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

    fn set_unit(&mut self, unit: Option<PeriodUnit>) -> Result<()> {
        match (self.unit, unit) {
            (Some(seen), Some(unit)) if seen != unit => exec_err!(
                "{}: the summaries have different units, '{seen}' and '{unit}'",
                self.function
            ),
            (None, Some(unit)) => {
                self.unit = Some(unit);
                Ok(())
            }
            _ => Ok(()),
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

impl<const K: usize, M: std::fmt::Debug + Send + Sync + 'static> Accumulator
    for PatternAccumulator<K, M>
{
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        // A summary struct stands for the first K columns.
        let from_summary;
        let values = match values[0].as_struct_opt() {
            Some(summaries) => {
                self.set_unit(summary_unit(self.function, summaries)?)?;
                let mut columns = self.params[..K]
                    .iter()
                    .map(|param| summary_column(self.function, summaries, param))
                    .collect::<Result<Vec<ArrayRef>>>()?;
                columns.extend(values[1..].iter().cloned());
                from_summary = columns;
                &from_summary[..]
            }
            None => values,
        };
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
            match (self.check)(&row)? {
                Row::Fit => self.add(row, 1),
                Row::Outside => {}
                Row::Skip => self.skipped += 1,
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<_> = states[..K].iter().map(|s| s.as_list::<i32>()).collect();
        let counts = states[K].as_list::<i32>();
        let penalizers = states[K + 1].as_primitive::<Float64Type>();
        let skipped = states[K + 2].as_primitive::<UInt64Type>();
        let units = states[K + 3].as_string::<i32>();
        for state in 0..counts.len() {
            if penalizers.is_valid(state) {
                self.set_penalizer(penalizers.value(state))?;
            }
            if skipped.is_valid(state) {
                self.skipped += skipped.value(state);
            }
            if units.is_valid(state) {
                let unit = units.value(state).parse().or_else(|_| {
                    exec_err!(
                        "{}: a state holds unit '{}'",
                        self.function,
                        units.value(state)
                    )
                })?;
                self.set_unit(Some(unit))?;
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
        state.push(ScalarValue::UInt64(Some(self.skipped)));
        state.push(ScalarValue::Utf8(self.unit.map(|u| u.to_string())));
        Ok(state)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let null = || ScalarValue::try_from(DataType::Struct(output_fields(self.model)));
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
            Some(fitted) => fit_struct(self.model, &fitted, (customers, self.skipped), self.unit),
        }
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.counts.capacity() * (size_of::<[u64; K]>() + size_of::<u64>() + 1)
    }
}
