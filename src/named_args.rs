//! Named arguments that skip an optional parameter in the middle.
//!
//! DataFusion places named arguments by the function's parameter names but
//! requires every parameter before the last one given, so
//! `clv_simple(50, 4, 3, discount_rate => 0.1)` fails with "Missing required
//! parameter 'margin'". Before planning, such calls of clvsql's functions
//! are rewritten to positional ones, with the skipped parameters' defaults
//! filled in; a required parameter left out is an error naming the
//! function.

use std::ops::ControlFlow;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{CopyToSource, Statement};
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, VisitMut, visit_expressions_mut,
};

/// What stands in for a skipped optional parameter.
enum Fill {
    /// Its default value, a number.
    Default(&'static str),
    /// Nothing: the function tells the remaining arguments apart by type.
    Omit,
}

/// The optional parameters that may be skipped, by function; the parameter
/// names come from the registered function's signature.
const SKIPPABLE: [(&str, &[(&str, Fill)]); 4] = [
    (
        "clv_simple",
        &[
            ("margin", Fill::Default("1")),
            ("discount_rate", Fill::Default("0")),
        ],
    ),
    (
        "clv",
        &[
            ("discount_rate", Fill::Default("0")),
            ("period", Fill::Default("0")),
        ],
    ),
    (
        "clv_interval",
        &[
            ("discount_rate", Fill::Default("0")),
            ("period", Fill::Default("0")),
            ("annual_discount_rate", Fill::Default("0")),
        ],
    ),
    ("segment_of", &[("m", Fill::Omit)]),
];

/// Rewrites calls of clvsql's functions whose named arguments skip an
/// optional parameter; other calls stay as they are.
pub fn fill_skipped(ctx: &SessionContext, statement: &mut Statement) -> Result<()> {
    match statement {
        Statement::Statement(statement) => rewrite(ctx, statement.as_mut()),
        Statement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => rewrite(ctx, query.as_mut()),
            CopyToSource::Relation(_) => Ok(()),
        },
        Statement::Explain(explain) => fill_skipped(ctx, &mut explain.statement),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => Ok(()),
    }
}

