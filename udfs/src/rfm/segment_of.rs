//! `segment_of`: the named customer segment of R, F (and M) scores.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion_common::{Result, exec_err, plan_err};
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use super::schemes::Scheme;
use crate::common::{
    Listed, check_arity, coerce_integer, coerce_string, evaluate, lenient, signature,
};

const NAME: &str = "segment_of";
const PARAMS: [&str; 4] = ["r", "f", "m", "scheme"];
/// The parameters of the form that takes `rfm_score`'s struct.
#[cfg(feature = "sql")]
pub(crate) const SUMMARY: [&str; 2] = ["scores", "scheme"];

#[user_doc(
    doc_section(label = "RFM scoring"),
    description = r#"Names the customer segment of R, F and optionally M scores (1 = worst, 5 = best), or of the struct `rfm_score` returns.

Built-in schemes (scores 1-5; a score outside 1-5 is an error):
- `'rf'` (default): the widely used 10-segment R×F map, each of the 25 cells in exactly one segment: R 5/F 4-5 Champions; R 3-4/F 4-5 Loyal Customers; R 4-5/F 2-3 Potential Loyalists; R 5/F 1 New Customers; R 4/F 1 Promising; R 3/F 3 Need Attention; R 3/F 1-2 About To Sleep; R 1-2/F 5 Can't Lose Them; R 1-2/F 3-4 At Risk; R 1-2/F 1-2 Hibernating.
- `'rfm'`: uses M; rules are tried in this order and the first match wins: Champions (R 4-5, F 4-5, M 4-5); Loyal Customers (R 3-5, F 3-5, M 3-5); Can't Lose Them (R 1-2, F 4-5, M 4-5); At Risk (R 1-2, F 2-5, M 2-5); New Customers (R 5, F 1); Promising (R 4, F 1); Potential Loyalists (R 3-5, F 1-3); Need Attention (R 3-5); Hibernating (R 2); Lost (R 1).

Custom schemes are text, so they can be a literal, a column or a scalar subquery: rules `Name: conditions` separated by `;` or new lines, tried in order, first match wins. A condition is `r`, `f` or `m` with `N`, `N-M`, `>= N` or `<= N`; `*` or no condition matches everything. Example: `'VIP: r >= 4, f >= 4, m 5; Lapsed: r <= 2; Others: *'`. Custom schemes accept scores 1-10; scores no rule matches give NULL. A scheme that tests M needs the M score. NULL scores give NULL."#,
    syntax_example = "segment_of(r, f [, m] [, scheme]) | segment_of(scores [, scheme])",
    sql_example = r#"```sql
> SELECT segment_of(5, 5) AS a, segment_of(2, 4) AS b, segment_of(5, 5, 1, 'rfm') AS c,
         segment_of(named_struct('r', 4, 'f', 1, 'm', 3)) AS d,
         segment_of(1, 1, 'Gone: r 1; Others: *') AS e;
