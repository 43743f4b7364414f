//! `rfm_score`: recency, frequency and monetary quantile scores (1..bins)
//! within a window partition, ties always scoring alike.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StructArray};
use arrow::compute::cast;
use arrow::compute::kernels::nullif::nullif;
use arrow::compute::kernels::numeric::sub;
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion_common::{Result, exec_err};
use datafusion_expr::{Documentation, PartitionEvaluator, Signature, WindowUDFImpl};
use datafusion_functions_window_common::field::WindowUDFFieldArgs;
use datafusion_functions_window_common::partition::PartitionEvaluatorArgs;
use datafusion_macros::user_doc;

use crate::common::{Listed, check_arity, coerce_float, coerce_integer, lenient, signature};

const NAME: &str = "rfm_score";
const PARAMS: [&str; 4] = ["recency", "frequency", "monetary", "bins"];
/// The summary form: an `rfm_summary` struct in place of the three metrics.
pub(crate) const SUMMARY: [&str; 2] = ["summary", "bins"];
/// The summary fields the summary form reads.
const SUMMARY_FIELDS: [&str; 4] = ["t", "recency", "frequency", "total_spend"];
const DEFAULT_BINS: i64 = 5;
const MAX_BINS: i64 = 10;

#[user_doc(
    doc_section(label = "RFM scoring"),
    description = r#"Window function: scores each row's recency, frequency and monetary value from 1 to `bins` by its quantile within the window partition, and returns the struct `{r, f, m}` (BIGINT fields).

A value's score is `1 + floor(bins × (number of values below it) / (number of non-NULL values))`: the lowest value scores 1, and a group of equal values gets the score of its lowest member, so equal values always get equal scores (unlike `NTILE`) and the result does not depend on row order. For `recency` the count is of values *above* it: pass the time since the last purchase (`t - recency` of `rfm_summary`), and the most recent customers score highest. A NULL value gets a NULL score and is left out of that metric's population; NaN is an error. Use `OVER ()` for the whole table or `OVER (PARTITION BY ...)` to score within groups; an `ORDER BY` in the window does not change the scores.

