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

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::LazyLock;

use datafusion_common::{DataFusionError, Result, plan_err};
use datafusion_sql::parser::{CopyToSource, Statement};
use datafusion_sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Value, VisitMut,
    visit_expressions_mut,
};
use datafusion_sql::sqlparser::tokenizer::Span;

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
///
/// A function with a summary form (`p_alive(summary, model)` beside
/// `p_alive(frequency, recency, t, model)`) is placed in the form the names
/// fit. Where they fit both, which only the first argument's type could
/// tell apart (and this runs before types are known), the form taking
/// columns wins: the one case, `clv_interval` with seven arguments by
/// position and `level` by name, then fails on the number of arguments if
/// its first is a summary, never computing with arguments out of place.
pub fn placement(function: &str, names: &[Option<&str>]) -> Result<Option<Vec<Slot>>> {
    let function = function.to_ascii_lowercase();
    let Some(params) = PARAMETERS.get(function.as_str()) else {
        return Ok(None);
    };
    let params: Vec<&str> = params.iter().map(String::as_str).collect();
    if names.iter().all(Option::is_none) {
        return Ok(None);
    }
    let given: Vec<&str> = names.iter().flatten().copied().collect();
    if let Some((_, name)) = given
        .iter()
        .enumerate()
        .find(|(i, name)| given[..*i].iter().any(|n| n.eq_ignore_ascii_case(name)))
    {
        return plan_err!("{function}: argument {name} is given twice");
    }
    let unnamed = names.iter().take_while(|name| name.is_none()).count();
    if let Some(i) = names[unnamed..].iter().position(Option::is_none) {
        return plan_err!(
            "{function}: argument {} is given by position after a named one",
            unnamed + i + 1
        );
    }
    let fills = SKIPPABLE
        .iter()
        .find(|(f, _)| *f == function)
        .map_or(&[][..], |(_, fills)| *fills);
    let columns = positional(names, &params, fills);
    let Some(summary) = crate::summary_form(&function) else {
        return columns
            .map(Some)
            .map_err(|problem| problem.error(&function, &[&params]));
    };
    let problem = match (columns, positional(names, summary, fills)) {
        (Ok(slots), _) | (Err(_), Ok(slots)) => return Ok(Some(slots)),
        (Err(problem), Err(other)) => {
            // The form that knows more of the names is the one meant; on
            // a tie, a gap where a summary would stand means the summary
            // form.
            let known = |form: &[&str]| {
                given
                    .iter()
                    .filter(|name| position(form, name).is_some())
                    .count()
            };
            let prefer_summary = match known(summary).cmp(&known(&params)) {
                Ordering::Greater => true,
                Ordering::Less => false,
                Ordering::Equal => problem.is_summarised(&params, summary),
            };
            if prefer_summary { other } else { problem }
        }
    };
    Err(problem.error(&function, &[&params, summary]))
}

/// Rewrites the calls of clvsql's functions with named arguments in
/// `statement` to positional ones; other calls stay as they are.
pub fn place_named_arguments(statement: &mut Statement) -> Result<()> {
    visit_calls(statement, &mut |name, _, list| {
        let Some(slots) = call_placement(name, list)? else {
            return Ok(());
        };
        list.args = slots
            .iter()
            .map(|slot| {
                FunctionArg::Unnamed(match slot {
                    Slot::Given(i) => arg_value(&list.args[*i]).clone(),
                    Slot::Default(value) => {
                        FunctionArgExpr::Expr(Expr::value(Value::Number(value.to_string(), false)))
                    }
                })
            })
            .collect();
        Ok(())
    })
}

/// A call of one of clvsql's functions with named arguments.
#[derive(Debug)]
pub struct NamedCall {
    /// Where the function's name is in the SQL text.
    pub name: Span,
    /// Whether each of the call's arguments is named.
    pub named: Vec<bool>,
    /// The arguments of the positional call standing for it.
    pub slots: Vec<Slot>,
}

/// The calls of clvsql's functions with named arguments in `statement`,
/// for tools that place them in the SQL text.
pub fn named_calls(statement: &mut Statement) -> Result<Vec<NamedCall>> {
    let mut calls = vec![];
    visit_calls(statement, &mut |function, name, list| {
        if let Some(slots) = call_placement(function, list)? {
            let named = list
                .args
                .iter()
                .map(|arg| !matches!(arg, FunctionArg::Unnamed(_)))
                .collect();
            calls.push(NamedCall { name, named, slots });
        }
        Ok(())
    })?;
    Ok(calls)
}

/// [`placement`] of a call's argument list.
fn call_placement(function: &str, list: &FunctionArgumentList) -> Result<Option<Vec<Slot>>> {
    match argument_names(&list.args) {
        Some(names) => placement(function, &names),
        None => Ok(None),
    }
}

/// Calls `f` with the name, the name's place in the text and the argument
/// list of every call with a one-part name in `statement`.
fn visit_calls(
    statement: &mut Statement,
    f: &mut dyn FnMut(&str, Span, &mut FunctionArgumentList) -> Result<()>,
) -> Result<()> {
    match statement {
        Statement::Statement(statement) => visit_query_calls(statement.as_mut(), f),
        Statement::CopyTo(copy) => match &mut copy.source {
            CopyToSource::Query(query) => visit_query_calls(query.as_mut(), f),
            CopyToSource::Relation(_) => Ok(()),
        },
        Statement::Explain(explain) => visit_calls(&mut explain.statement, f),
        Statement::CreateExternalTable(_) | Statement::Reset(_) => Ok(()),
    }
}

