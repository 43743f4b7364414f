//! Running one SQL statement as the CLI (and the SQL tests) do: with a
//! bound on expression depth, the named arguments of clvsql's functions
//! placed by position, skipped optional parameters filled in
//! ([`clvsql_udfs::named_args`]), a hint for a window function called
//! without `OVER`, and errors that name the target of `COPY`.
//!
//! DataFusion clones, compares, hashes and drops its expressions
//! recursively, so an expression nested deep enough overflows the stack and
//! aborts the process (`SELECT 1 + 1 + ... + 1` with 10,000 terms). The
//! parser bounds most nesting itself (parentheses, subqueries, function
//! calls, `sql_parser.recursion_limit`), but not a chain of a left-associative
//! operator, which it builds in a loop. So expressions are measured before
//! planning, and one deeper than [`MAX_EXPRESSION_DEPTH`] is refused.
//!
//! `COPY` to a local target that cannot be written is refused before it
//! runs, with the reason (DataFusion drops the cause of a failed write).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{CopyToSource, DFParserBuilder, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::{Dialect, dialect_from_str};

use clvsql_udfs::named_args::place_named_arguments;

use crate::cancel::Cancellation;
use crate::local_store::check_folder_writable;

/// The deepest expression a statement may hold (DuckDB's default
/// `max_expression_depth` is 1000 too).
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// Runs `sql` (one statement) as `SessionContext::sql` and `collect` do,
/// after refusing expressions nested deeper than [`MAX_EXPRESSION_DEPTH`];
/// `COPY` checks a local target can be written before it runs, and its
/// errors name the target.
pub async fn run(ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    run_cancellable(ctx, sql, &Cancellation::new()).await
}

/// [`run`], stopping with a "query cancelled" error within a batch of any
/// operator once `cancellation` is cancelled (see [`crate::cancel`]).
pub async fn run_cancellable(
    ctx: &SessionContext,
    sql: &str,
    cancellation: &Cancellation,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let mut statements = parse(ctx, sql)?;
    if statements.len() > 1 {
        return Err(DataFusionError::Plan(format!(
            "one statement at a time, found {}",
            statements.len()
        )));
    }
    let statement = statements
        .pop()
        .ok_or_else(|| DataFusionError::Plan("no SQL statement was given".to_string()))?;
    let copy_target = copy_target(&statement);
    let df = ctx
        .execute_logical_plan(logical_plan(ctx, statement).await?)
        .await?;
    let schema = df.schema().inner().clone();
    let task = Arc::new(df.task_ctx());
    let plan = df
        .create_physical_plan()
        .await
        .map_err(grouped_window_hint)?;
    let plan = cancellation.wrap(crate::reserve::account_windows(plan)?)?;
    let batches = collect(plan, task).await.map_err(|e| match &copy_target {
        Some(target) => e.context(format!("COPY cannot write {target}")),
        None => e,
    })?;
    Ok((schema, batches))
}

/// Parses `sql` into its statements with the session's dialect and
/// recursion limit, refusing any with an expression nested deeper than
/// [`MAX_EXPRESSION_DEPTH`].
pub fn parse(ctx: &SessionContext, sql: &str) -> Result<Vec<Statement>> {
    let state = ctx.state();
    let name = &state.config().options().sql_parser.dialect;
    let dialect = dialect_from_str(name)
        .ok_or_else(|| DataFusionError::Plan(format!("unsupported SQL dialect: {name}")))?;
    parse_as(ctx, sql, dialect.as_ref())
}

/// [`parse`] with the given dialect. A syntax error is a
/// `DataFusionError::SQL`; a statement nested too deep, a `Plan` error.
pub fn parse_as(ctx: &SessionContext, sql: &str, dialect: &dyn Dialect) -> Result<Vec<Statement>> {
    let recursion_limit = ctx.state().config().options().sql_parser.recursion_limit;
    let statements: Vec<Statement> = DFParserBuilder::new(sql)
        .with_dialect(dialect)
        .with_recursion_limit(recursion_limit.get())
        .build()?
        .parse_statements()?
        .into();
    if let Err(e) = statements.iter().try_for_each(check_depth) {
        // Dropping the statements recurses as deep as they nest, which is
        // what this check guards against: leave them (memory of the size of
        // the text).
        std::mem::forget(statements);
        return Err(e);
    }
    Ok(statements)
}

/// Plans one parsed statement as `SessionContext::sql` does, after placing
/// the named arguments of clvsql's functions by position; `COPY` to a local
/// target that cannot be written is refused. Nothing runs yet, DDL included.
pub async fn logical_plan(ctx: &SessionContext, mut statement: Statement) -> Result<LogicalPlan> {
    place_named_arguments(&mut statement)?;
    if let Some(target) = copy_target(&statement) {
        check_local_target(&target)?;
    }
    ctx.state()
        .statement_to_plan(statement)
        .await
        .map_err(|e| window_function_hint(ctx, e))
}

