//! Named arguments of clvsql's functions, placed by position.
//!
//! DataFusion places named arguments by a function's parameter names, but
//! requires every parameter before the last one given, so
//! `clv_simple(50, 4, 3, discount_rate => 0.1)` fails with "Missing required
//! parameter 'margin'"; and a function that reaches a session through
//! DataFusion's FFI (datafusion-python) carries no parameter names at all.
//! So calls of clvsql's functions with named arguments are rewritten to
//! positional ones before planning, the skipped optional parameters'
//! defaults filled in, summary forms (`p_alive(s, model => m)`) included. A
//! required parameter left out, a name given twice or a name that is none of
//! the parameters is an error naming the function.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::LazyLock;

use datafusion_common::{DataFusionError, Result};
use datafusion_sql::parser::{CopyToSource, Statement};
use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, VisitMut, visit_expressions_mut,
};

/// What stands in for a skipped optional parameter.
enum Fill {
    /// Its default value, a number.
    Default(&'static str),
    /// Nothing: the function tells the remaining arguments apart by type.
    Omit,
}

/// The optional parameters that may be skipped, by function.
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

/// Where an argument of a rewritten call comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The call's own argument at this index.
    Given(usize),
    /// A skipped optional parameter's default: a number, as SQL text.
    Default(&'static str),
}

/// The arguments, in order, of the positional call that stands for a call
/// of `function` whose argument `i` is named `names[i]` (`None`: given by
/// position). `None` when no argument is named or `function` is not one of
/// clvsql's.
pub fn placement(function: &str, names: &[Option<&str>]) -> Result<Option<Vec<Slot>>> {
    let function = function.to_ascii_lowercase();
    let Some(params) = PARAMETERS.get(function.as_str()) else {
        return Ok(None);
    };
    if names.iter().all(Option::is_none) {
        return Ok(None);
    }
    let error = |message: String| Err(DataFusionError::Plan(format!("{function}: {message}")));
    let given: Vec<&str> = names.iter().flatten().copied().collect();
    if let Some((_, name)) = given
        .iter()
        .enumerate()
        .find(|(i, name)| given[..*i].iter().any(|n| n.eq_ignore_ascii_case(name)))
    {
        return error(format!("argument {name} is given twice"));
    }
    let unnamed = names.iter().take_while(|name| name.is_none()).count();
    if let Some(i) = names[unnamed..].iter().position(Option::is_none) {
        return error(format!(
            "argument {} is given by position after a named one",
            unnamed + i + 1
        ));
    }
    let fills = SKIPPABLE
        .iter()
        .find(|(f, _)| *f == function)
        .map_or(&[][..], |(_, fills)| *fills);
    // The column form, or else the summary form.
    let summary: Option<Vec<String>> =
        crate::summary_form(&function).map(|names| names.iter().map(|n| n.to_string()).collect());
    let placed = match positional(names, params, fills) {
        Err(problem) => match summary
            .as_ref()
            .map(|summary| (summary, positional(names, summary, fills)))
        {
            Some((_, Ok(slots))) => Ok(slots),
            // A gap where a summary would stand: the summary form's
            // problem is the one the caller made.
            Some((summary, Err(other)))
                if problem.is_summarised(params, summary)
                    || matches!(problem, Problem::Unknown(_)) =>
            {
                Err((other, summary))
            }
            _ => Err((problem, params)),
        },
        Ok(slots) => Ok(slots),
    };
    match placed {
        Ok(slots) => Ok(Some(slots)),
        Err((Problem::Missing(param), _)) => error(format!(
            "argument {param} is missing; named arguments may leave out only optional parameters"
        )),
        Err((Problem::Twice(param), _)) => error(format!(
            "argument {param} is given twice, by position and by name"
        )),
        Err((Problem::Unknown(name), params)) => error(format!(
            "unknown parameter name '{name}' (its parameters: {})",
            params.join(", ")
        )),
    }
}

/// Rewrites the calls of clvsql's functions with named arguments in
/// `statement` to positional ones; other calls stay as they are.
pub fn place_named_arguments(statement: &mut Statement) -> Result<()> {
    match statement {
        Statement::Statement(statement) => rewrite(statement.as_mut()),
        Statement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => rewrite(query.as_mut()),
            CopyToSource::Relation(_) => Ok(()),
        },
        Statement::Explain(explain) => place_named_arguments(&mut explain.statement),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => Ok(()),
    }
}

fn rewrite<V: VisitMut>(node: &mut V) -> Result<()> {
    let flow = visit_expressions_mut(node, |expr| {
        if let Expr::Function(function) = expr
            && let [name] = function.name.0.as_slice()
            && let Some(name) = name.as_ident()
            && let FunctionArguments::List(list) = &mut function.args
        {
            let names: Vec<Option<&str>> = list.args.iter().map(arg_name).collect();
            match placement(&name.value, &names) {
                Ok(None) => {}
                Ok(Some(slots)) => {
                    list.args = slots
                        .iter()
                        .map(|slot| {
                            FunctionArg::Unnamed(match slot {
                                Slot::Given(i) => arg_value(&list.args[*i]).clone(),
                                Slot::Default(value) => FunctionArgExpr::Expr(Expr::value(
                                    Value::Number(value.to_string(), false),
                                )),
                            })
                        })
                        .collect();
                }
                Err(e) => return ControlFlow::Break(e),
            }
        }
        ControlFlow::Continue(())
    });
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(e) => Err(e),
    }
}

