//! Results as people read them in a terminal: the table and expanded
//! formats, with floats to a few significant digits, NULL spelled out,
//! structs unfolded in expanded mode, numbers right-aligned, optional
//! thousands separators, and tables cut to the terminal's width (wide
//! columns end in `…`; columns that cannot fit are named below the table).
//! The csv, json and ndjson formats and `COPY` keep every digit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use datafusion::error::{DataFusionError, Result};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How values become text in the table and expanded formats.
#[derive(Debug, Clone)]
pub struct Style {
    /// Significant digits of floats; 0 shows the shortest text that reads
    /// back as the same number.
    pub digits: usize,
    /// How NULL is shown.
    pub null: String,
    /// Separate thousands with commas.
    pub thousands: bool,
    /// Set to stop formatting a large result (Ctrl-C).
    pub stop: Option<Arc<AtomicBool>>,
}

impl Default for Style {
    fn default() -> Self {
        Self {
            digits: 6,
            null: "NULL".to_string(),
            thousands: false,
            stop: None,
        }
    }
}

/// A float to `digits` significant digits (all of them for 0), in plain
/// notation from 1e-4 to 1e15 and in scientific notation beyond, without
/// trailing zeros: 580138.0 is `580138`, 1/3 is `0.333333`.
pub fn float(value: f64, digits: usize, thousands: bool) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let text = if !(-4..15).contains(&magnitude) {
        let text = if digits == 0 {
            format!("{value:e}")
        } else {
            format!("{:.*e}", digits - 1, value)
        };
        let (mantissa, exponent) = text.split_once('e').expect("scientific notation");
        return format!("{}e{exponent}", trim_zeros(mantissa));
    } else if digits == 0 {
        let mut buffer = ryu::Buffer::new();
        let shortest = buffer.format_finite(value);
        // ryu writes 1e-5 and 1e16 in scientific notation; in range it is plain.
        trim_zeros(shortest).to_string()
    } else {
        let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
        trim_zeros(&format!("{value:.decimals$}")).to_string()
    };
    let text = if text == "-0" { "0".to_string() } else { text };
    if thousands { group(&text) } else { text }
}