fn copy_target(statement: &Statement) -> Option<String> {
    match statement {
        Statement::CopyTo(copy) => Some(copy.target.clone()),
        _ => None,
    }
}

/// DataFusion looks a window function called without `OVER` up among the
/// scalar and aggregate functions, and suggests the nearest name of those
/// (`rfm_score(...)` → "Did you mean 'regr_slope'?"): say what is missing.
fn window_function_hint(ctx: &SessionContext, error: DataFusionError) -> DataFusionError {
    let message = error.to_string();
    let called = message
        .split_once("Invalid function '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(name, _)| name.to_ascii_lowercase());
    if let Some(name) = called.filter(|name| ctx.udwf(name).is_ok()) {
        return DataFusionError::Plan(format!(
            "{name} is a window function: call it with OVER, e.g. {name}(...) OVER () for the whole result or OVER (PARTITION BY ...) per group"
        ));
    }
    // A scalar function in FROM: DataFusion looks for a table function.
    let table_function = message
        .split_once("table function '")
        .and_then(|(_, rest)| rest.split_once("' not found"))
        .map(|(name, _)| name.to_ascii_lowercase());
    match table_function {
        Some(name) if ctx.udf(&name).is_ok() => DataFusionError::Plan(format!(
            "{name} is a scalar function, not a table: call it in SELECT (for a list, SELECT unnest({name}(...)) gives a row per element)"
        )),
        _ => error,
    }
}

/// DataFusion plans `GROUP BY` a window function (`GROUP BY 1` naming
/// `rfm_score(...) OVER ()`) but cannot run it, and says so by printing
/// the whole expression tree: say what to write instead.
fn grouped_window_hint(error: DataFusionError) -> DataFusionError {
    if error
        .to_string()
        .contains("Physical plan does not support logical expression WindowFunction")
    {
        return DataFusionError::Plan(
            "a window function (... OVER (...)) cannot be grouped by or aggregated in the same query: compute it in a subquery, then group, e.g. SELECT segment, count(*) FROM (SELECT segment_of(rfm_score(s) OVER ()) AS segment FROM customers) GROUP BY segment".to_string(),
        );
    }
    error
}

/// Checks that the folder of a local `COPY` target can be made and written
/// to (DataFusion reports a failed write only as "Error encountered while
/// finalizing writes", without its cause).
fn check_local_target(target: &str) -> Result<()> {
    let path = match target.strip_prefix("file://") {
        Some(path) => path,
        None if target.contains("://") => return Ok(()),
        None => target,
    };
    let path = std::path::Path::new(path);
    // A target ending in `/` is a folder of files; otherwise one file.
    let folder = if target.ends_with('/') {
        Some(path)
    } else {
        path.parent().filter(|p| !p.as_os_str().is_empty())
    };
    match folder {
        Some(folder) => check_folder_writable(folder).map_err(|e| {
            DataFusionError::Execution(format!(
                "COPY cannot write {target}: its folder {}: {e}",
                folder.display()
            ))
        }),
        None => Ok(()),
    }
}

/// Refuses a statement with an expression nested deeper than
/// [`MAX_EXPRESSION_DEPTH`]; the check itself recurses no deeper than that.
pub fn check_depth(statement: &Statement) -> Result<()> {
    let mut depth = Depth::default();
    let flow = match statement {
        Statement::Statement(statement) => statement.visit(&mut depth),
        Statement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(query) => query.visit(&mut depth),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        Statement::Explain(explain) => return check_depth(&explain.statement),
        Statement::CreateExternalTable(table) => match table.columns.visit(&mut depth) {
            ControlFlow::Continue(()) => table.order_exprs.visit(&mut depth),
            flow => flow,
        },
        Statement::Reset(_) => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(DataFusionError::Plan(format!(
            "{TOO_DEEP} {MAX_EXPRESSION_DEPTH} levels deep (e.g. a chain of over {MAX_EXPRESSION_DEPTH} + or AND terms); split it, or sum the terms with a subquery or an aggregate"
        ))),
    }
}

const TOO_DEEP: &str = "expression nested more than";

/// Whether `error` is [`check_depth`]'s.
pub fn is_too_deep(error: &DataFusionError) -> bool {
    matches!(error, DataFusionError::Plan(message) if message.starts_with(TOO_DEEP))
}

/// The nesting of expressions during a visit; breaks past the limit, so the
/// visit itself never recurses deeper than that.
#[derive(Default)]
struct Depth {
    current: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_EXPRESSION_DEPTH {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}
