//! Running one SQL statement as the CLI (and the SQL tests) do: with a
//! bound on expression depth, named arguments that may skip optional
//! parameters ([`crate::named_args`]), a hint for a window function called
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

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};

use crate::local_store::check_folder_writable;
use crate::named_args::fill_skipped;

/// The deepest expression a statement may hold (DuckDB's default
/// `max_expression_depth` is 1000 too).
pub const MAX_EXPRESSION_DEPTH: usize = 1000;

/// Runs `sql` (one statement) as `SessionContext::sql` and `collect` do,
/// after refusing expressions nested deeper than [`MAX_EXPRESSION_DEPTH`];
/// `COPY` checks a local target can be written before it runs, and its
/// errors name the target.
pub async fn run(ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let mut statement = state.sql_to_statement(sql, &dialect)?;
    if let Err(e) = check_depth(&statement) {
        // Dropping the statement recurses as deep as it nests, which is what
        // this check guards against: leave it (memory of the size of the text).
        std::mem::forget(statement);
        return Err(e);
    }
    fill_skipped(ctx, &mut statement)?;
    let copy_target = match &statement {
        Statement::CopyTo(copy) => Some(copy.target.clone()),
        _ => None,
    };
    if let Some(target) = &copy_target {
        check_local_target(target)?;
    }
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(|e| window_function_hint(ctx, e))?;
    let df = ctx.execute_logical_plan(plan).await?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.map_err(|e| match &copy_target {
        Some(target) => e.context(format!("COPY cannot write {target}")),
        None => e,
    })?;
    Ok((schema, batches))
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
    match called {
        Some(name) if ctx.udwf(&name).is_ok() => DataFusionError::Plan(format!(
            "{name} is a window function: call it with OVER, e.g. {name}(...) OVER () for the whole result or OVER (PARTITION BY ...) per group"
        )),
        _ => error,
    }
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

fn check_depth(statement: &Statement) -> Result<()> {
    let mut depth = Depth::default();
    let flow = match statement {
        Statement::Statement(statement) => statement.visit(&mut depth),
        Statement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(query) => query.visit(&mut depth),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        Statement::Explain(explain) => return check_depth(&explain.statement),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(DataFusionError::Plan(format!(
            "expression nested more than {MAX_EXPRESSION_DEPTH} levels deep (e.g. a chain of over {MAX_EXPRESSION_DEPTH} + or AND terms); split it, or sum the terms with a subquery or an aggregate"
        ))),
    }
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