+-----------+---------+----------------+-----------+------+
| a         | b       | c              | d         | e    |
+-----------+---------+----------------+-----------+------+
| Champions | At Risk | Need Attention | Promising | Gone |
+-----------+---------+----------------+-----------+------+
```"#,
    argument(name = "r", description = "Recency score (integer)."),
    argument(name = "f", description = "Frequency score (integer)."),
    argument(
        name = "m",
        description = "Monetary score (integer), optional; needed by schemes that use M."
    ),
    argument(
        name = "scheme",
        description = "'rf' (default), 'rfm', or custom rules as text (see above)."
    ),
    argument(
        name = "scores",
        description = "The `{r, f, m}` struct of `rfm_score`, in place of `r`, `f` and `m`."
    ),
    related_udf(name = "rfm_score")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SegmentOfFunc {
    signature: Signature,
}

impl Default for SegmentOfFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentOfFunc {
    pub fn new() -> Self {
        Self {
            signature: signature(
                &PARAMS,
                &[&[Listed::Int, Listed::Int, Listed::Int, Listed::Text]],
            ),
        }
    }
}

fn is_string(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

/// The scores struct of `rfm_score` (or any struct with integer `r` and `f`).
fn coerce_scores(data_type: &DataType) -> Result<DataType> {
    let DataType::Struct(fields) = data_type else {
        unreachable!("called on structs only")
    };
    for required in ["r", "f"] {
        match fields.find(required) {
            Some((_, field)) if field.data_type().is_integer() || field.data_type().is_null() => {}
            _ => {
                return plan_err!(
                    "{NAME}: argument r given as a struct must have integer fields r, f (and m), got {data_type}"
                );
            }
        }
    }
    Ok(data_type.clone())
}

/// The argument types after coercion, or an error naming the argument.
fn coerce(arg_types: &[DataType]) -> Result<Vec<DataType>> {
    if let Some(first @ DataType::Struct(_)) = arg_types.first() {
        return match arg_types {
            [_] => Ok(vec![coerce_scores(first)?]),
            [_, scheme] => Ok(vec![
                coerce_scores(first)?,
                coerce_string(NAME, PARAMS[3], scheme)?,
            ]),
            _ => plan_err!(
                "{NAME} takes the scores struct and an optional scheme, got {} arguments",
                arg_types.len()
            ),
        };
    }
    check_arity(NAME, &PARAMS, 2, arg_types)?;
    if let [r, scheme] = arg_types
        && !is_string(r)
        && is_string(scheme)
    {
        return plan_err!(
            "{NAME}: argument f must be an integer score, got {scheme} (a scheme comes after the scores r and f, or after the struct of rfm_score)"
        );
    }
    let mut coerced = vec![
        coerce_integer(NAME, PARAMS[0], &arg_types[0])?,
        coerce_integer(NAME, PARAMS[1], &arg_types[1])?,
    ];
    match arg_types {
        [_, _] => {}
        [_, _, third] if is_string(third) => coerced.push(coerce_string(NAME, PARAMS[3], third)?),
        [_, _, m] => coerced.push(coerce_integer(NAME, PARAMS[2], m)?),
        [_, _, m, scheme] => {
            coerced.push(coerce_integer(NAME, PARAMS[2], m)?);
            coerced.push(coerce_string(NAME, PARAMS[3], scheme)?);
        }
        _ => unreachable!("arity checked"),
    }
    Ok(coerced)
}

impl ScalarUDFImpl for SegmentOfFunc {
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
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        evaluate(&args.args, |arrays| {
            let types: Vec<&DataType> = arrays.iter().map(|a| a.data_type()).collect();
            let (scores, scheme) = match types.as_slice() {
                [DataType::Struct(_)] => (struct_scores(&arrays[0])?, None),
                [DataType::Struct(_), _] => (struct_scores(&arrays[0])?, Some(&arrays[1])),
                [_, _] => (Scores::of(&arrays[0], &arrays[1], None), None),
                [_, _, DataType::Utf8] => {
                    (Scores::of(&arrays[0], &arrays[1], None), Some(&arrays[2]))
                }
                [_, _, _] => (Scores::of(&arrays[0], &arrays[1], Some(&arrays[2])), None),
                _ => (
                    Scores::of(&arrays[0], &arrays[1], Some(&arrays[2])),
                    Some(&arrays[3]),
                ),
            };
            Ok(Arc::new(segments(&scores, scheme.map(|s| s.as_string::<i32>()))?) as ArrayRef)
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

struct Scores {
    r: Int64Array,
    f: Int64Array,
    m: Option<Int64Array>,
}

impl Scores {
    fn of(r: &ArrayRef, f: &ArrayRef, m: Option<&ArrayRef>) -> Scores {
        Scores {
            r: r.as_primitive::<Int64Type>().clone(),
            f: f.as_primitive::<Int64Type>().clone(),
            m: m.map(|m| m.as_primitive::<Int64Type>().clone()),
        }
    }
}

/// The scores of a struct array; a NULL struct gives NULL scores.
fn struct_scores(array: &ArrayRef) -> Result<Scores> {
    let scores = array.as_struct();
    let field = |name: &str| -> Result<Option<Int64Array>> {
        let Some(column) = scores.column_by_name(name) else {
            return Ok(None);
        };
        let column = cast(column, &DataType::Int64)?;
        let nulls = arrow::buffer::NullBuffer::union(column.nulls(), scores.nulls());
        let values = column.as_primitive::<Int64Type>().values().clone();
        Ok(Some(Int64Array::new(values, nulls)))
    };
    Ok(Scores {
        r: field("r")?.expect("checked at planning"),
        f: field("f")?.expect("checked at planning"),
        m: field("m")?,
    })
}

fn segments(scores: &Scores, schemes: Option<&StringArray>) -> Result<StringArray> {
    let rows = scores.r.len();
    let mut builder = StringBuilder::with_capacity(rows, rows * 12);
    let mut parsed: Option<(String, Scheme)> = None;
    for row in 0..rows {
        let scheme_text = match schemes {
            Some(s) if s.is_null(row) => {
                builder.append_null();
                continue;
            }
            Some(s) => s.value(row),
            None => "rf",
        };
        if parsed.as_ref().is_none_or(|(text, _)| text != scheme_text) {
            let scheme = Scheme::parse(scheme_text)
                .or_else(|e| exec_err!("{NAME}: argument scheme: {e}"))?;
            parsed = Some((scheme_text.to_string(), scheme));
        }
        let (_, scheme) = parsed.as_ref().expect("parsed above");
        if scores.r.is_null(row) || scores.f.is_null(row) {
            builder.append_null();
            continue;
        }
        let m = match &scores.m {
            Some(m) if m.is_null(row) => {
                builder.append_null();
                continue;
            }
            Some(m) => Some(checked(scheme, "m", m.value(row))?),
            None if scheme.uses_m() => {
                return exec_err!(
                    "{NAME}: scheme '{}' uses the m score; pass argument m",
                    scheme.name()
                );
            }
            None => None,
        };
        let r = checked(scheme, "r", scores.r.value(row))?;
        let f = checked(scheme, "f", scores.f.value(row))?;
        builder.append_option(scheme.segment(r, f, m));
    }
    Ok(builder.finish())
}

fn checked(scheme: &Scheme, arg: &str, score: i64) -> Result<i64> {
    if (1..=scheme.max_score).contains(&score) {
        Ok(score)
    } else {
        exec_err!(
            "{NAME}: argument {arg} must be a score between 1 and {} for scheme '{}', got {score}",
            scheme.max_score,
            scheme.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;
    use datafusion_common::ScalarValue;
    use datafusion_common::config::ConfigOptions;

    fn invoke(args: Vec<ColumnarValue>) -> Result<ColumnarValue> {
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type(), true)))
            .collect();
        SegmentOfFunc::new().invoke_with_args(ScalarFunctionArgs {
            number_rows: 3,
            args,
            arg_fields,
            return_field: Arc::new(Field::new("s", DataType::Utf8, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    fn ints(values: Vec<Option<i64>>) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from(values)))
    }

    #[test]
    fn default_scheme_by_row() {
        let out = invoke(vec![
            ints(vec![Some(5), Some(1), None]),
            ints(vec![Some(5), Some(1), Some(3)]),
        ])
        .unwrap()
        .into_array(3)
        .unwrap();
        let out = out.as_string::<i32>();
        assert_eq!(out.value(0), "Champions");
        assert_eq!(out.value(1), "Hibernating");
        assert!(out.is_null(2));
    }

    #[test]
    fn out_of_range_scores_name_the_value() {
        let err = invoke(vec![
            ints(vec![Some(6), Some(1), Some(1)]),
            ints(vec![Some(1); 3]),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains(
                "segment_of: argument r must be a score between 1 and 5 for scheme 'rf', got 6"
            ),
            "{err}"
        );
    }

    #[test]
    fn m_schemes_need_m() {
        let scheme = ColumnarValue::Scalar(ScalarValue::from("rfm"));
        let err = invoke(vec![ints(vec![Some(1); 3]), ints(vec![Some(1); 3]), scheme]).unwrap_err();
        assert!(err.to_string().contains("uses the m score"), "{err}");
    }
}
