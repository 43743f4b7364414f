//! `\chart`: the last result drawn in the terminal. A label and a number
//! per row become horizontal bars (segment sizes, a retention curve); one
//! numeric column becomes a histogram (a CLV distribution).

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use unicode_width::UnicodeWidthStr;

use clvsql_udfs::display::bar::draw;

use crate::table::{Style, display_name, truncate};

/// Rows drawn as bars at most; a longer result is cut with a note.
const MAX_BARS: usize = 100;
/// The widest label column.
const MAX_LABEL: usize = 30;
/// Histogram bins at most.
const MAX_BINS: usize = 100;
/// The longest bar drawn, however wide the terminal.
const MAX_BAR: usize = 200;

fn error(message: String) -> DataFusionError {
    DataFusionError::Plan(message)
}

/// What `\chart ARGS` draws of `schema`/`batches`, `width` characters wide.
pub fn chart(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    args: &str,
    style: &Style,
    width: usize,
) -> Result<String> {
    let numeric: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).data_type().is_numeric())
        .collect();
    let Some(&first_number) = numeric.first() else {
        return Err(error(
            "\\chart needs a numeric column, and the last result has none".to_string(),
        ));
    };
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        [] if numeric.len() == 1 && schema.fields().len() == 1 => {
            histogram(schema, batches, first_number, None, style, width)
        }
        [] => {
            // The label: the first column that is not a number, else the
            // first column (a period, a score) with the next number as value.
            let label = (0..schema.fields().len())
                .find(|i| !numeric.contains(i))
                .unwrap_or(0);
            let value = numeric
                .iter()
                .copied()
                .find(|&i| i != label)
                .ok_or_else(|| error("\\chart bars need a second, numeric column".to_string()))?;
            bars(schema, batches, label, value, style, width)
        }
        ["histogram" | "hist", rest @ ..] => {
            let bins = match rest {
                [] => None,
                [n] => Some(
                    n.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_BINS).contains(n))
                        .ok_or_else(|| {
                            error(format!(
                                "\\chart histogram takes 1 to {MAX_BINS} bins, got '{n}'"
                            ))
                        })?,
                ),
                _ => return Err(error(format!("\\chart: cannot read '{args}'"))),
            };
            histogram(schema, batches, first_number, bins, style, width)
        }
        _ => Err(error(format!(
            "\\chart takes nothing (bars or a histogram, by the result's columns) or 'histogram [BINS]', got '{args}'"
        ))),
    }
}

/// The values of column `index` as floats (NULL as `None`).
fn numbers(batches: &[RecordBatch], index: usize) -> Result<Vec<Option<f64>>> {
    let mut values = vec![];
    for batch in batches {
        let column = cast(batch.column(index), &DataType::Float64)?;
        values.extend(column.as_primitive::<Float64Type>().iter());
    }
    Ok(values)
}

/// One line per row: label, bar, value.
fn draw_lines(rows: &[(String, Option<f64>)], style: &Style, width: usize) -> Result<String> {
    let finite = || rows.iter().filter_map(|(_, v)| v.filter(|v| v.is_finite()));
    let lo = finite().fold(0.0_f64, f64::min);
    let hi = finite().fold(0.0_f64, f64::max);
    let labels: Vec<String> = rows.iter().map(|(l, _)| truncate(l, MAX_LABEL)).collect();
    let values: Vec<String> = rows
        .iter()
        .map(|(_, v)| match v {
            Some(v) => crate::table::float(*v, style.digits, style.thousands),
            None => style.null.clone(),
        })
        .collect();
    let label_width = labels.iter().map(|l| l.width()).max().unwrap_or(0);
    let value_width = values.iter().map(|v| v.width()).max().unwrap_or(0);
    let bar_width = width
        .saturating_sub(label_width + value_width + 4)
        .clamp(10, MAX_BAR);
    let mut out = String::new();
    for ((label, value), (_, number)) in labels.iter().zip(&values).zip(rows) {
        let bar = match number {
            Some(v) if hi > lo => draw(*v, lo, hi, bar_width as i64)?,
            _ => " ".repeat(bar_width),
        };
        let pad = " ".repeat(label_width - label.width());
        let value_pad = " ".repeat(value_width - value.width());
        out.push_str(&format!("{label}{pad} │{bar} {value_pad}{value}\n"));
    }
    if lo < 0.0 {
        out.push_str(&format!(
            "(bars start at the smallest value, {})\n",
            crate::table::float(lo, style.digits, style.thousands)
        ));
    }
    Ok(out)
}

fn bars(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    label: usize,
    value: usize,
    style: &Style,
    width: usize,
) -> Result<String> {
    let values = numbers(batches, value)?;
    let mut labels = vec![];
    for batch in batches {
        let column = batch.column(label);
        for row in 0..column.len() {
            labels.push(style.value(column, row)?);
        }
    }
    let shown = labels.len().min(MAX_BARS);
    let rows: Vec<(String, Option<f64>)> = labels.into_iter().zip(values).take(shown).collect();
    let mut out = format!(
        "{} by {}\n",
        display_name(schema.field(value).name()),
        display_name(schema.field(label).name())
    );
    out.push_str(&draw_lines(&rows, style, width)?);
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    if total > shown {
        out.push_str(&format!("(first {shown} of {total} rows)\n"));
    }
    Ok(out)
}

