//! `segment_info`: the segments of a scheme, their rules, what each means
//! and the action usually taken for it.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, StringBuilder, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use datafusion_common::{Result, exec_err};
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use super::schemes::{MEANINGS, Scheme};
use crate::common::{Listed, check_arity, coerce_string, evaluate, lenient, signature};

const NAME: &str = "segment_info";
const PARAMS: [&str; 1] = ["scheme"];

#[user_doc(
    doc_section(label = "RFM scoring"),
    description = r#"The segments of a scheme, in the order its rules are tried: a list of structs `{segment, rule, meaning, action}` with the segment's name, its conditions on the R, F and M scores as a scheme writes them, what the segment means and the action usually taken for it (the widely used RFM segment table). `meaning` and `action` are NULL for a custom scheme's segments. `unnest` makes it a table to read or to join to customers' segments. Errors: an unknown scheme name or rules that cannot be read. NULL gives NULL."#,
    syntax_example = "segment_info(scheme)",
    sql_example = r#"```sql
> SELECT s['segment'] AS segment, s['rule'] AS rule
  FROM (SELECT unnest(segment_info('rf')) AS s) LIMIT 3;
+---------------------+--------------+
| segment             | rule         |
+---------------------+--------------+
| Champions           | r 5, f 4-5   |
| Loyal Customers     | r 3-4, f 4-5 |
| Potential Loyalists | r 4-5, f 2-3 |
+---------------------+--------------+
```"#,
    argument(
        name = "scheme",
        description = "'rf', 'rfm', or custom rules as text (as `segment_of` takes)."
    ),
    related_udf(name = "segment_of")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentInfoFunc {
    signature: Signature,
}

impl Default for SegmentInfoFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentInfoFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(&PARAMS, &[&[Listed::Text]]),
        }
    }
}

fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    check_arity(NAME, &PARAMS, 0, arg_types)?;
    Ok(vec![coerce_string(NAME, PARAMS[0], &arg_types[0])?])
}

fn entry_fields() -> Fields {
    ["segment", "rule", "meaning", "action"]
        .into_iter()
        .map(|name| Field::new(name, DataType::Utf8, name != "segment" && name != "rule"))
        .collect()
}

fn list_field() -> Arc<Field> {
    Arc::new(Field::new_list_field(
        DataType::Struct(entry_fields()),
        false,
    ))
}

impl ScalarUDFImpl for SegmentInfoFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        lenient(arg_types, coerce)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        coerce(arg_types)?;
        Ok(DataType::List(list_field()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        evaluate(&args.args, |arrays| {
            Ok(Arc::new(segment_info(&arrays[0])?) as ArrayRef)
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn segment_info(schemes: &ArrayRef) -> Result<ListArray> {
    let schemes = schemes.as_string::<i32>();
    let mut columns: [StringBuilder; 4] = Default::default();
    let mut lengths = vec![];
    for row in 0..schemes.len() {
        let mut length = 0;
        if schemes.is_valid(row) {
            let scheme = Scheme::parse(schemes.value(row))
                .or_else(|e| exec_err!("{NAME}: argument scheme: {e}"))?;
            for (segment, rule) in scheme.rules() {
                let meaning = MEANINGS
                    .iter()
                    .find(|(name, _, _)| *name == segment)
                    .filter(|_| scheme.is_built_in());
                columns[0].append_value(segment);
                columns[1].append_value(rule);
                columns[2].append_option(meaning.map(|(_, meaning, _)| *meaning));
                columns[3].append_option(meaning.map(|(_, _, action)| *action));
                length += 1;
            }
        }
        lengths.push(length);
    }
    let columns: Vec<ArrayRef> = columns
        .iter_mut()
        .map(|c| Arc::new(c.finish()) as ArrayRef)
        .collect();
    let entries = StructArray::try_new(entry_fields(), columns, None)?;
    Ok(ListArray::try_new(
        list_field(),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(entries),
        schemes.nulls().cloned(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    use arrow::array::StringArray;

    #[test]
    fn lists_each_scheme_and_explains_built_in_ones() {
        let schemes: ArrayRef = Arc::new(StringArray::from(vec![
            Some("rf"),
            None,
            Some("Top: r 5; Rest: *"),
        ]));
        let info = segment_info(&schemes).unwrap();
        assert_eq!(info.value_length(0), 10);
        assert!(info.is_null(1));
        let custom = info.value(2);
        let custom = custom.as_struct();
        assert_eq!(custom.column(0).as_string::<i32>().value(1), "Rest");
        assert_eq!(custom.column(1).as_string::<i32>().value(0), "r 5");
        assert!(custom.column(3).is_null(0));
        let rf = info.value(0);
        let rf = rf.as_struct();
        assert_eq!(rf.column(0).as_string::<i32>().value(0), "Champions");
        assert!(
            rf.column(3)
                .as_string::<i32>()
                .value(0)
                .starts_with("Reward")
        );
    }

    #[test]
    fn bad_schemes_are_named() {
        let schemes: ArrayRef = Arc::new(StringArray::from(vec!["nope"]));
        let error = segment_info(&schemes).unwrap_err().strip_backtrace();
        assert!(
            error.contains("segment_info: argument scheme: unknown scheme 'nope'"),
            "{error}"
        );
    }
}