**Summary form**: `rfm_score(s [, bins])` takes the struct of `rfm_summary` and scores the time since the last purchase (`t - recency`, so R cannot be inverted by passing the summary's `recency`, which runs from the first purchase to the last), the `frequency` and the `total_spend` (all purchases, the first included)."#,
    syntax_example = "rfm_score(recency, frequency, monetary [, bins]) OVER ([PARTITION BY ...]), rfm_score(summary [, bins]) OVER (...)",
    sql_example = r#"```sql
-- Customers 1 and 4 bought most recently (5 days ago) and tie: both score r = 2,
-- as 2 of 4 values lie above them. 80.0 is spent twice: both score m = 1.
> SELECT id, rfm_score(days_since, orders, spend, 3) OVER () AS score
  FROM (VALUES (1, 5, 10, 500.0), (2, 40, 2, 80.0), (3, 90, 1, 20.0), (4, 5, 2, 80.0)) AS t(id, days_since, orders, spend)
  ORDER BY id;
+----+--------------------+
| id | score              |
+----+--------------------+
| 1  | {r: 2, f: 3, m: 3} |
| 2  | {r: 1, f: 1, m: 1} |
| 3  | {r: 1, f: 1, m: 1} |
| 4  | {r: 2, f: 1, m: 1} |
+----+--------------------+
```"#,
    argument(
        name = "recency",
        description = "Time since the last purchase (smaller is better), any numeric type."
    ),
    argument(
        name = "frequency",
        description = "Number of (repeat) purchases, any numeric type."
    ),
    argument(
        name = "monetary",
        description = "Spend measure (e.g. average order value), any numeric type."
    ),
    argument(
        name = "bins",
        description = "Number of score levels, an integer from 2 to 10 (default 5), the same for the whole partition."
    ),
    related_udf(name = "rfm_summary"),
    related_udf(name = "segment_of")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmScoreFunc {
    signature: Signature,
}

impl Default for RfmScoreFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmScoreFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(
                &PARAMS,
                &[&[Listed::Float, Listed::Float, Listed::Float, Listed::Int]],
            ),
        }
    }
}

pub(crate) fn score_fields() -> Fields {
    Fields::from(vec![
        Field::new("r", DataType::Int64, true),
        Field::new("f", DataType::Int64, true),
        Field::new("m", DataType::Int64, true),
    ])
}

/// Whether `data_type` is an `rfm_summary` struct.
fn is_rfm_summary(data_type: &DataType) -> bool {
    matches!(data_type, DataType::Struct(fields) if SUMMARY_FIELDS.iter().all(|name| {
        fields.find(name).is_some_and(|(_, f)| f.data_type().is_numeric())
    }))
}

/// The argument types after coercion, or an error naming the argument.
fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if arg_types.first().is_some_and(is_rfm_summary) {
        check_arity(NAME, &SUMMARY, 1, arg_types)?;
        let mut coerced = vec![arg_types[0].clone()];
        if let Some(bins) = arg_types.get(1) {
            coerced.push(coerce_integer(NAME, SUMMARY[1], bins)?);
        }
        return Ok(coerced);
    }
    check_arity(NAME, &PARAMS, 1, arg_types)?;
    let mut coerced = vec![];
    for (param, data_type) in PARAMS.iter().zip(arg_types).take(3) {
        coerced.push(coerce_float(NAME, param, data_type)?);
    }
    if let Some(bins) = arg_types.get(3) {
        coerced.push(coerce_integer(NAME, PARAMS[3], bins)?);
    }
    Ok(coerced)
}

impl WindowUDFImpl for RfmScoreFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        lenient(arg_types, coerce)
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(RfmScoreEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let arg_types: Vec<DataType> = field_args
            .input_fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        coerce(&arg_types)?;
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Struct(score_fields()),
            false,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[derive(Debug)]
struct RfmScoreEvaluator;

impl PartitionEvaluator for RfmScoreEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        // A summary: the time since the last purchase (t − recency), the
        // frequency and the total spend, then bins.
        let from_summary;
        let values = match values[0].as_struct_opt() {
            Some(summaries) => {
                let field = |name: &str| -> Result<ArrayRef> {
                    let column = summaries.column_by_name(name).ok_or_else(|| {
                        datafusion_common::exec_datafusion_err!("{NAME}: the summary has no {name}")
                    })?;
                    Ok(cast(column, &DataType::Float64)?)
                };
                let since_last = sub(&field("t")?, &field("recency")?)?;
                let mut columns = vec![since_last, field("frequency")?, field("total_spend")?];
                columns.extend(values[1..].iter().cloned());
                // A field is NULL where its struct is.
                if let Some(nulls) = summaries.nulls() {
                    let invalid = BooleanArray::new(!nulls.inner(), None);
                    for column in &mut columns[..3] {
                        *column = nullif(column, &invalid)?;
                    }
                }
                from_summary = columns;
                &from_summary[..]
            }
            None => values,
        };
        let bins = match values.get(3) {
            Some(bins) => constant_bins(bins.as_primitive::<Int64Type>())?,
            None => DEFAULT_BINS,
        };
        let metric = |i: usize| values[i].as_primitive::<Float64Type>();
        // The three scores are independent sorts: one thread each (a window
        // over the whole input runs in one partition, so on one core).
        let [r, f, m] = std::thread::scope(|scope| {
            let r = scope.spawn(|| quantile_scores(PARAMS[0], metric(0), bins, true));
            let f = scope.spawn(|| quantile_scores(PARAMS[1], metric(1), bins, false));
            let m = quantile_scores(PARAMS[2], metric(2), bins, false);
            let join = |h: std::thread::ScopedJoinHandle<'_, Result<Int64Array>>| {
                h.join()
                    .unwrap_or_else(|_| exec_err!("{NAME}: a scoring thread panicked"))
            };
            [join(r), join(f), m]
        });
        let columns: Vec<ArrayRef> = vec![Arc::new(r?), Arc::new(f?), Arc::new(m?)];
        debug_assert!(columns.iter().all(|c| c.len() == num_rows));
        Ok(Arc::new(StructArray::try_new(
            score_fields(),
            columns,
            None,
        )?))
    }
}

fn constant_bins(bins: &Int64Array) -> Result<i64> {
    let mut seen = None;
    for value in bins.iter() {
        let Some(value) = value else {
            return exec_err!("{NAME}: argument bins must not be NULL");
        };
        if !(2..=MAX_BINS).contains(&value) {
            return exec_err!(
                "{NAME}: argument bins must be between 2 and {MAX_BINS}, got {value}"
            );
        }
        match seen {
            Some(s) if s != value => {
                return exec_err!(
                    "{NAME}: argument bins must be the same for the whole partition, got {s} and {value}"
                );
            }
            _ => seen = Some(value),
        }
    }
    Ok(seen.unwrap_or(DEFAULT_BINS))
}

/// Scores `1 + floor(bins × below / n)`, where `below` counts the non-NULL
/// values strictly below (or, `reversed`, strictly above) each value.
fn quantile_scores(
    arg: &str,
    values: &Float64Array,
    bins: i64,
    reversed: bool,
) -> Result<Int64Array> {
    // (value, row) of the non-NULL values, sorted: each run of equal values
    // gets the score of the count below it (above it, reversed), in one pass
    // over the sorted order rather than a binary search per row. Values sort
    // as integers with the order of f64::total_cmp (sign bit flipped, or all
    // bits for negatives), which sorts faster than a float comparison.
    let mut sorted: Vec<(u64, u32)> = Vec::with_capacity(values.len() - values.null_count());
    for (row, value) in values.iter().enumerate() {
        if let Some(v) = value {
            if v.is_nan() {
                return exec_err!("{NAME}: argument {arg} must not be NaN");
            }
            // −0 and 0 are equal values: one key.
            let bits = (v + 0.0).to_bits();
            let key = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            sorted.push((key, row as u32));
        }
    }
    sorted.sort_unstable_by_key(|&(key, _)| key);
    let n = sorted.len();
    let mut scores = vec![0_i64; values.len()];
    let mut start = 0;
    while start < n {
        let value = sorted[start].0;
        let end = start
            + sorted[start..]
                .iter()
                .take_while(|(v, _)| *v == value)
                .count();
        let below = if reversed { n - end } else { start };
        let score = 1 + bins * below as i64 / n as i64;
        for &(_, row) in &sorted[start..end] {
            scores[row as usize] = score;
        }
        start = end;
    }
    Ok(Int64Array::new(scores.into(), values.nulls().cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(values: &[Option<f64>], bins: i64, reversed: bool) -> Vec<Option<i64>> {
        let values = Float64Array::from(values.to_vec());
        quantile_scores("x", &values, bins, reversed)
            .unwrap()
            .iter()
            .collect()
    }

    #[test]
    fn quintiles_of_distinct_values() {
        let values: Vec<Option<f64>> = (1..=10).map(|v| Some(v as f64)).collect();
        let expected: Vec<Option<i64>> = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5].map(Some).to_vec();
        assert_eq!(scores(&values, 5, false), expected);
        let reversed: Vec<Option<i64>> = expected.into_iter().rev().collect();
        assert_eq!(scores(&values, 5, true), reversed);
    }

    #[test]
    fn ties_share_a_score_and_nulls_stay_null() {
        let values = [Some(0.0), Some(0.0), Some(0.0), None, Some(1.0), Some(2.0)];
        assert_eq!(
            scores(&values, 5, false),
            vec![Some(1), Some(1), Some(1), None, Some(4), Some(5)]
        );
        assert_eq!(
            scores(&values, 5, true),
            vec![Some(3), Some(3), Some(3), None, Some(2), Some(1)]
        );
    }

    #[test]
    fn bins_are_checked() {
        let err = constant_bins(&Int64Array::from(vec![11])).unwrap_err();
        assert!(
            err.to_string()
                .contains("rfm_score: argument bins must be between 2 and 10, got 11")
        );
        let err = constant_bins(&Int64Array::from(vec![3, 4])).unwrap_err();
        assert!(err.to_string().contains("same for the whole partition"));
        let err =
            quantile_scores("monetary", &Float64Array::from(vec![f64::NAN]), 5, false).unwrap_err();
        assert!(
            err.to_string()
                .contains("argument monetary must not be NaN")
        );
    }

    #[test]
    fn evaluator_returns_a_struct_per_row() {
        let col = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
        let values = vec![
            col(vec![1.0, 9.0]),
            col(vec![3.0, 1.0]),
            col(vec![5.0, 5.0]),
        ];
        let out = RfmScoreEvaluator.evaluate_all(&values, 2).unwrap();
        let out = out.as_struct();
        let r = out.column(0).as_primitive::<Int64Type>();
        let f = out.column(1).as_primitive::<Int64Type>();
        let m = out.column(2).as_primitive::<Int64Type>();
        assert_eq!((r.value(0), f.value(0), m.value(0)), (3, 3, 1));
        assert_eq!((r.value(1), f.value(1), m.value(1)), (1, 1, 1));
    }
}
