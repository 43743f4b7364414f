//! Printing query results as a table, CSV, JSON or NDJSON.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, PrimitiveArray, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Float32Type, Float64Type, Schema, SchemaRef,
};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::writer::{Encoder, EncoderFactory, EncoderOptions, NullableEncoder};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::{csv, json};
use datafusion::error::Result;

pub use crate::table::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        Format::from_str(name, true).ok()
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
        }
    }
}

/// When the table format shows one field a line (`\x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expanded {
    Off,
    On,
    /// When the table would not fit the terminal's width.
    Auto,
}

impl Expanded {
    pub fn parse(name: &str) -> Option<Expanded> {
        match name.to_ascii_lowercase().as_str() {
            "off" => Some(Expanded::Off),
            "on" => Some(Expanded::On),
            "auto" => Some(Expanded::Auto),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Expanded::Off => "off",
            Expanded::On => "on",
            Expanded::Auto => "auto",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// No row counts or timings.
    pub quiet: bool,
    /// Rows the table format shows; 0 shows all.
    pub maxrows: usize,
    /// Print the elapsed time of each statement.
    pub timing: bool,
    /// How the table format shows values.
    pub style: Style,
    pub expanded: Expanded,
    /// The width tables fit in; 0 is the terminal's (no limit when the
    /// output is not a terminal).
    pub columns: usize,
}

impl PrintOptions {
    pub fn new(format: Format, quiet: bool, maxrows: usize) -> Self {
        Self {
            format,
            quiet,
            maxrows,
            timing: false,
            style: Style::default(),
            expanded: Expanded::Off,
            columns: 0,
        }
    }

    /// The width tables fit in, if any.
    pub fn width(&self) -> Option<usize> {
        if self.columns > 0 {
            return Some(self.columns);
        }
        if !std::io::stdout().is_terminal() {
            return None;
        }
        // A terminal that does not know its size (a pty nobody sized) falls
        // back to COLUMNS, then to 80.
        let known = terminal_size::terminal_size()
            .map(|(width, _)| usize::from(width.0))
            .filter(|&width| width > 0);
        known.or_else(|| {
            Some(
                std::env::var("COLUMNS")
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .filter(|&c: &usize| c > 0)
                    .unwrap_or(80),
            )
        })
    }

    /// Writes `batches` (all of one result) to `out` in the chosen format.
    pub fn print(
        &self,
        out: &mut impl Write,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        match self.format {
            Format::Table => {
                let shown = if self.maxrows == 0 {
                    rows
                } else {
                    rows.min(self.maxrows)
                };
                let limited = take_rows(batches, shown);
                if !schema.fields().is_empty() {
                    let width = self.width();
                    let text = match self.expanded {
                        Expanded::On => self.style.expanded(schema, &limited, 0, width)?,
                        Expanded::Off => self.style.table(schema, &limited, width)?.0,
                        Expanded::Auto => match self.style.table(schema, &limited, width)? {
                            (_, true) => self.style.expanded(schema, &limited, 0, width)?,
                            (table, false) => table,
                        },
                    };
                    write!(out, "{text}")?;
                }
                if !self.quiet {
                    if shown < rows {
                        writeln!(
                            out,
                            "{rows} row(s) fetched. (First {shown} displayed; use --maxrows or \\pset maxrows to see more)"
                        )?;
                    } else {
                        writeln!(out, "{rows} row(s) fetched.")?;
                    }
                }
            }
            Format::Csv => {
                let mut writer = csv::WriterBuilder::new().with_header(true).build(&mut *out);
                if batches.is_empty() {
                    writer.write(&nested_as_text(&RecordBatch::new_empty(schema.clone()))?)?;
                }
                for batch in batches {
                    writer.write(&nested_as_text(batch)?)?;
                }
            }
            Format::Json => {
                let mut writer = json_writer().build::<_, json::writer::JsonArray>(&mut *out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
                if rows == 0 {
                    write!(out, "[]")?;
                }
                writeln!(out)?;
            }
            Format::Ndjson => {
                let mut writer = json_writer().build::<_, json::writer::LineDelimited>(&mut *out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
        }
        Ok(())
    }
}

/// JSON writers where SQL NULL is `null` (written, not left out) and the
/// floats JSON has no number for are the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"`, as JavaScript names them, so the two stay apart.
fn json_writer() -> json::WriterBuilder {
    json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .with_encoder_factory(Arc::new(NonFiniteAsText))
}

#[derive(Debug)]
struct NonFiniteAsText;

impl EncoderFactory for NonFiniteAsText {
    fn make_default_encoder<'a>(
        &self,
        _field: &'a FieldRef,
        array: &'a dyn Array,
        _options: &'a EncoderOptions,
    ) -> std::result::Result<Option<NullableEncoder<'a>>, ArrowError> {
        let encoder: Box<dyn Encoder + 'a> = match array.data_type() {
            DataType::Float64 => Box::new(FloatEncoder(array.as_primitive::<Float64Type>())),
            DataType::Float32 => Box::new(FloatEncoder(array.as_primitive::<Float32Type>())),
            _ => return Ok(None),
        };
        Ok(Some(NullableEncoder::new(encoder, array.logical_nulls())))
    }
}

struct FloatEncoder<'a, T: ArrowPrimitiveType>(&'a PrimitiveArray<T>);

impl<T: ArrowPrimitiveType> Encoder for FloatEncoder<'_, T>
where
    T::Native: Into<f64>,
{
    fn encode(&mut self, idx: usize, out: &mut Vec<u8>) {
        let value: f64 = self.0.value(idx).into();
        let mut buffer = ryu::Buffer::new();
        let text = if value.is_nan() {
            "\"NaN\""
        } else if value == f64::INFINITY {
            "\"Infinity\""
        } else if value == f64::NEG_INFINITY {
            "\"-Infinity\""
        } else {
            // The shortest text that reads back as the same number.
            buffer.format_finite(value)
        };
        out.extend_from_slice(text.as_bytes());
    }
}

/// CSV has no nested values: structs, lists and maps become their text, as
/// the table format shows them (`{frequency: 2, recency: 30.0, ...}`).
fn nested_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| f.data_type().is_nested())
    {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default();
    let mut fields = vec![];
    let mut columns: Vec<ArrayRef> = vec![];
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if field.data_type().is_nested() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let text: StringArray = (0..column.len())
                .map(|i| column.is_valid(i).then(|| formatter.value(i).to_string()))
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(text));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}