fn visit_query_calls<V: VisitMut>(
    node: &mut V,
    f: &mut dyn FnMut(&str, Span, &mut FunctionArgumentList) -> Result<()>,
) -> Result<()> {
    let flow = visit_expressions_mut(node, |expr| {
        if let Expr::Function(function) = expr
            && let [name] = function.name.0.as_slice()
            && let Some(name) = name.as_ident()
            && let FunctionArguments::List(list) = &mut function.args
            && let Err(e) = f(&name.value, name.span, list)
        {
            return ControlFlow::Break(e);
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
    crate::all_functions()
        .iter()
        .filter_map(|f| Some((f.name().to_string(), f.signature().parameter_names.clone()?)))
        .collect()
});

/// The names of a call's arguments (`None`: given by position); `None`
/// when one is named by something other than a plain identifier (`a.b =>
/// 1`), which is left for DataFusion to refuse.
pub fn argument_names(args: &[FunctionArg]) -> Option<Vec<Option<&str>>> {
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(_) => Some(None),
            FunctionArg::Named { name, .. } => Some(Some(name.value.as_str())),
            FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                ..
            } => Some(Some(name.value.as_str())),
            FunctionArg::ExprNamed { .. } => None,
        })
        .collect()
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
    fn is_summarised(&self, params: &[&str], summary: &[&str]) -> bool {
        let (Self::Missing(param) | Self::Twice(param)) = self else {
            return false;
        };
        params.contains(param) && !summary.contains(param)
    }

    /// The error for a call of `function`, whose forms take `forms`.
    fn error(self, function: &str, forms: &[&[&str]]) -> DataFusionError {
        let message = match self {
            Self::Missing(param) => format!(
                "argument {param} is missing; named arguments may leave out only optional parameters"
            ),
            Self::Twice(param) => {
                format!("argument {param} is given twice, by position and by name")
            }
            Self::Unknown(name) => {
                let forms: Vec<String> = forms.iter().map(|form| form.join(", ")).collect();
                format!(
                    "unknown parameter name '{name}' (its parameters: {})",
                    forms.join("; or ")
                )
            }
        };
        DataFusionError::Plan(format!("{function}: {message}"))
    }
}

/// Where `name` is among `params`, case aside.
fn position(params: &[&str], name: &str) -> Option<usize> {
    params.iter().position(|p| p.eq_ignore_ascii_case(name))
}

/// The arguments placed in parameter order, skipped ones filled; the
/// positional arguments come first in `names`.
fn positional<'a>(
    names: &[Option<&str>],
    params: &[&'a str],
    fills: &[(&str, Fill)],
) -> std::result::Result<Vec<Slot>, Problem<'a>> {
    let unnamed = names.iter().take_while(|name| name.is_none()).count();
    let mut named: Vec<(usize, usize)> = Vec::new();
    for (arg, name) in names.iter().enumerate().skip(unnamed) {
        let name = name.unwrap_or_default();
        let index = position(params, name).ok_or_else(|| Problem::Unknown(name.to_string()))?;
        if index < unnamed {
            return Err(Problem::Twice(params[index]));
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

    #[test]
    fn the_form_the_names_fit_is_the_one_blamed() {
        let message = |function: &str, names: &[Option<&str>]| {
            placement(function, names).unwrap_err().strip_backtrace()
        };
        // Most names are the column form's: its mistake is reported.
        let typo = [Some("frequency"), Some("recncy"), Some("t"), Some("model")];
        assert!(
            message("p_alive", &typo).contains(
                "p_alive: unknown parameter name 'recncy' (its parameters: frequency, recency, t, model; or summary, model)"
            ),
            "{}",
            message("p_alive", &typo)
        );
        assert!(
            message("p_alive", &[None, None, None, Some("recency")])
                .contains("argument recency is given twice, by position and by name")
        );
        assert!(
            message("bgnbd_fit", &[None, None, None, Some("penalty")]).contains(
                "unknown parameter name 'penalty' (its parameters: frequency, recency, t, penalizer; or summary, penalizer)"
            )
        );
    }

    #[test]
    fn names_that_fit_both_forms_place_the_columns() {
        // clv_interval(f, r, t, m, model, spend, 52, level => 0.8) and
        // clv_interval(s, model, spend, 52, 0, 0, 0, level => 0.8) look the
        // same before types are known: the columns are placed, with the
        // skipped rates' defaults (the second then has too many arguments).
        let names = [None, None, None, None, None, None, None, Some("level")];
        let mut placed: Vec<Slot> = (0..7).map(Slot::Given).collect();
        placed.extend([Slot::Default("0"), Slot::Default("0"), Slot::Default("0")]);
        placed.push(Slot::Given(7));
        assert_eq!(placement("clv_interval", &names).unwrap(), Some(placed));
        // Naming the first argument places the summary form.
        let summary = [
            Some("summary"),
            Some("model"),
            Some("spend_model"),
            Some("horizon"),
            Some("level"),
        ];
        let mut placed: Vec<Slot> = (0..4).map(Slot::Given).collect();
        placed.extend([Slot::Default("0"), Slot::Default("0"), Slot::Default("0")]);
        placed.push(Slot::Given(4));
        assert_eq!(placement("clv_interval", &summary).unwrap(), Some(placed));
    }
}