/// `1.500` → `1.5`, `2.000` → `2`; text without a point is left alone.
fn trim_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Commas between the thousands of a number's integer part.
fn group(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let split = rest.find(['.', 'e']).unwrap_or(rest.len());
    let (integer, tail) = rest.split_at(split);
    if !integer.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    let mut grouped = String::new();
    for (i, digit) in integer.chars().enumerate() {
        if i > 0 && (integer.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{tail}")
}

/// Text of the values of one column, with what the table needs to know.
struct Column {
    name: String,
    cells: Vec<String>,
    right: bool,
}

impl Style {
    /// The text of `array[row]`: nested values as `{field: value, ...}` and
    /// `[value, ...]` with the same rules inside.
    pub fn value(&self, array: &dyn Array, row: usize) -> Result<String> {
        if array.is_null(row) {
            return Ok(self.null.clone());
        }
        let float = |v: f64| float(v, self.digits, self.thousands);
        Ok(match array.data_type() {
            DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
            DataType::Float32 => {
                let value = array.as_primitive::<Float32Type>().value(row);
                if self.digits == 0 && value.is_finite() && value != 0.0 {
                    // The shortest text of the f32, not of its f64 widening
                    // (0.1, not 0.10000000149011612).
                    let text = ryu::Buffer::new().format_finite(value).to_string();
                    let text = trim_zeros(&text).to_string();
                    if self.thousands { group(&text) } else { text }
                } else {
                    float(value.into())
                }
            }
            DataType::Float16 => float(array.as_primitive::<Float16Type>().value(row).into()),
            DataType::Struct(fields) => {
                let array = array.as_struct();
                let mut parts = vec![];
                for (field, column) in fields.iter().zip(array.columns()) {
                    parts.push(format!("{}: {}", field.name(), self.value(column, row)?));
                }
                format!("{{{}}}", parts.join(", "))
            }
            DataType::List(_) => self.list(&array.as_list::<i32>().value(row))?,
            DataType::LargeList(_) => self.list(&array.as_list::<i64>().value(row))?,
            DataType::FixedSizeList(_, _) => self.list(&array.as_fixed_size_list().value(row))?,
            data_type => {
                let options = FormatOptions::default().with_null(&self.null);
                let text = ArrayFormatter::try_new(array, &options)?
                    .value(row)
                    .to_string();
                if self.thousands && (data_type.is_integer() || data_type.is_decimal()) {
                    group(&text)
                } else {
                    text
                }
            }
        })
    }

    fn list(&self, values: &ArrayRef) -> Result<String> {
        let items = (0..values.len())
            .map(|i| self.value(values, i))
            .collect::<Result<Vec<_>>>()?;
        Ok(format!("[{}]", items.join(", ")))
    }

    /// An error once [`Style::stop`] is set; checked every 1,024 rows.
    fn check_stop(&self, row: usize) -> Result<()> {
        match &self.stop {
            Some(stop) if row.is_multiple_of(1024) && stop.load(Ordering::Relaxed) => Err(
                DataFusionError::Execution(clvsql::cancel::CANCELLED.to_string()),
            ),
            _ => Ok(()),
        }
    }

    fn columns(&self, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<Column>> {
        schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let mut cells = vec![];
                for batch in batches {
                    let array = batch.column(i);
                    for row in 0..array.len() {
                        self.check_stop(row)?;
                        cells.push(one_line(&self.value(array, row)?));
                    }
                }
                Ok(Column {
                    name: one_line(&display_name(field.name())),
                    cells,
                    right: field.data_type().is_numeric(),
                })
            })
            .collect()
    }

    /// `batches` as a table no wider than `width` (when given): the widest
    /// columns are cut to fit, with `…` at the end of cut values; when even
    /// narrow columns do not fit, the last columns are left out and named
    /// in a line below. Returns the text and whether the table was too wide
    /// for every column to show in full.
    pub fn table(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        width: Option<usize>,
    ) -> Result<(String, bool)> {
        let mut columns = self.columns(schema, batches)?;
        let natural: Vec<usize> = columns.iter().map(natural_width).collect();
        let mut hidden = vec![];
        let widths = loop {
            let Some(width) = width else {
                break natural.clone();
            };
            match fit(&natural[..columns.len()], width) {
                Some(widths) => break widths,
                None if columns.len() > 1 => hidden.push(columns.pop().expect("len > 1").name),
                None => break vec![width.saturating_sub(4).max(MIN_COLUMN); 1],
            }
        };
        let cut = !hidden.is_empty() || widths.iter().zip(&natural).any(|(w, n)| w < n);
        let mut out = String::new();
        let rule: String = widths
            .iter()
            .map(|w| format!("+{}", "-".repeat(w + 2)))
            .collect::<String>()
            + "+\n";
        out.push_str(&rule);
        let line = |out: &mut String, cells: Vec<(&str, bool)>| {
            for ((text, right), width) in cells.into_iter().zip(&widths) {
                let text = truncate(text, *width);
                let pad = " ".repeat(width - text.width());
                if right {
                    out.push_str(&format!("| {pad}{text} "));
                } else {
                    out.push_str(&format!("| {text}{pad} "));
                }
            }
            out.push_str("|\n");
        };
        line(
            &mut out,
            columns.iter().map(|c| (c.name.as_str(), false)).collect(),
        );
        out.push_str(&rule);
        let rows = columns.first().map_or(0, |c| c.cells.len());
        for row in 0..rows {
            self.check_stop(row)?;
            line(
                &mut out,
                columns
                    .iter()
                    .map(|c| (c.cells[row].as_str(), c.right))
                    .collect(),
            );
        }
        if rows > 0 {
            out.push_str(&rule);
        }
        if !hidden.is_empty() {
            hidden.reverse();
            let note = format!(
                "{} more column(s): {} (\\x shows every column)",
                hidden.len(),
                hidden.join(", ")
            );
            out.push_str(&truncate(&note, width.unwrap_or(usize::MAX)));
            out.push('\n');
        }
        Ok((out, cut))
    }

    /// `batches` one field a line, each row under a `-[ RECORD n ]-` rule;
    /// structs unfold into a line per field (`model.r`, `model.se.r`).
    /// Values longer than `width` allows are cut with `…`.
    pub fn expanded(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        first: usize,
        width: Option<usize>,
    ) -> Result<String> {
        let mut out = String::new();
        let mut record = first;
        for batch in batches {
            for row in 0..batch.num_rows() {
                self.check_stop(row)?;
                record += 1;
                let mut lines = vec![];
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    self.unfold(&display_name(field.name()), column, row, &mut lines)?;
                }
                let key_width = lines.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
                let header = format!("-[ RECORD {record} ]");
                let rule_width = width.unwrap_or(key_width + 20).min(key_width + 40);
                out.push_str(&header);
                out.push_str(&"-".repeat(rule_width.saturating_sub(header.width())));
                out.push('\n');
                for (key, value) in lines {
                    let room = width.map_or(usize::MAX, |w| w.saturating_sub(key_width + 3));
                    let value = truncate(&one_line(&value), room.max(MIN_COLUMN));
                    let pad = " ".repeat(key_width - key.width());
                    out.push_str(&format!("{key}{pad} | {value}\n"));
                }
            }
        }
        Ok(out)
    }

    fn unfold(
        &self,
        name: &str,
        array: &ArrayRef,
        row: usize,
        lines: &mut Vec<(String, String)>,
    ) -> Result<()> {
        match array.data_type() {
            DataType::Struct(fields) if array.is_valid(row) => {
                for (field, column) in fields.iter().zip(array.as_struct().columns()) {
                    self.unfold(&format!("{name}.{}", field.name()), column, row, lines)?;
                }
            }
            _ => lines.push((name.to_string(), self.value(array, row)?)),
        }
        Ok(())
    }
}

