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
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            // The two characters before `c`, for E'...' strings.
            let mut before = current.chars().rev();
            let (prev, prev2) = (before.next(), before.next());
            current.push(c);
            let mut take = |n: usize, current: &mut String| {
                for _ in 0..n {
                    if let Some((_, c)) = chars.next() {
                        current.push(c);
                    }
                }
            };
            state = match (state, c, next) {
                (Scan::Normal, '\'', _)
                    if matches!(prev, Some('e' | 'E')) && !prev2.is_some_and(is_word) =>
                {
                    Scan::Escaped
                }
                (Scan::Normal, '\'', _) => Scan::Single,
                (Scan::Normal, '"', _) => Scan::Double,
                (Scan::Normal, '-', Some('-')) => Scan::LineComment,
                (Scan::Normal, '/', Some('*')) => {
                    take(1, &mut current);
                    Scan::Block(1)
                }
                (Scan::Normal, '$', _) if !prev.is_some_and(is_word) => {
                    match dollar_tag(&line[i..]) {
                        Some(tag) => {
                            take(tag.chars().count() - 1, &mut current);
                            Scan::Dollar(tag)
                        }
                        None => Scan::Normal,
                    }
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
                (Scan::Escaped, '\\', _) => {
                    take(1, &mut current);
                    Scan::Escaped
                }
                (Scan::Escaped, '\'', _) => Scan::Normal,
                (Scan::Double, '"', _) => Scan::Normal,
                (Scan::LineComment, '\n', _) => Scan::Normal,
                (Scan::Block(depth), '/', Some('*')) => {
                    take(1, &mut current);
                    Scan::Block(depth + 1)
                }
                (Scan::Block(depth), '*', Some('/')) => {
                    take(1, &mut current);
                    if depth == 1 {
                        Scan::Normal
                    } else {
                        Scan::Block(depth - 1)
                    }
                }
                (Scan::Dollar(tag), '$', _) if line[i..].starts_with(&tag) => {
                    take(tag.chars().count() - 1, &mut current);
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

/// The index of the line of `statement` where its SQL starts, after white
/// space and comments.
fn first_sql_line(statement: &str) -> usize {
    let mut rest = statement;
    loop {
        let trimmed = rest.trim_start();
        if let Some(comment) = trimmed.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if trimmed.starts_with("/*") {
            let mut depth = 0;
            let mut end = trimmed.len();
            let mut i = 0;
            while i < trimmed.len() {
                if trimmed[i..].starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if trimmed[i..].starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                } else {
                    i += trimmed[i..].chars().next().map_or(1, char::len_utf8);
                }
            }
            rest = &trimmed[end..];
        } else {
            rest = trimmed;
            break;
        }
    }
    statement[..statement.len() - rest.len()]
        .matches('\n')
        .count()
}

/// Whether `c` can be part of an identifier.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The tag opening a dollar-quoted string at the start of `text` (`$$` or
/// `$name$`), if one does.
fn dollar_tag(text: &str) -> Option<String> {
    let rest = text.strip_prefix('$')?;
    let end = rest.find('$')?;
    let name = &rest[..end];
    let valid = name
        .chars()
        .next()
        .is_none_or(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(is_word);
    valid.then(|| format!("${name}$"))
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scan {
    Normal,
    Single,
    /// An `E'...'` string, where `\` escapes the next character.
    Escaped,
    Double,
    LineComment,
    /// Inside this many nested `/* */` comments.
    Block(usize),
    /// Inside a dollar-quoted string with this tag (`$$`, `$fn$`).
    Dollar(String),
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
    fn escaped_and_dollar_quoted_strings_and_nested_comments() {
        let (items, rest) = split(
            "SELECT E'it\\'s; here' AS a; SELECT $$it's; $$ AS b;\nSELECT $t$ $$; $t$ /* a /* ; */ ; */ AS c;\nSELECT 'e''s;' AS d; SELECT the'x';",
        );
        assert_eq!(
            items,
            vec![
                sql("SELECT E'it\\'s; here' AS a;"),
                sql("SELECT $$it's; $$ AS b;"),
                sql("SELECT $t$ $$; $t$ /* a /* ; */ ; */ AS c;"),
                sql("SELECT 'e''s;' AS d;"),
                sql("SELECT the'x';"),
            ]
        );
        assert_eq!(rest, "");
        let (items, rest) = split("SELECT E'open\\';\n");
        assert!(items.is_empty() && rest.contains("open"), "{items:?}");
        let (items, _) = split("SELECT $1 + a$b;");
        assert_eq!(items, vec![sql("SELECT $1 + a$b;")]);
    }

    #[test]
    fn items_know_their_lines() {
        let text = "SELECT 1;\n\n-- note\nSELECT\n 2; SELECT 3;\n\\timing\n\nSELECT 4;\n/* a\n b */ -- c\n\nSELECT 5";
        let lines: Vec<usize> = items_located(text).iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 4, 5, 6, 8, 12]);
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
