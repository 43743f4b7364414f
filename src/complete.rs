//! Tab completion in the REPL: SQL keywords, table and column names,
//! function names (clvsql's and DataFusion's), backslash commands, and
//! file paths inside quotes or after `\i`.

use std::path::Path;

use datafusion::prelude::SessionContext;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

/// Backslash commands, as `\?` lists them.
const COMMANDS: &[&str] = &[
    "\\?",
    "\\chart",
    "\\d",
    "\\df",
    "\\df+",
    "\\help",
    "\\i",
    "\\include",
    "\\pset",
    "\\q",
    "\\quit",
    "\\stores",
    "\\timing",
    "\\x",
];

/// The SQL keywords offered, in upper case (typed lower case, they are
/// offered in lower case).
const KEYWORDS: &[&str] = &[
    "ALL",
    "ALTER",
    "AND",
    "ANALYZE",
    "ARRAY",
    "AS",
    "ASC",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "COPY",
    "CREATE",
    "CROSS",
    "CURRENT_DATE",
    "DATE",
    "DESC",
    "DESCRIBE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "EXCEPT",
    "EXISTS",
    "EXPLAIN",
    "EXTERNAL",
    "FALSE",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FROM",
    "FULL",
    "FUNCTIONS",
    "GROUP",
    "HAVING",
    "IF",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LAST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOCATION",
    "NOT",
    "NULL",
    "NULLS",
    "OFFSET",
    "ON",
    "OPTIONS",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARQUET",
    "PARTITION",
    "PRECEDING",
    "RIGHT",
    "ROWS",
    "SELECT",
    "SET",
    "SHOW",
    "STORED",
    "TABLE",
    "TABLES",
    "THEN",
    "TO",
    "TRUE",
    "UNION",
    "USING",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "CSV",
    "REPLACE",
];

/// The names the completer offers, refreshed from the session after each
/// statement ([`Names::of`]).
#[derive(Debug, Default, Clone)]
pub struct Names {
    tables: Vec<String>,
    /// Each table's columns.
    columns: Vec<(String, Vec<String>)>,
    functions: Vec<String>,
}

impl Names {
    /// The tables (of the default schema), their columns and the functions
    /// of `ctx`.
    pub async fn of(ctx: &SessionContext) -> Names {
        let state = ctx.state();
        let mut functions: Vec<String> = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .cloned()
            .collect();
        functions.sort();
        functions.dedup();
        let options = state.config().options();
        let schema = ctx
            .catalog(&options.catalog.default_catalog)
            .and_then(|c| c.schema(&options.catalog.default_schema));
        let mut names = Names {
            functions,
            ..Names::default()
        };
        if let Some(schema) = schema {
            let mut tables = schema.table_names();
            tables.sort();
            for table in &tables {
                if let Ok(Some(provider)) = schema.table(table).await {
                    let columns = provider
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect();
                    names.columns.push((table.clone(), columns));
                }
            }
            names.tables = tables;
        }
        names
    }
}

/// The REPL's helper: completion only (no hints, colours or validation).
#[derive(Default)]
pub struct ReplHelper {
    pub names: Names,
}

impl Helper for ReplHelper {}
impl Hinter for ReplHelper {
    type Hint = String;
}
impl Highlighter for ReplHelper {}
impl Validator for ReplHelper {}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, mut found) = self.candidates(&line[..pos]);
        // A file's path inside quotes comes with the closing quote, unless
        // one is already there.
        if line[pos..].starts_with('\'') {
            for pair in &mut found {
                if let Some(path) = pair.replacement.strip_suffix('\'') {
                    pair.replacement = path.to_string();
                }
            }
        }
        Ok((start, found))
    }
}

fn pair(text: String) -> Pair {
    Pair {
        display: text.clone(),
        replacement: text,
    }
}