fn histogram(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    column: usize,
    bins: Option<usize>,
    style: &Style,
    width: usize,
) -> Result<String> {
    let all = numbers(batches, column)?;
    let values: Vec<f64> = all
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let name = display_name(schema.field(column).name());
    if values.is_empty() {
        return Err(error(format!(
            "\\chart: {name} has no finite values to draw"
        )));
    }
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !(hi - lo).is_finite() {
        return Err(error(format!(
            "\\chart: {name} spans from {} to {}, more than a float can hold; filter or scale it first",
            crate::table::float(lo, 6, false),
            crate::table::float(hi, 6, false)
        )));
    }
    // Sturges' rule, as numpy's and R's default.
    let bins = if hi > lo {
        bins.unwrap_or_else(|| ((values.len() as f64).log2().ceil() as usize + 1).min(MAX_BINS))
    } else {
        1
    };
    let step = (hi - lo) / bins as f64;
    // Enough digits that neighbouring edges differ.
    let digits = if step > 0.0 {
        let span = lo.abs().max(hi.abs()) / step;
        (span.log10().ceil() as usize + 2).clamp(4, 17)
    } else {
        4
    };
    // The edges as labelled (rounded to those digits), so that a value
    // lands in the bin its label says.
    let edges: Vec<f64> = (0..=bins)
        .map(|i| {
            let exact = if i == bins { hi } else { lo + step * i as f64 };
            crate::table::float(exact, digits, false)
                .parse()
                .unwrap_or(exact)
        })
        .collect();
    let mut counts = vec![0usize; bins];
    for &v in &values {
        // The last bin is closed: it holds the largest value.
        let bin = edges[1..bins].partition_point(|&edge| edge <= v);
        counts[bin] += 1;
    }
    let edge = |i: usize| crate::table::float(edges[i], digits, style.thousands);
    let rows: Vec<(String, Option<f64>)> = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let close = if i + 1 == bins { "]" } else { ")" };
            (
                format!("[{}, {}{close}", edge(i), edge(i + 1)),
                Some(count as f64),
            )
        })
        .collect();
    let mut out = format!("{name}: {} values in {bins} bins\n", values.len());
    out.push_str(&draw_lines(&rows, style, width)?);
    let left_out = all.len() - values.len();
    if left_out > 0 {
        out.push_str(&format!(
            "({left_out} NULL or non-finite values left out)\n"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};

    #[test]
    fn bars_for_labels_and_a_histogram_for_one_column() {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "segment",
                Arc::new(StringArray::from(vec!["Champions", "Lost"])) as ArrayRef,
            ),
            ("n", Arc::new(Int64Array::from(vec![8, 4])) as ArrayRef),
        ])
        .unwrap();
        let style = Style::default();
        let text = chart(&batch.schema(), &[batch], "", &style, 30).unwrap();
        assert_eq!(
            text,
            "n by segment\nChampions │████████████████ 8\nLost      │████████         4\n"
        );
        let values: Vec<Option<f64>> = (0..100).map(|i| Some(i as f64)).chain([None]).collect();
        let batch = RecordBatch::try_from_iter(vec![(
            "clv",
            Arc::new(Float64Array::from(values)) as ArrayRef,
        )])
        .unwrap();
        let text = chart(
            &batch.schema(),
            std::slice::from_ref(&batch),
            "",
            &style,
            40,
        )
        .unwrap();
        assert!(
            text.starts_with("clv: 100 values in 8 bins\n[0, 12.38) "),
            "{text}"
        );
        assert!(text.contains("[86.62, 99] "), "{text}");
        assert!(
            text.ends_with("(1 NULL or non-finite values left out)\n"),
            "{text}"
        );
        let text = chart(
            &batch.schema(),
            std::slice::from_ref(&batch),
            "histogram 2",
            &style,
            40,
        )
        .unwrap();
        assert!(text.contains("[0, 49.5) "), "{text}");
        let error = chart(&batch.schema(), &[batch], "pie", &style, 40).unwrap_err();
        assert!(
            error.to_string().contains("\\chart takes nothing"),
            "{error}"
        );
        let close: Vec<Option<f64>> = (0..4).map(|i| Some(100.0 + f64::from(i) / 1e5)).collect();
        let batch = RecordBatch::try_from_iter(vec![(
            "x",
            Arc::new(Float64Array::from(close)) as ArrayRef,
        )])
        .unwrap();
        let text = chart(&batch.schema(), &[batch], "histogram 4", &style, 60).unwrap();
        assert!(text.contains("[100.0000075, 100.000015)"), "{text}");
        let wide = vec![Some(1e308), Some(-1e308)];
        let batch =
            RecordBatch::try_from_iter(vec![("x", Arc::new(Float64Array::from(wide)) as ArrayRef)])
                .unwrap();
        let error = chart(&batch.schema(), &[batch], "", &style, 60).unwrap_err();
        assert!(
            error.to_string().contains("more than a float can hold"),
            "{error}"
        );
    }
}