fn rewrite<V: VisitMut>(ctx: &SessionContext, node: &mut V) -> Result<()> {
    let flow = visit_expressions_mut(node, |expr| {
        if let Expr::Function(function) = expr
            && let [name] = function.name.0.as_slice()
            && let Some(name) = name.as_ident()
            && let Some(params) = parameter_names(ctx, &name.value.to_ascii_lowercase())
            && let FunctionArguments::List(list) = &mut function.args
        {
            let function = name.value.to_ascii_lowercase();
            let fills = SKIPPABLE
                .iter()
                .find(|(f, _)| *f == function)
                .map_or(&[][..], |(_, fills)| *fills);
            // The column form, or else the summary form (always rewritten:
            // DataFusion places names by the column form's).
            let summary: Option<Vec<String>> = clvsql_udfs::summary_form(&function)
                .map(|names| names.iter().map(|n| n.to_string()).collect());
            if let Some(name) = named_twice(&list.args) {
                return ControlFlow::Break(DataFusionError::Plan(format!(
                    "{function}: argument {name} is given twice"
                )));
            }
            let placed = match positional(&list.args, &params, fills, false) {
                Err(problem) => match summary
                    .as_ref()
                    .map(|names| (names, positional(&list.args, names, fills, true)))
                {
                    Some((_, Ok(Some(args)))) => Ok(Some(args)),
                    // A gap where a summary would stand: the summary form's
                    // problem is the one the caller made.
                    Some((names, Err(other)))
                        if problem.is_summarised(&params, names)
                            || matches!(problem, Problem::Unknown) =>
                    {
                        Err(other)
                    }
                    _ => Err(problem),
                },
                placed => placed,
            };
            let message = match placed {
                Ok(Some(args)) => {
                    list.args = args;
                    None
                }
                Ok(None) | Err(Problem::Unknown) => None,
                Err(Problem::Missing(param)) => Some(format!(
                    "{function}: argument {param} is missing; named arguments may leave out only optional parameters"
                )),
                Err(Problem::Twice(param)) => Some(format!(
                    "{function}: argument {param} is given twice, by position and by name"
                )),
            };
            if let Some(message) = message {
                return ControlFlow::Break(DataFusionError::Plan(message));
            }
        }
        ControlFlow::Continue(())
    });
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

/// The parameter names of the clvsql function `name`, if it is one.
fn parameter_names(ctx: &SessionContext, name: &str) -> Option<Vec<String>> {
    let signature = if clvsql_udfs::scalar_functions()
        .iter()
        .any(|f| f.name() == name)
    {
        ctx.udf(name).ok()?.signature().clone()
    } else if clvsql_udfs::aggregate_functions()
        .iter()
        .any(|f| f.name() == name)
    {
        ctx.udaf(name).ok()?.signature().clone()
    } else if clvsql_udfs::window_functions()
        .iter()
        .any(|f| f.name() == name)
    {
        ctx.udwf(name).ok()?.signature().clone()
    } else {
        return None;
    };
    signature.parameter_names
}

/// The name of an argument named more than once, if one is.
fn named_twice(args: &[FunctionArg]) -> Option<String> {
    let names: Vec<String> = args.iter().filter_map(arg_name).collect();
    names
        .iter()
        .enumerate()
        .find(|(i, name)| names[..*i].iter().any(|n| n.eq_ignore_ascii_case(name)))
        .map(|(_, name)| name.clone())
}

/// The name of a named argument.
fn arg_name(arg: &FunctionArg) -> Option<String> {
    match arg {
        FunctionArg::Named { name, .. } => Some(name.value.clone()),
        FunctionArg::ExprNamed {
            name: Expr::Identifier(name),
            ..
        } => Some(name.value.clone()),
        _ => None,
    }
}

/// Why a call's arguments do not fit a list of parameters.
enum Problem<'a> {
    /// A parameter before the last one given is missing and has no default.
    Missing(&'a str),
    /// A parameter is given by position and by name.
    Twice(&'a str),
    /// A name is none of the parameters.
    Unknown,
}

impl Problem<'_> {
    /// Whether the problem is a parameter of `params` a summary struct
    /// stands for in the form with parameters `summary`.
    fn is_summarised(&self, params: &[String], summary: &[String]) -> bool {
        let (Self::Missing(param) | Self::Twice(param)) = self else {
            return false;
        };
        params.iter().any(|p| p == param) && !summary.iter().any(|s| s == param)
    }
}

/// The arguments in parameter order, skipped ones filled; `None` when
/// nothing is skipped (unless `always`) or not every argument is placed.
fn positional<'a>(
    args: &[FunctionArg],
    params: &'a [String],
    fills: &[(&str, Fill)],
    always: bool,
) -> std::result::Result<Option<Vec<FunctionArg>>, Problem<'a>> {
    let mut named: Vec<(usize, &FunctionArgExpr)> = Vec::new();
    for arg in args {
        let (name, value) = match arg {
            FunctionArg::Named { name, arg, .. } => (name.value.as_str(), arg),
            FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg,
                ..
            } => (name.value.as_str(), arg),
            _ => continue,
        };
        let index = params
            .iter()
            .position(|p| p.eq_ignore_ascii_case(name))
            .ok_or(Problem::Unknown)?;
        named.push((index, value));
    }
    let unnamed = args
        .iter()
        .take_while(|arg| matches!(arg, FunctionArg::Unnamed(_)))
        .count();
    if let Some((index, _)) = named.iter().find(|(i, _)| *i < unnamed) {
        return Err(Problem::Twice(&params[*index]));
    }
    // Only calls whose every argument is placed, with a gap among them.
    if named.is_empty() || unnamed + named.len() != args.len() {
        return Ok(None);
    }
    let Some(last) = named.iter().map(|(i, _)| *i).max() else {
        return Ok(None);
    };
    let mut result: Vec<FunctionArg> = args[..unnamed].to_vec();
    let mut skipped = false;
    for (index, param) in params.iter().enumerate().take(last + 1).skip(unnamed) {
        if let Some((_, value)) = named.iter().find(|(i, _)| *i == index) {
            result.push(FunctionArg::Unnamed((*value).clone()));
            continue;
        }
        skipped = true;
        let Some((_, fill)) = fills.iter().find(|(name, _)| name == param) else {
            return Err(Problem::Missing(param));
        };
        match fill {
            Fill::Default(value) => result.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(
                Expr::value(Value::Number(value.to_string(), false)),
            ))),
            Fill::Omit => {}
        }
    }
    Ok((skipped || always).then_some(result))
}