/// The first `n` rows of `batches`.
fn take_rows(batches: &[RecordBatch], mut n: usize) -> Vec<RecordBatch> {
    let mut taken = vec![];
    for batch in batches {
        if n == 0 {
            break;
        }
        let rows = batch.num_rows().min(n);
        taken.push(batch.slice(0, rows));
        n -= rows;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Int64Array, StructArray};

    fn result() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(Int64Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        (schema, vec![batch])
    }

    fn printed(options: &PrintOptions) -> String {
        let (schema, batches) = result();
        let mut out = vec![];
        options.print(&mut out, &schema, &batches).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn options(format: Format) -> PrintOptions {
        PrintOptions::new(format, false, 2)
    }

    #[test]
    fn formats() {
        assert_eq!(printed(&options(Format::Csv)), "n\n1\n2\n3\n");
        assert_eq!(
            printed(&options(Format::Json)),
            "[{\"n\":1},{\"n\":2},{\"n\":3}]\n"
        );
        assert_eq!(
            printed(&options(Format::Ndjson)),
            "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
        );
        let table = printed(&options(Format::Table));
        assert!(
            table.contains("| 2 |") && !table.contains("| 3 |"),
            "{table}"
        );
        assert!(
            table.contains("3 row(s) fetched. (First 2 displayed"),
            "{table}"
        );
    }

    #[test]
    fn csv_prints_nested_values_as_text() {
        let scores = StructArray::from(vec![(
            Arc::new(Field::new("r", DataType::Int64, false)),
            Arc::new(Int64Array::from(vec![5])) as ArrayRef,
        )]);
        let batch = RecordBatch::try_from_iter(vec![("s", Arc::new(scores) as ArrayRef)]).unwrap();
        let mut out = vec![];
        options(Format::Csv)
            .print(&mut out, &batch.schema(), &[batch])
            .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "s\n{r: 5}\n");
    }
}
