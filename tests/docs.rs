//! `docs/functions.md` is generated from the functions' `#[user_doc]`; this
//! test fails when it is stale (`CLVSQL_UPDATE_DOCS=1 cargo test --test main
//! docs` rewrites it) and runs every SQL example, checking its printed output.

use std::fmt::Write;
use std::path::Path;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::logical_expr::Documentation;

/// Every function's name and documentation, by section and name.
fn documented() -> Vec<(String, Documentation)> {
    let mut docs: Vec<(String, Documentation)> = vec![];
    for f in clvsql_udfs::scalar_functions() {
        docs.push((
            f.name().to_string(),
            f.documentation().expect("documented").clone(),
        ));
    }
    for f in clvsql_udfs::aggregate_functions() {
        docs.push((
            f.name().to_string(),
            f.documentation().expect("documented").clone(),
        ));
    }
    for f in clvsql_udfs::window_functions() {
        docs.push((
            f.name().to_string(),
            f.documentation().expect("documented").clone(),
        ));
    }
    const SECTIONS: [&str; 4] = [
        "Customer summaries",
        "RFM scoring",
        "Customer lifetime value",
        "Probabilistic models",
    ];
    let rank = |label: &str| {
        SECTIONS
            .iter()
            .position(|s| *s == label)
            .unwrap_or(SECTIONS.len())
    };
    docs.sort_by(|(a, da), (b, db)| {
        (rank(da.doc_section.label), a).cmp(&(rank(db.doc_section.label), b))
    });
    docs
}

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
        write!(
            md,
            "\n### `{name}`\n\n{}\n\n```sql\n{}\n```\n",
            doc.description.trim(),
            doc.syntax_example
        )
        .unwrap();
        if let Some(arguments) = &doc.arguments {
            md.push_str("\n#### Arguments\n\n");
            for (arg, text) in arguments {
                writeln!(md, "- `{arg}`: {text}").unwrap();
            }
        }
        if let Some(example) = &doc.sql_example {
            write!(md, "\n#### Example\n\n{}\n", example.trim()).unwrap();
        }
        if let Some(related) = &doc.related_udfs {
            let links: Vec<String> = related.iter().map(|r| format!("[`{r}`](#{r})")).collect();
            write!(md, "\nSee also {}.\n", links.join(", ")).unwrap();
        }
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
