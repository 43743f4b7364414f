//! Backslash commands of the REPL (and of `-f` files), as in psql.

use std::path::Path;

use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Documentation;

use clvsql::script::Item;

use crate::exec::Session;
use crate::print::{Expanded, Format};

pub enum Action {
    Continue,
    Quit,
}

const HELP: &str = r"Commands:
  \d              list tables
  \d NAME         describe table NAME
  \df [PATTERN]   list clvsql's functions (a line each), or all functions matching PATTERN (* is a wildcard)
  \df+ [PATTERN]  the same with each function's description, arguments and example
  \i FILE         run the statements of FILE
  \pset [OPTION VALUE ...]  show or set output options:
                  format table|csv|json|ndjson, maxrows N (0: all), digits N (0: all),
                  null TEXT, thousands on|off, expanded on|off|auto, columns N (0: terminal)
  \x [on|off|auto]  expanded output: one field a line, structs unfolded
  \chart [histogram [BINS]]  draw the last result: bars for label/number rows,
                  a histogram for one numeric column
  \timing [on|off]  show how long each statement takes
  \stores         list the object stores in use (s3://, gs://, az://)
  \q              quit
  \?              this help
Statements end with ';' and may span lines. Ctrl-C cancels a running query, Ctrl-D quits.";

/// SQL string literal of `text`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub async fn run(session: &mut Session, line: &str) -> Result<Action> {
    let line = line.trim().trim_end_matches(';');
    let (name, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    match (name, rest) {
        ("\\q" | "\\quit", _) => return Ok(Action::Quit),
        ("\\?" | "\\h" | "\\help", _) => session.say(HELP),
        ("\\d", "") => {
            sql(
                session,
                "SELECT table_schema, table_name, table_type FROM information_schema.tables \
                 WHERE table_schema <> 'information_schema' ORDER BY table_schema, table_name",
            )
            .await?
        }
        ("\\d", table) => {
            let count = session
                .ctx
                .sql(&format!(
                    "SELECT 1 FROM information_schema.tables WHERE table_name = {}",
                    quote(table)
                ))
                .await?
                .count()
                .await?;
            if count == 0 {
                return Err(DataFusionError::Plan(format!(
                    "no table named '{table}'; \\d lists the tables"
                )));
            }
            sql(
                session,
                &format!(
                    "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE table_name = {} ORDER BY ordinal_position",
                    quote(table)
                ),
            )
            .await?
        }
        ("\\df+", pattern) => describe_functions(session, pattern)?,
        ("\\df", pattern) => {
            let filter = if pattern.is_empty() {
                let names: Vec<String> = clvsql_udfs::scalar_functions()
                    .iter()
                    .map(|f| quote(f.name()))
                    .chain(
                        clvsql_udfs::aggregate_functions()
                            .iter()
                            .map(|f| quote(f.name())),
                    )
                    .chain(
                        clvsql_udfs::window_functions()
                            .iter()
                            .map(|f| quote(f.name())),
                    )
                    .collect();
                format!("routine_name IN ({})", names.join(", "))
            } else {
                format!("routine_name ILIKE {}", quote(&pattern.replace('*', "%")))
            };
            sql(
                session,
                &format!(
                    "SELECT DISTINCT routine_name AS name, lower(function_type) AS type, \
                     split_part(description, chr(10), 1) AS description \
                     FROM information_schema.routines WHERE {filter} ORDER BY name"
                ),
            )
            .await?
        }
        ("\\i" | "\\include", "") => {
            return Err(DataFusionError::Plan("\\i needs a file name".to_string()));
        }
        ("\\i" | "\\include", file) => session.run_file(Path::new(file)).await?,
        ("\\pset", options) => pset(session, options)?,
        ("\\x", setting) => {
            session.print.expanded = match setting {
                "" if session.print.expanded == Expanded::Off => Expanded::On,
                "" => Expanded::Off,
                other => Expanded::parse(other).ok_or_else(|| {
                    DataFusionError::Plan(format!("\\x takes on, off or auto, got '{other}'"))
                })?,
            };
            let text = format!("Expanded display is {}.", session.print.expanded.name());
            session.say(&text);
        }
        ("\\chart", args) => {
            let Some((schema, batches)) = &session.last else {
                return Err(DataFusionError::Plan(
                    "\\chart draws the last result: run a query first".to_string(),
                ));
            };
            let width = session.print.width().unwrap_or(80);
            let text = crate::chart::chart(schema, batches, args, &session.print.style, width)?;
            session.say(text.trim_end_matches('\n'));
        }
        ("\\stores", _) => {
            let mut lines = vec![];
            if let Some(url) = &session.remote {
                lines.push(format!(
                    "On {url} the scheduler and each executor open object stores from their own environment (AWS_* and the like); the list below is this client's, which lists files for CREATE EXTERNAL TABLE."
                ));
            }
            let stores = session.stores.stores();
            if stores.is_empty() {
                lines.push(
                    "No object stores in use yet; s3://, gs:// and az:// locations open one on first use."
                        .to_string(),
                );
            }
            for (url, origin) in stores {
                lines.push(format!("{url}  ({origin})"));
            }
            session.say(&lines.join("\n"));
        }
        ("\\timing", setting) => {
            session.print.timing = match setting {
                "" => !session.print.timing,
                "on" => true,
                "off" => false,
                other => {
                    return Err(DataFusionError::Plan(format!(
                        "\\timing takes on or off, got '{other}'"
                    )));
                }
            };
            let text = format!(
                "Timing is {}.",
                if session.print.timing { "on" } else { "off" }
            );
            session.say(&text);
        }
        _ => {
            return Err(DataFusionError::Plan(format!(
                "unknown command {name}; \\? lists the commands"
            )));
        }
    }
    Ok(Action::Continue)
}

async fn sql(session: &mut Session, query: &str) -> Result<()> {
    session.run_item(&Item::Sql(query.to_string())).await
}

/// The words of a command's arguments; `'...'` quotes one with spaces
/// (`''` inside is a quote), so `\pset null ''` sets an empty text.
fn words(text: &str) -> Result<Vec<String>> {
    let mut words = vec![];
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        word.push('\'');
                    }
                    Some('\'') => break,
                    Some(c) => word.push(c),
                    None => {
                        return Err(DataFusionError::Plan(format!(
                            "unterminated quote in '{text}'"
                        )));
                    }
                }
            }
            words.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                word.push(c);
                chars.next();
            }
            words.push(word);
        }
    }
    Ok(words)
}