/// The parameter names of clvsql's functions (their column forms), by name.
static PARAMETERS: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    let named = |name: &str, signature: &datafusion_expr::Signature| {
        signature
            .parameter_names
            .clone()
            .map(|params| (name.to_string(), params))
    };
    let scalar = crate::scalar_functions();
    let aggregate = crate::aggregate_functions();
    let window = crate::window_functions();
    scalar
        .iter()
        .filter_map(|f| named(f.name(), f.signature()))
        .chain(
            aggregate
                .iter()
                .filter_map(|f| named(f.name(), f.signature())),
        )
        .chain(window.iter().filter_map(|f| named(f.name(), f.signature())))
        .collect()
});

/// The name of a named argument.
fn arg_name(arg: &FunctionArg) -> Option<&str> {
    match arg {
        FunctionArg::Named { name, .. } => Some(&name.value),
        FunctionArg::ExprNamed {
            name: Expr::Identifier(name),
            ..
        } => Some(&name.value),
        _ => None,
    }
}

/// The value of an argument, named or not.
fn arg_value(arg: &FunctionArg) -> &FunctionArgExpr {
    match arg {
        FunctionArg::Named { arg, .. } | FunctionArg::ExprNamed { arg, .. } => arg,
        FunctionArg::Unnamed(arg) => arg,
    }
}

/// Why a call's arguments do not fit a list of parameters.
enum Problem<'a> {
    /// A parameter before the last one given is missing and has no default.
    Missing(&'a str),
    /// A parameter is given by position and by name.
    Twice(&'a str),
    /// A name is none of the parameters.
    Unknown(String),
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

/// The arguments placed in parameter order, skipped ones filled; the
/// positional arguments come first in `names`.
fn positional<'a>(
    names: &[Option<&str>],
    params: &'a [String],
    fills: &[(&str, Fill)],
) -> std::result::Result<Vec<Slot>, Problem<'a>> {
    let unnamed = names.iter().take_while(|name| name.is_none()).count();
    let mut named: Vec<(usize, usize)> = Vec::new();
    for (arg, name) in names.iter().enumerate().skip(unnamed) {
        let name = name.unwrap_or_default();
        let index = params
            .iter()
            .position(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| Problem::Unknown(name.to_string()))?;
        if index < unnamed {
            return Err(Problem::Twice(&params[index]));
        }
        named.push((index, arg));
    }
    let end = named.iter().map(|(i, _)| i + 1).max().unwrap_or(unnamed);
    let mut slots: Vec<Slot> = (0..unnamed).map(Slot::Given).collect();
    for (index, param) in params.iter().enumerate().take(end).skip(unnamed) {
        if let Some((_, arg)) = named.iter().find(|(i, _)| *i == index) {
            slots.push(Slot::Given(*arg));
            continue;
        }
        match fills.iter().find(|(name, _)| name == param) {
            None => return Err(Problem::Missing(param)),
            Some((_, Fill::Default(value))) => slots.push(Slot::Default(value)),
            Some((_, Fill::Omit)) => {}
        }
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_names_and_fills_skipped_defaults() {
        let slots = placement("CLV_SIMPLE", &[None, None, None, Some("discount_rate")]).unwrap();
        assert_eq!(
            slots,
            Some(vec![
                Slot::Given(0),
                Slot::Given(1),
                Slot::Given(2),
                Slot::Default("1"),
                Slot::Given(3),
            ])
        );
        // The summary form, out of order.
        let slots = placement("p_alive", &[None, Some("model")]).unwrap();
        assert_eq!(slots, Some(vec![Slot::Given(0), Slot::Given(1)]));
        assert_eq!(placement("p_alive", &[None, None]).unwrap(), None);
        assert_eq!(placement("sum", &[Some("x")]).unwrap(), None);
    }

    #[test]
    fn refuses_what_cannot_be_placed() {
        let message = |function: &str, names: &[Option<&str>]| {
            placement(function, names).unwrap_err().strip_backtrace()
        };
        assert!(
            message("rfm_summary", &[None, None, Some("when")])
                .contains("rfm_summary: unknown parameter name 'when'")
        );
        assert!(
            message("clv", &[None, Some("model"), Some("horizon")])
                .contains("clv: argument spend_model is missing")
        );
        assert!(
            message("clv_simple", &[Some("margin"), None])
                .contains("argument 2 is given by position after a named one")
        );
        assert!(message("clv_simple", &[Some("margin"), Some("MARGIN")]).contains("given twice"));
    }
}