impl ReplHelper {
    /// Where the word before the cursor starts, and what may replace it.
    fn candidates(&self, before: &str) -> (usize, Vec<Pair>) {
        // Inside an open quote: a file path.
        if before.matches('\'').count() % 2 == 1 {
            let start = before.rfind('\'').expect("a quote") + 1;
            let mut found = paths(&before[start..]);
            for pair in &mut found {
                if !pair.replacement.ends_with('/') {
                    pair.replacement.push('\'');
                }
            }
            return (start, found);
        }
        let trimmed = before.trim_start();
        if trimmed.starts_with('\\') {
            if let Some(rest) = trimmed
                .strip_prefix("\\i ")
                .or_else(|| trimmed.strip_prefix("\\include "))
            {
                let start = before.len() - rest.trim_start().len();
                return (start, paths(&before[start..]));
            }
            if !trimmed.contains(char::is_whitespace) {
                let start = before.len() - trimmed.len();
                let matches = COMMANDS
                    .iter()
                    .filter(|c| c.starts_with(trimmed))
                    .map(|c| pair(c.to_string()))
                    .collect();
                return (start, matches);
            }
            if trimmed.starts_with("\\d ") || trimmed.starts_with("\\df") {
                let start = word_start(before);
                let word = &before[start..];
                let names: Vec<&String> = if trimmed.starts_with("\\df") {
                    self.names.functions.iter().collect()
                } else {
                    self.names.tables.iter().collect()
                };
                return (start, matching(names.into_iter().map(String::as_str), word));
            }
            return (before.len(), vec![]);
        }
        let start = word_start(before);
        let word = &before[start..];
        if word.is_empty() {
            return (start, vec![]);
        }
        // `table.col`: that table's columns.
        if let Some((table, column)) = word.rsplit_once('.') {
            let columns = self
                .names
                .columns
                .iter()
                .filter(|(t, _)| t.eq_ignore_ascii_case(table))
                .flat_map(|(_, columns)| columns.iter().map(String::as_str));
            let start = start + table.len() + 1;
            return (start, matching(columns, column));
        }
        let lower = word.chars().all(|c| !c.is_ascii_uppercase());
        let keywords = KEYWORDS.iter().map(|k| {
            if lower {
                k.to_ascii_lowercase()
            } else {
                k.to_string()
            }
        });
        let keywords: Vec<String> = keywords.collect();
        let names = self
            .names
            .tables
            .iter()
            .chain(self.names.columns.iter().flat_map(|(_, c)| c))
            .chain(&self.names.functions)
            .map(String::as_str)
            .chain(keywords.iter().map(String::as_str));
        (start, matching(names, word))
    }
}

/// The start of the identifier (letters, digits, `_`, `.`) before the end
/// of `text`.
fn word_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
        .last()
        .map_or(text.len(), |(i, _)| i)
}

/// The distinct `names` that start with `word` (ignoring case), sorted.
fn matching<'a>(names: impl Iterator<Item = &'a str>, word: &str) -> Vec<Pair> {
    let word = word.to_ascii_lowercase();
    let mut found: Vec<&str> = names
        .filter(|name| name.to_ascii_lowercase().starts_with(&word))
        .collect();
    found.sort_unstable();
    found.dedup();
    found.into_iter().map(|n| pair(n.to_string())).collect()
}

/// Files and folders whose path starts with `typed` (folders end in `/`).
fn paths(typed: &str) -> Vec<Pair> {
    let (folder, prefix) = match typed.rfind('/') {
        Some(i) => (&typed[..=i], &typed[i + 1..]),
        None => ("", typed),
    };
    let expanded = match folder.strip_prefix("~/") {
        Some(rest) => std::env::var("HOME").map_or(folder.to_string(), |h| format!("{h}/{rest}")),
        None => folder.to_string(),
    };
    let dir = if expanded.is_empty() { "." } else { &expanded };
    let Ok(entries) = std::fs::read_dir(Path::new(dir)) else {
        return vec![];
    };
    let mut found: Vec<String> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            if !name.starts_with(prefix) || (prefix.is_empty() && name.starts_with('.')) {
                return None;
            }
            let slash = if entry.path().is_dir() { "/" } else { "" };
            Some(format!("{folder}{name}{slash}"))
        })
        .collect();
    found.sort();
    found.into_iter().map(pair).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        ReplHelper {
            names: Names {
                tables: vec!["customers".to_string(), "tx".to_string()],
                columns: vec![(
                    "customers".to_string(),
                    vec!["customer_id".to_string(), "s".to_string()],
                )],
                functions: vec!["p_alive".to_string(), "power".to_string()],
            },
        }
    }

    fn offered(before: &str) -> (usize, Vec<String>) {
        let (start, pairs) = helper().candidates(before);
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn completes_names_keywords_and_commands() {
        assert_eq!(offered("SELECT p_"), (7, vec!["p_alive".to_string()]));
        assert_eq!(offered("select po"), (7, vec!["power".to_string()]));
        assert_eq!(offered("SELECT * FR"), (9, vec!["FROM".to_string()]));
        assert_eq!(offered("SELECT * fr"), (9, vec!["from".to_string()]));
        assert_eq!(
            offered("SELECT customers.cu"),
            (17, vec!["customer_id".to_string()])
        );
        assert_eq!(offered("SELECT cust").1, ["customer_id", "customers"]);
        assert_eq!(
            offered("\\d"),
            (
                0,
                vec!["\\d".to_string(), "\\df".to_string(), "\\df+".to_string()]
            )
        );
        assert_eq!(offered("\\d cu"), (3, vec!["customers".to_string()]));
        assert_eq!(offered("\\df+ p_a").1, ["p_alive"]);
    }

    #[test]
    fn completes_paths_in_quotes() {
        let (start, found) = offered("SELECT * FROM 'sql/rfm_seg");
        assert_eq!(start, 15);
        assert_eq!(found, ["sql/rfm_segments.sql'", "sql/rfm_segments_s3.sql'"]);
        let (_, found) = offered("\\i sql/coh");
        assert_eq!(found, ["sql/cohorts.sql"]);
        let (_, found) = offered("SELECT * FROM 'dat");
        assert_eq!(found, ["data/"]);
    }
}