/// The narrowest a column is cut to: one character and `…`, within a
/// header of a few letters.
const MIN_COLUMN: usize = 4;

fn natural_width(column: &Column) -> usize {
    column
        .cells
        .iter()
        .map(|c| c.width())
        .chain([column.name.width()])
        .max()
        .unwrap_or(0)
        .max(1)
}

/// Column widths for a table at most `total` wide: the widest columns are
/// cut to a common width, the narrower ones keep theirs. `None` when the
/// columns do not fit even at [`MIN_COLUMN`].
fn fit(natural: &[usize], total: usize) -> Option<Vec<usize>> {
    // Borders: "| " before each column, " " after, and a final "|".
    let room = total.checked_sub(3 * natural.len() + 1)?;
    if natural.iter().sum::<usize>() <= room {
        return Some(natural.to_vec());
    }
    let narrow = |cap: usize| natural.iter().map(|&w| w.min(cap)).sum::<usize>();
    if narrow(MIN_COLUMN) > room {
        return None;
    }
    let mut cap = MIN_COLUMN;
    while narrow(cap + 1) <= room {
        cap += 1;
    }
    Some(natural.iter().map(|&w| w.min(cap)).collect())
}

/// `text` cut to `width` columns of the terminal, ending in `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut cut = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        cut.push(c);
        used += w;
    }
    cut.push('…');
    cut
}

