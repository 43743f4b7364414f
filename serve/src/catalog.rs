//! clvsql's functions in `pg_catalog`, so psql's `\df` (and a SQL client's
//! function list) shows them: datafusion-postgres's `pg_proc` holds
//! PostgreSQL's built-in functions only, and lacks the helpers `\df` calls.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{MemTable, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;

/// Where clvsql's functions' oids start: above PostgreSQL's own.
const FIRST_OID: i32 = 1_000_000;

/// A function as `pg_proc` and `\df` show it.
struct Function {
    name: String,
    kind: &'static str,
    arguments: String,
    description: String,
}

/// Puts clvsql's functions into `pg_catalog.pg_proc` (schema `public`)
/// and registers `pg_function_is_visible`, `pg_get_function_arguments`
/// and `pg_get_function_result`. Call after `setup_pg_catalog`.
pub async fn add_functions(ctx: &SessionContext) -> Result<()> {
    let functions = clvsql_functions();
    let results = result_types(ctx, &functions).await?;
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| DataFusionError::Plan("no catalog 'datafusion'".to_string()))?;
    let inner = catalog
        .schema("pg_catalog")
        .ok_or_else(|| DataFusionError::Plan("pg_catalog is not set up".to_string()))?;
    let namespace = public_namespace(ctx).await?;
    let pg_proc = pg_proc(ctx, inner.as_ref(), &functions, namespace).await?;
    catalog.register_schema("pg_catalog", Arc::new(WithFunctions { inner, pg_proc }))?;

    let oid = |i: usize| FIRST_OID + i as i32;
    let arguments: HashMap<i32, String> = functions
        .iter()
        .enumerate()
        .map(|(i, f)| (oid(i), f.arguments.clone()))
        .collect();
    let results: HashMap<i32, String> = functions
        .iter()
        .enumerate()
        .filter_map(|(i, f)| results.get(&f.name).map(|r| (oid(i), r.clone())))
        .collect();
    let descriptions: HashMap<i32, String> = functions
        .iter()
        .enumerate()
        .map(|(i, f)| (oid(i), f.description.clone()))
        .collect();
    ctx.register_udf(text_by_oid("pg_get_function_arguments", arguments, &[]));
    ctx.register_udf(text_by_oid("pg_get_function_result", results, &[]));
    // `\df+`: no function has an SQL body; clvsql's have descriptions.
    ctx.register_udf(text_by_oid("pg_get_function_sqlbody", HashMap::new(), &[]));
    ctx.register_udf(text_by_oid(
        "obj_description",
        descriptions,
        &[DataType::Utf8],
    ));
    ctx.register_udf(create_udf(
        "pg_function_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let oids = ColumnarValue::values_to_arrays(args)?;
            let visible: BooleanArray = (0..oids[0].len())
                .map(|i| oids[0].is_valid(i).then_some(true))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(visible)))
        }),
    ));
    Ok(())
}

fn clvsql_functions() -> Vec<Function> {
    let function = |name: &str, kind, docs: Option<&Documentation>| Function {
        name: name.to_string(),
        kind,
        arguments: docs.map_or_else(String::new, |d| arguments(name, &d.syntax_example)),
        description: docs.map_or_else(String::new, |d| d.description.clone()),
    };
    let udfs = clvsql::clvsql_udfs::scalar_functions();
    let udafs = clvsql::clvsql_udfs::aggregate_functions();
    let udwfs = clvsql::clvsql_udfs::window_functions();
    let scalars = udfs
        .iter()
        .map(|f| function(f.name(), "f", f.documentation()));
    let aggregates = udafs
        .iter()
        .map(|f| function(f.name(), "a", f.documentation()));
    let windows = udwfs
        .iter()
        .map(|f| function(f.name(), "w", f.documentation()));
    scalars.chain(aggregates).chain(windows).collect()
}

