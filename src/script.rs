//! Splitting SQL text into statements and backslash commands, as the
//! REPL, `-f` scripts and `clvsql serve`'s set-up scripts read it.

/// A piece of input: one SQL statement or one backslash command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Sql(String),
    Command(String),
}

/// Splits `text` into statements (ended by `;` outside quotes and comments)
/// and backslash commands (a line starting with `\` between statements).
/// Returns the items and the unfinished rest.
pub fn split(text: &str) -> (Vec<Item>, String) {
    let mut items = vec![];
    let mut current = String::new();
    let mut lines = text.split_inclusive('\n').peekable();
    let mut state = Scan::Normal;
    while let Some(line) = lines.next() {
        if state == Scan::Normal && current.trim().is_empty() && line.trim_start().starts_with('\\')
        {
            items.push(Item::Command(line.trim().to_string()));
            current.clear();
            continue;
        }
        let mut chars = line.char_indices().peekable();
        while let Some((_, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            current.push(c);
            state = match (state, c, next) {
                (Scan::Normal, '\'', _) => Scan::Single,
                (Scan::Normal, '"', _) => Scan::Double,
                (Scan::Normal, '-', Some('-')) => Scan::LineComment,
                (Scan::Normal, '/', Some('*')) => {
                    current.push('*');
                    chars.next();
                    Scan::BlockComment
                }
                (Scan::Normal, ';', _) => {
                    let statement = current.trim();
                    if statement.len() > 1 {
                        items.push(Item::Sql(statement.to_string()));
                    }
                    current.clear();
                    Scan::Normal
                }
                (Scan::Single, '\'', _) => Scan::Normal,
                (Scan::Double, '"', _) => Scan::Normal,
                (Scan::LineComment, '\n', _) => Scan::Normal,
                (Scan::BlockComment, '*', Some('/')) => {
                    current.push('/');
                    chars.next();
                    Scan::Normal
                }
                (state, _, _) => state,
            };
        }
        if lines.peek().is_none() && state == Scan::LineComment {
            state = Scan::Normal;
        }
    }
    let rest = if is_blank(&current) {
        String::new()
    } else {
        current
    };
    (items, rest)
}

/// Every statement and command of `text`, an unfinished last statement (no
/// `;`) included: a script as it runs.
pub fn items(text: &str) -> Vec<Item> {
    let (mut items, rest) = split(text);
    if !rest.trim().is_empty() {
        items.push(Item::Sql(rest.trim().to_string()));
    }
    items
}

/// An error message on one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `text` holds nothing but white space and comments.
fn is_blank(text: &str) -> bool {
    text.lines()
        .map(|l| l.split("--").next().unwrap_or("").trim())
        .all(str::is_empty)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scan {
    Normal,
    Single,
    Double,
    LineComment,
    BlockComment,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sql(s: &str) -> Item {
        Item::Sql(s.to_string())
    }

    #[test]
    fn splits_statements_and_commands() {
        let (items, rest) =
            split("SELECT 1; SELECT ';' AS x;\n\\d\n-- note; here\nSELECT 2 /* ; */ ;\nSELECT");
        assert_eq!(
            items,
            vec![
                sql("SELECT 1;"),
                sql("SELECT ';' AS x;"),
                Item::Command("\\d".to_string()),
                sql("-- note; here\nSELECT 2 /* ; */ ;"),
            ]
        );
        assert_eq!(rest, "\nSELECT");
    }

    #[test]
    fn comments_alone_are_not_statements() {
        let (items, rest) = split("-- just a comment\n");
        assert!(items.is_empty());
        assert_eq!(rest, "");
        let (items, _) = split("SELECT 'it''s';");
        assert_eq!(items, vec![sql("SELECT 'it''s';")]);
    }

    #[test]
    fn errors_fit_on_one_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
    }
}