fn on_off(option: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err(DataFusionError::Plan(format!(
            "\\pset {option} takes on or off, got '{value}'"
        ))),
    }
}

fn number(option: &str, value: &str) -> Result<usize> {
    value.parse().map_err(|_| {
        DataFusionError::Plan(format!(
            "\\pset {option} takes a number (0 for {}), got '{value}'",
            if option == "columns" {
                "the terminal's width"
            } else {
                "all"
            }
        ))
    })
}

fn pset(session: &mut Session, options: &str) -> Result<()> {
    let words = words(options)?;
    if words.len() % 2 == 1 {
        return Err(DataFusionError::Plan(format!(
            "\\pset takes OPTION VALUE pairs, got '{options}'; \\? lists the options"
        )));
    }
    for pair in words.chunks(2) {
        let (option, value) = (pair[0].as_str(), pair[1].as_str());
        let print = &mut session.print;
        match option {
            "format" => {
                print.format = Format::parse(value).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "unknown format '{value}': use table, csv, json or ndjson"
                    ))
                })?
            }
            "maxrows" => print.maxrows = number(option, value)?,
            "digits" => {
                let digits = number(option, value)?;
                if digits > 17 {
                    return Err(DataFusionError::Plan(format!(
                        "\\pset digits takes 0 (every digit) to 17, got {digits}"
                    )));
                }
                print.style.digits = digits;
            }
            "null" => print.style.null = value.to_string(),
            "thousands" => print.style.thousands = on_off(option, value)?,
            "expanded" => {
                print.expanded = Expanded::parse(value).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "\\pset expanded takes on, off or auto, got '{value}'"
                    ))
                })?
            }
            "columns" => print.columns = number(option, value)?,
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "unknown \\pset option '{option}': use format, maxrows, digits, null, thousands, expanded or columns"
                )));
            }
        }
    }
    let print = &session.print;
    let text = format!(
        "format {}, maxrows {}, digits {}, null '{}', thousands {}, expanded {}, columns {}",
        print.format.name(),
        print.maxrows,
        print.style.digits,
        print.style.null,
        if print.style.thousands { "on" } else { "off" },
        print.expanded.name(),
        print.columns
    );
    session.say(&text);
    Ok(())
}

/// `\df+`: each function matching `pattern` (clvsql's without one) with
/// its description, arguments and example.
fn describe_functions(session: &mut Session, pattern: &str) -> Result<()> {
    let state = session.ctx.state();
    let mut found: Vec<(String, &str, Documentation)> = vec![];
    let matches = |name: &str| {
        if pattern.is_empty() {
            clvsql_udfs::all_functions()
                .iter()
                .any(|f| f.name() == name)
        } else {
            like(&pattern.to_ascii_lowercase(), name)
        }
    };
    let documented = state
        .scalar_functions()
        .iter()
        .map(|(name, f)| (name, "scalar", f.documentation()))
        .chain(
            state
                .aggregate_functions()
                .iter()
                .map(|(name, f)| (name, "aggregate", f.documentation())),
        )
        .chain(
            state
                .window_functions()
                .iter()
                .map(|(name, f)| (name, "window", f.documentation())),
        );
    for (name, kind, doc) in documented {
        if let Some(doc) = doc.filter(|_| matches(name)) {
            found.push((name.clone(), kind, doc.clone()));
        }
    }
    if found.is_empty() {
        return Err(DataFusionError::Plan(format!(
            "no function matches '{pattern}'; \\df lists clvsql's functions"
        )));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind, doc) in found {
        session.say(&format!(
            "{name} ({kind} function)\n\n{}",
            clvsql_udfs::docs::markdown(&doc)
        ));
    }
    Ok(())
}

/// Whether `name` matches `pattern`, where `*` and `%` match any text and
/// `_` one character (as `\df` and SQL's LIKE).
fn like(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // matched[j]: whether the pattern so far matches the first j characters.
    let mut matched = vec![false; n.len() + 1];
    matched[0] = true;
    for &c in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            next[j] = match c {
                '*' | '%' => matched[j] || (j > 0 && next[j - 1]),
                '_' => j > 0 && matched[j - 1],
                c => j > 0 && matched[j - 1] && n[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[n.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_words() {
        assert!(like("clv", "clv") && !like("clv", "clv_simple"));
        assert!(like("clv*", "clv_simple") && like("%alive", "p_alive"));
        assert!(like("p_alive", "p_alive") && like("p_alive", "pxalive"));
        assert_eq!(
            words("null '' thousands on").unwrap(),
            ["null", "", "thousands", "on"]
        );
        assert_eq!(
            words("null 'it''s (none)'").unwrap(),
            ["null", "it's (none)"]
        );
        assert!(words("null 'open").is_err());
    }
}