/// The arguments of each form of `name` in its syntax example, separated by
/// `|`: "bgnbd_fit(frequency, recency, t [, penalizer]), bgnbd_fit(summary
/// [, penalizer])" gives "frequency, recency, t [, penalizer] | summary [,
/// penalizer]".
fn arguments(name: &str, syntax: &str) -> String {
    let opener = format!("{name}(");
    let mut forms = vec![];
    let mut rest = syntax;
    while let Some(start) = rest.find(&opener) {
        let inside = &rest[start + opener.len()..];
        let mut depth = 1;
        let end = inside.find(|c| {
            depth += match c {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            depth == 0
        });
        let Some(end) = end else { break };
        forms.push(inside[..end].trim());
        rest = &inside[end..];
    }
    forms.join(" | ")
}

/// Each function's result type as PostgreSQL names it, where DataFusion's
/// `information_schema` knows it (functions whose result depends on their
/// arguments' types have none).
async fn result_types(
    ctx: &SessionContext,
    functions: &[Function],
) -> Result<HashMap<String, String>> {
    let batches = ctx
        .sql("SELECT DISTINCT routine_name, data_type FROM information_schema.routines WHERE data_type IS NOT NULL")
        .await?
        .collect()
        .await?;
    let mut types: HashMap<String, Vec<String>> = HashMap::new();
    for batch in &batches {
        let names = cast(batch.column(0), &DataType::Utf8)?;
        let data_types = cast(batch.column(1), &DataType::Utf8)?;
        let names = names.as_any().downcast_ref::<StringArray>();
        let data_types = data_types.as_any().downcast_ref::<StringArray>();
        let (Some(names), Some(data_types)) = (names, data_types) else {
            continue;
        };
        for (name, data_type) in names.iter().zip(data_types) {
            if let (Some(name), Some(data_type)) = (name, data_type)
                && functions.iter().any(|f| f.name == name)
            {
                let pg = postgres_type_name(data_type);
                let known = types.entry(name.to_string()).or_default();
                if !known.contains(&pg) {
                    known.push(pg);
                }
            }
        }
    }
    Ok(types
        .into_iter()
        .map(|(name, types)| (name, types.join(" | ")))
        .collect())
}

/// A DataFusion type as `information_schema` writes it, in PostgreSQL's
/// words (a struct is a `record`).
fn postgres_type_name(data_type: &str) -> String {
    let base = data_type.split('(').next().unwrap_or(data_type);
    match base {
        "Struct" => "record",
        "Float64" => "double precision",
        "Float32" => "real",
        "Int64" => "bigint",
        "Int32" => "integer",
        "Utf8" | "String" | "LargeUtf8" | "Utf8View" => "text",
        "Boolean" => "boolean",
        "Date32" | "Date" => "date",
        "Timestamp" => "timestamp",
        "List" | "LargeList" => "array",
        other => return other.to_ascii_lowercase(),
    }
    .to_string()
}

/// The oid of the `public` schema in datafusion-postgres's `pg_namespace`.
async fn public_namespace(ctx: &SessionContext) -> Result<i32> {
    let batches = ctx
        .sql("SELECT CAST(oid AS INT) FROM pg_catalog.pg_namespace WHERE nspname = 'public'")
        .await?
        .collect()
        .await?;
    batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<Int32Array>())
        .flat_map(|oids| oids.iter().flatten())
        .next()
        .ok_or_else(|| DataFusionError::Plan("pg_namespace has no 'public'".to_string()))
}

