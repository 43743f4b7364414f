//! Printing query results as a table, CSV, JSON or NDJSON.

use std::io::Write;

use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use datafusion::arrow::{csv, json};
use datafusion::error::Result;

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

#[derive(Debug, Clone)]
pub struct PrintOptions {
    pub format: Format,
    /// No row counts or timings.
    pub quiet: bool,
    /// Rows the table format shows; 0 shows all.
    pub maxrows: usize,
    /// Print the elapsed time of each statement.
    pub timing: bool,
}

impl PrintOptions {
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
                    writeln!(
                        out,
                        "{}",
                        pretty_format_batches_with_schema(schema.clone(), &limited)?
                    )?;
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
                    writer.write(&RecordBatch::new_empty(schema.clone()))?;
                }
                for batch in batches {
                    writer.write(batch)?;
                }
            }
            Format::Json => {
                let mut writer = json::ArrayWriter::new(&mut *out);
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
                let mut writer = json::LineDelimitedWriter::new(&mut *out);
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.finish()?;
            }
        }
        Ok(())
    }
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
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

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
        PrintOptions {
            format,
            quiet: false,
            maxrows: 2,
            timing: false,
        }
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
}
