//! Splitting SQL text into statements and backslash commands, as the
//! REPL, `-f` scripts and `clvsql serve`'s set-up scripts read it.

/// A piece of input: one SQL statement or one backslash command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Sql(String),
    Command(String),
}

/// Splits `text` into statements (ended by `;` outside quotes and comments)
/// and backslash commands (a line starting with `\` outside quotes and
/// comments; inside an unfinished statement the command runs first and
/// the statement goes on, as in psql). Returns the items and the
/// unfinished rest.
pub fn split(text: &str) -> (Vec<Item>, String) {
    let (items, rest) = split_located(text);
    (items.into_iter().map(|(_, item)| item).collect(), rest)
}

/// [`split`], with the line of `text` (from 1) each item starts on: a
/// statement's first line that is not blank or a `--` comment.
pub fn split_located(text: &str) -> (Vec<(usize, Item)>, String) {
    let (items, rest, _) = scan(text);
    (items, rest)
}

/// [`split_located`], with the line the rest begins on.
fn scan(text: &str) -> (Vec<(usize, Item)>, String, usize) {
    let mut items = vec![];
    let mut current = String::new();
    // The line the text of `current` begins on.
    let mut begins = 1;
    let mut lines = text.split_inclusive('\n').enumerate().peekable();
    let mut state = Scan::Normal;
    while let Some((index, line)) = lines.next() {
        let line_no = index + 1;
        if current.is_empty() {
            begins = line_no;
        }
        if state == Scan::Normal && line.trim_start().starts_with('\\') {
            items.push((line_no, Item::Command(line.trim().to_string())));
            // The command's line stays in the statement's text as a blank one.
            if !current.is_empty() {
                current.push('\n');
            }
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
                        let at = begins + first_sql_line(&current);
                        items.push((at, Item::Sql(statement.to_string())));
                    }
                    current.clear();
                    begins = line_no;
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
    (items, rest, begins)
}

/// The index of the first line of `statement` holding more than white
/// space or a `--` comment.
fn first_sql_line(statement: &str) -> usize {
    statement
        .split('\n')
        .position(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with("--")
        })
        .unwrap_or(0)
}

/// Every statement and command of `text`, an unfinished last statement (no
/// `;`) included: a script as it runs.
pub fn items(text: &str) -> Vec<Item> {
    items_located(text)
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

/// [`items`] with the line each starts on.
pub fn items_located(text: &str) -> Vec<(usize, Item)> {
    let (mut items, rest, begins) = scan(text);
    if !rest.trim().is_empty() {
        items.push((
            begins + first_sql_line(&rest),
            Item::Sql(rest.trim().to_string()),
        ));
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
    fn commands_inside_a_statement_run_first() {
        let (items, rest) = split("SELECT 1\n\\d\n+ 1;\nSELECT '\n\\not a command';");
        assert_eq!(
            items,
            vec![
                Item::Command("\\d".to_string()),
                sql("SELECT 1\n\n+ 1;"),
                sql("SELECT '\n\\not a command';"),
            ]
        );
        assert_eq!(rest, "");
    }

    #[test]
    fn items_know_their_lines() {
        let text = "SELECT 1;\n\n-- note\nSELECT\n 2; SELECT 3;\n\\timing\n\nSELECT 4";
        let lines: Vec<usize> = items_located(text).iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 4, 5, 6, 8]);
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