/// PostgreSQL's `pg_proc` rows, then one per clvsql function. `proacl` is
/// an array of text, as in PostgreSQL (datafusion-postgres's is text, which
/// `\df+`'s `array_to_string(p.proacl, ...)` cannot take).
async fn pg_proc(
    ctx: &SessionContext,
    catalog: &dyn SchemaProvider,
    functions: &[Function],
    namespace: i32,
) -> Result<Arc<dyn TableProvider>> {
    let builtin = catalog
        .table("pg_proc")
        .await?
        .ok_or_else(|| DataFusionError::Plan("pg_catalog has no pg_proc".to_string()))?;
    let builtin_batches = ctx.read_table(Arc::clone(&builtin))?.collect().await?;
    let fields: Vec<Field> = builtin
        .schema()
        .fields()
        .iter()
        .map(|field| match field.name().as_str() {
            "proacl" => Field::new("proacl", acl_type(), true),
            _ => field.as_ref().clone(),
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let mut batches = builtin_batches
        .iter()
        .map(|batch| {
            let columns = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(field, column)| match field.name().as_str() {
                    "proacl" => acl_lists(column),
                    _ => Ok(Arc::clone(column)),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RecordBatch::try_new(Arc::clone(&schema), columns)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let rows = functions.len();
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column: ArrayRef = match field.name().as_str() {
                "oid" => Arc::new(Int32Array::from_iter_values(
                    (0..rows).map(|i| FIRST_OID + i as i32),
                )),
                "proname" => Arc::new(StringArray::from_iter_values(
                    functions.iter().map(|f| f.name.as_str()),
                )),
                "pronamespace" => Arc::new(Int32Array::from(vec![namespace; rows])),
                "prokind" => Arc::new(StringArray::from_iter_values(
                    functions.iter().map(|f| f.kind),
                )),
                "proargnames" => Arc::new(StringArray::from_iter_values(
                    functions.iter().map(|f| format!("{{{}}}", f.arguments)),
                )),
                // Owned by the superuser (oid 10), in language `internal`
                // (12), immutable and parallel safe: they are pure.
                "proowner" => Arc::new(Int32Array::from(vec![10; rows])),
                "prolang" => Arc::new(Int32Array::from(vec![12; rows])),
                "provolatile" => Arc::new(StringArray::from(vec!["i"; rows])),
                "proparallel" => Arc::new(StringArray::from(vec!["s"; rows])),
                _ if field.is_nullable() => return Ok(new_null_array(field.data_type(), rows)),
                // Columns that may not be NULL: empty text, zero, false.
                _ if field.data_type() == &DataType::Utf8 => {
                    Arc::new(StringArray::from(vec![""; rows]))
                }
                _ => Arc::new(Int32Array::from(vec![0; rows])),
            };
            cast(&column, field.data_type()).map_err(DataFusionError::from)
        })
        .collect::<Result<Vec<_>>>()?;
    batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}

fn acl_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// `{a,b}` text as a list of `a` and `b`.
fn acl_lists(column: &ArrayRef) -> Result<ArrayRef> {
    let text = cast(column, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| DataFusionError::Internal("proacl is text".to_string()))?;
    let mut lists = ListBuilder::new(StringBuilder::new());
    for acl in text {
        match acl {
            Some(acl) => {
                let items = acl.trim_start_matches('{').trim_end_matches('}');
                for item in items.split(',').filter(|item| !item.is_empty()) {
                    lists.values().append_value(item);
                }
                lists.append(true);
            }
            None => lists.append(false),
        }
    }
    Ok(Arc::new(lists.finish()))
}

/// A `name(oid, ...)` function answering from `texts`, NULL for other oids;
/// arguments after the oid (`obj_description(oid, 'pg_proc')`) are
/// ignored.
fn text_by_oid(
    name: &str,
    texts: HashMap<i32, String>,
    more: &[DataType],
) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        name,
        [&[DataType::Int32], more].concat(),
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| {
            let oids = ColumnarValue::values_to_arrays(args)?;
            let oids = cast(&oids[0], &DataType::Int32)?;
            let oids = oids
                .as_any()
                .downcast_ref::<Int32Array>()
                .ok_or_else(|| DataFusionError::Internal("oids are Int32".to_string()))?;
            let texts: StringArray = oids
                .iter()
                .map(|oid| oid.and_then(|oid| texts.get(&oid)))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(texts)))
        }),
    )
}

/// datafusion-postgres's `pg_catalog` with clvsql's `pg_proc`.
#[derive(Debug)]
struct WithFunctions {
    inner: Arc<dyn SchemaProvider>,
    pg_proc: Arc<dyn TableProvider>,
}

#[async_trait]
impl SchemaProvider for WithFunctions {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name == "pg_proc" {
            return Ok(Some(Arc::clone(&self.pg_proc)));
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_of_every_form() {
        assert_eq!(
            arguments(
                "bgnbd_fit",
                "bgnbd_fit(frequency, recency, t [, penalizer]), bgnbd_fit(summary [, penalizer])"
            ),
            "frequency, recency, t [, penalizer] | summary [, penalizer]"
        );
        assert_eq!(
            arguments("rfm_score", "rfm_score(r, f, m) OVER (PARTITION BY g)"),
            "r, f, m"
        );
        assert_eq!(arguments("f", "no call here"), "");
    }

    #[test]
    fn acls_become_lists() {
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("{a=X/b,c=X/d}"),
            None,
            Some("{}"),
        ]));
        let lists = acl_lists(&text).unwrap();
        let lists = lists
            .as_any()
            .downcast_ref::<datafusion::arrow::array::ListArray>()
            .unwrap();
        assert_eq!(lists.value_length(0), 2);
        assert!(lists.is_null(1));
        assert_eq!(lists.value_length(2), 0);
    }

    #[test]
    fn types_read_as_postgres_names_them() {
        assert_eq!(postgres_type_name("Float64"), "double precision");
        assert_eq!(postgres_type_name("Struct(\"r\": Float64)"), "record");
        assert_eq!(postgres_type_name("Decimal128(10, 2)"), "decimal128");
    }
}
