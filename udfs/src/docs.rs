//! The functions' reference, from their `#[user_doc]`: the text of
//! `docs/functions.md` and of the Python package's docstrings.

use std::fmt::Write;

use datafusion_expr::Documentation;

/// The order of the reference's sections.
const SECTIONS: [&str; 6] = [
    "Customer summaries",
    "RFM scoring",
    "Customer lifetime value",
    "Probabilistic models",
    "Subscriptions",
    "Display",
];

/// Every function's name and documentation, by section and name.
pub fn documented() -> Vec<(String, Documentation)> {
    let mut docs: Vec<(String, Documentation)> = crate::all_functions()
        .iter()
        .filter_map(|f| Some((f.name().to_string(), f.documentation()?.clone())))
        .collect();
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

/// One function's reference in Markdown: description, syntax, arguments,
/// example and related functions.
pub fn markdown(doc: &Documentation) -> String {
    let mut md = format!(
        "{}\n\n```sql\n{}\n```\n",
        doc.description.trim(),
        doc.syntax_example
    );
    if let Some(arguments) = &doc.arguments {
        md.push_str("\n#### Arguments\n\n");
        for (arg, text) in arguments {
            // Writing to a String cannot fail.
            let _ = writeln!(md, "- `{arg}`: {text}");
        }
    }
    if let Some(example) = &doc.sql_example {
        let _ = write!(md, "\n#### Example\n\n{}\n", example.trim());
    }
    if let Some(related) = &doc.related_udfs {
        let links: Vec<String> = related.iter().map(|r| format!("[`{r}`](#{r})")).collect();
        let _ = write!(md, "\nSee also {}.\n", links.join(", "));
    }
    md
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_function_is_documented() {
        assert_eq!(super::documented().len(), crate::all_functions().len());
    }
}
