//! Backslash commands of the REPL (and of `-f` files), as in psql.

use std::path::Path;

use datafusion::error::{DataFusionError, Result};

use clvsql::script::Item;

use crate::exec::Session;
use crate::print::Format;

pub enum Action {
    Continue,
    Quit,
}

const HELP: &str = r"Commands:
  \d              list tables
  \d NAME         describe table NAME
  \df [PATTERN]   list clvsql's functions, or all functions matching PATTERN (* is a wildcard)
  \i FILE         run the statements of FILE
  \pset [format table|csv|json|ndjson] [maxrows N]   show or set output options
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
        ("\\?" | "\\h" | "\\help", _) => println!("{HELP}"),
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
                format!("routine_name LIKE {}", quote(&pattern.replace('*', "%")))
            };
            sql(
                session,
                &format!(
                    "SELECT DISTINCT routine_name AS name, function_type AS type, syntax_example AS syntax \
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
        ("\\stores", _) => {
            if let Some(url) = &session.remote {
                println!(
                    "On {url} the scheduler and each executor open object stores from their own environment (AWS_* and the like); the list below is this client's, which lists files for CREATE EXTERNAL TABLE."
                );
            }
            let stores = session.stores.stores();
            if stores.is_empty() {
                println!(
                    "No object stores in use yet; s3://, gs:// and az:// locations open one on first use."
                );
            }
            for (url, origin) in stores {
                println!("{url}  ({origin})");
            }
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
            println!(
                "Timing is {}.",
                if session.print.timing { "on" } else { "off" }
            );
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

fn pset(session: &mut Session, options: &str) -> Result<()> {
    let words: Vec<&str> = options.split_whitespace().collect();
    for pair in words.chunks(2) {
        match pair {
            ["format", name] => {
                session.print.format = Format::parse(name).ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "unknown format '{name}': use table, csv, json or ndjson"
                    ))
                })?
            }
            ["maxrows", n] => {
                session.print.maxrows = n.parse().map_err(|_| {
                    DataFusionError::Plan(format!("maxrows takes a number (0 for all), got '{n}'"))
                })?
            }
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "\\pset takes 'format NAME' and 'maxrows N', got '{options}'"
                )));
            }
        }
    }
    println!(
        "format {}, maxrows {}",
        session.print.format.name(),
        session.print.maxrows
    );
    Ok(())
}
