//! `docs/functions.md` is generated from the functions' `#[user_doc]`; this
//! test fails when it is stale (`CLVSQL_UPDATE_DOCS=1 cargo test --test main
//! docs` rewrites it) and runs every SQL example, checking its printed output.

use std::fmt::Write;
use std::path::Path;

use clvsql_udfs::docs::{documented, markdown};
use datafusion::arrow::util::pretty::pretty_format_batches;

fn reference() -> String {
    let mut md = String::from(
        "# clvsql function reference\n\n\
         Generated from the functions' documentation (`#[user_doc]` in `udfs/`) by\n\
         `CLVSQL_UPDATE_DOCS=1 cargo test --test main docs`; do not edit by hand.\n\
         The same text is in `information_schema.routines` and `\\df` in the REPL.\n",
    );
    let mut section = "";
    for (name, doc) in documented() {
        if doc.doc_section.label != section {
            section = doc.doc_section.label;
            write!(md, "\n## {section}\n").unwrap();
        }
        write!(md, "\n### `{name}`\n\n{}", markdown(&doc)).unwrap();
    }
    md
}

#[test]
fn function_reference_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/functions.md");
    let generated = reference();
    if std::env::var_os("CLVSQL_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/functions.md is stale: run `CLVSQL_UPDATE_DOCS=1 cargo test --test main docs`"
    );
}

/// Splits a documented example into its query (after `> `) and the table printed.
fn query_and_table(example: &str) -> (String, String) {
    let body = example
        .trim()
        .trim_start_matches("```sql")
        .trim_end_matches("```")
        .trim();
    let mut query = String::new();
    let mut table = String::new();
    for line in body.lines() {
        if line.starts_with("-- ") {
            continue;
        }
        if table.is_empty() && !line.starts_with('+') {
            query.push_str(line.trim_start_matches("> "));
            query.push('\n');
        } else {
            table.push_str(line);
            table.push('\n');
        }
    }
    (query, table)
}

#[tokio::test]
async fn examples_print_what_the_docs_show() {
    for (name, doc) in documented() {
        let example = doc
            .sql_example
            .as_deref()
            .unwrap_or_else(|| panic!("{name} has no example"));
        let (query, table) = query_and_table(example);
        let ctx = clvsql::session_context().unwrap();
        let batches = match ctx.sql(&query).await {
            Ok(df) => df.collect().await,
            Err(e) => Err(e),
        }
        .unwrap_or_else(|e| panic!("example of {name} fails: {e}"));
        let printed = pretty_format_batches(&batches).unwrap().to_string();
        assert_eq!(printed.trim(), table.trim(), "example of {name}");
    }
}

/// `SHOW FUNCTIONS LIKE 'name'` lists every function of clvsql with its
/// description (scoring functions, whose model arguments are structs, once
/// listed none).
#[tokio::test]
async fn show_functions_lists_every_function() {
    let ctx = clvsql::session_context().unwrap();
    for function in clvsql_udfs::all_functions() {
        let name = function.name();
        let batches = ctx
            .sql(&format!("SHOW FUNCTIONS LIKE '{name}'"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = pretty_format_batches(&batches).unwrap().to_string();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert!(rows > 0, "SHOW FUNCTIONS LIKE '{name}' lists nothing");
        let description = function
            .documentation()
            .unwrap()
            .description
            .lines()
            .next()
            .unwrap();
        assert!(text.contains(&description[..20]), "{name}: {text}");
    }
}