/// A value on one line of a table: line breaks shown as `↵`, tabs as
/// spaces, and other control characters (which would move the cursor or
/// change colours) as escapes like `\x1B`.
fn one_line(text: &str) -> String {
    // Bidirectional overrides and isolates reorder what follows them.
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push('↵'),
            '\t' => out.push(' '),
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:04X}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The name of a result column as the table shows it: DataFusion names a
/// computed column after its expression with typed literals
/// (`clv_simple(Int64(50),Float64(0.3))`); they read as SQL
/// (`clv_simple(50, 0.3)`). csv, json and ndjson keep DataFusion's names.
pub fn display_name(name: &str) -> String {
    const TYPES: [&str; 15] = [
        "Int8",
        "Int16",
        "Int32",
        "Int64",
        "UInt8",
        "UInt16",
        "UInt32",
        "UInt64",
        "Float16",
        "Float32",
        "Float64",
        "Boolean",
        "Utf8View",
        "LargeUtf8",
        "Utf8",
    ];
    let mut out = String::new();
    let mut rest = name;
    'scan: while let Some(c) = rest.chars().next() {
        // A quoted identifier or string is copied as it is.
        if c == '"' || c == '\'' {
            let end = rest[1..].find(c).map_or(rest.len(), |i| i + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let at_word_start = !out
            .chars()
            .next_back()
            .is_some_and(|p| p.is_alphanumeric() || p == '_');
        if at_word_start {
            for ty in TYPES {
                let Some(after) = rest.strip_prefix(ty).and_then(|r| r.strip_prefix('(')) else {
                    continue;
                };
                let literal = if let Some(quoted) = after.strip_prefix('"') {
                    // The literal ends at a `")` that ends an argument.
                    quoted
                        .match_indices("\")")
                        .map(|(end, _)| end)
                        .find(|&end| {
                            quoted[end + 2..].is_empty()
                                || quoted[end + 2..].starts_with([',', ')'])
                        })
                        .map(|end| (format!("'{}'", quoted[..end].replace('\'', "''")), end + 3))
                } else {
                    after
                        .find(')')
                        .filter(|&end| !after[..end].contains(['(', ',']))
                        .map(|end| (after[..end].to_string(), end + 1))
                };
                if let Some((literal, used)) = literal {
                    out.push_str(&literal);
                    rest = &after[used..];
                    continue 'scan;
                }
            }
        }
        if c == ',' && !rest[1..].starts_with(' ') {
            out.push_str(", ");
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray, StructArray};
    use datafusion::arrow::datatypes::Field;

    #[test]
    fn floats_read_as_numbers() {
        assert_eq!(float(580138.0, 6, false), "580138");
        assert_eq!(float(580138.12, 6, false), "580138");
        assert_eq!(float(1.0 / 3.0, 6, false), "0.333333");
        assert_eq!(float(0.1 + 0.2, 0, false), "0.30000000000000004");
        assert_eq!(float(2.5, 6, false), "2.5");
        assert_eq!(float(-0.0, 6, false), "0");
        assert_eq!(float(1.234567e-7, 6, false), "1.23457e-7");
        assert_eq!(float(1e20, 6, false), "1e20");
        assert_eq!(float(9.9999999, 6, false), "10");
        assert_eq!(float(1234567.891, 6, true), "1,234,568");
        assert_eq!(float(-1234.5, 6, true), "-1,234.5");
        assert_eq!(float(f64::NAN, 6, false), "NaN");
        assert_eq!(float(f64::NEG_INFINITY, 6, false), "-Infinity");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("x\u{202E}y"), "x\\u{202E}y");
        assert_eq!(
            one_line("a\u{1b}[31mb\r\nc\td\u{85}"),
            "a\\x1B[31mb↵c d\\x85"
        );
    }

    #[test]
    fn names_read_as_sql() {
        assert_eq!(
            display_name("clv_simple(Int64(50),Int64(4),Int64(3),Float64(0.3))"),
            "clv_simple(50, 4, 3, 0.3)"
        );
        assert_eq!(
            display_name("rfm_summary(t.ts,t.amount,Utf8(\"2024-01-01\"),Utf8(\"it's\"))"),
            "rfm_summary(t.ts, t.amount, '2024-01-01', 'it''s')"
        );
        assert_eq!(display_name("MyInt64(1)"), "MyInt64(1)");
        assert_eq!(
            display_name("concat(Utf8(\"a\")b\"),Utf8(\"c\"))"),
            "concat('a\")b', 'c')"
        );
        assert_eq!(display_name("\"a,b\""), "\"a,b\"");
        assert_eq!(display_name("x"), "x");
    }

    fn batch() -> (SchemaRef, Vec<RecordBatch>) {
        let model = StructArray::from(vec![
            (
                Arc::new(Field::new("r", DataType::Float64, true)),
                Arc::new(Float64Array::from(vec![0.242593, 1.0])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("model", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("bgnbd"), None])) as ArrayRef,
            ),
        ]);
        let batch = RecordBatch::try_from_iter(vec![
            (
                "n",
                Arc::new(Int64Array::from(vec![Some(1234), None])) as ArrayRef,
            ),
            (
                "label",
                Arc::new(StringArray::from(vec!["a long label here", "b"])) as ArrayRef,
            ),
            ("m", Arc::new(model) as ArrayRef),
        ])
        .unwrap();
        (batch.schema(), vec![batch])
    }

    #[test]
    fn tables_fit_the_width() {
        let (schema, batches) = batch();
        let style = Style::default();
        let (text, cut) = style.table(&schema, &batches, None).unwrap();
        assert!(!cut);
        assert!(
            text.contains("| 1234 | a long label here | {r: 0.242593, model: bgnbd} |"),
            "{text}"
        );
        assert!(
            text.contains("| NULL | b                 | {r: 1, model: NULL}         |"),
            "{text}"
        );
        let (text, cut) = style.table(&schema, &batches, Some(40)).unwrap();
        assert!(cut);
        assert!(text.lines().all(|l| l.width() <= 40), "{text}");
        assert!(text.contains("| a long label… |"), "{text}");
        let (text, _) = style.table(&schema, &batches, Some(20)).unwrap();
        assert!(text.contains("| a long l… |"), "{text}");
        assert!(text.contains("\n1 more column(s): m…\n"), "{text}");
        let (text, _) = style.table(&schema, &batches, None).unwrap();
        assert!(!text.contains("more column"), "{text}");
        let (text, _) = style.table(&schema, &batches, Some(12)).unwrap();
        assert!(text.lines().all(|l| l.width() <= 12), "{text}");
        let thousands = Style {
            thousands: true,
            null: "∅".to_string(),
            ..Style::default()
        };
        let (text, _) = thousands.table(&schema, &batches, None).unwrap();
        assert!(
            text.contains("| 1,234 |") && text.contains("|     ∅ |"),
            "{text}"
        );
    }

    #[test]
    fn expanded_unfolds_structs() {
        let (schema, batches) = batch();
        let text = Style::default()
            .expanded(&schema, &batches, 0, None)
            .unwrap();
        assert!(text.starts_with("-[ RECORD 1 ]"), "{text}");
        assert!(
            text.contains("\nm.r     | 0.242593\nm.model | bgnbd\n"),
            "{text}"
        );
        assert!(text.contains("-[ RECORD 2 ]"), "{text}");
        assert!(text.contains("\nn       | NULL\n"), "{text}");
    }
}
