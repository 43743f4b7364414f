//! Named arguments of clvsql's functions placed by position in SQL text.
//!
//! datafusion-python plans SQL text, and DataFusion's FFI carries no
//! parameter names, so the placement happens in the text: the argument
//! list of each call of a clvsql function with named arguments is replaced
//! by the positional one, built from the arguments' own text. Everything
//! else (comments, quoting, layout, statements DataFusion prints otherwise
//! than it reads, such as `COPY ... TO 'file'`) stays as written.

use datafusion_common::{DataFusionError, Result};
use datafusion_sql::parser::{DFParserBuilder, Statement};
use datafusion_sql::sqlparser::dialect::Dialect;
use datafusion_sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use clvsql_udfs::named_args::{NamedCall, Slot, named_calls};

/// `query` with the named arguments of clvsql's functions placed by
/// position; unchanged when no call names an argument or when it does not
/// parse (DataFusion then reports the syntax error).
pub fn positional_sql(query: &str, dialect: &dyn Dialect) -> Result<String> {
    let mut text = query.to_string();
    // One call a pass: an outer call is rebuilt from its arguments' text,
    // so calls inside them are placed in later passes.
    loop {
        let statements = match parse(&text, dialect) {
            Ok(statements) => statements,
            Err(_) if text == query => return Ok(text),
            Err(e) => {
                return Err(DataFusionError::Internal(format!(
                    "placing named arguments made SQL that does not parse: {e}"
                )));
            }
        };
        let mut first = None;
        for mut statement in statements {
            if let Some(call) = named_calls(&mut statement)?.into_iter().next() {
                first = Some(call);
                break;
            }
        }
        let Some(call) = first else {
            return Ok(text);
        };
        text = splice(&text, dialect, &call)?;
    }
}

fn parse(text: &str, dialect: &dyn Dialect) -> Result<Vec<Statement>> {
    Ok(DFParserBuilder::new(text)
        .with_dialect(dialect)
        .build()?
        .parse_statements()?
        .into())
}

/// `text` with the argument list of `call` replaced by its positional one.
fn splice(text: &str, dialect: &dyn Dialect, call: &NamedCall) -> Result<String> {
    let tokens: Vec<TokenWithSpan> = Tokenizer::new(dialect, text)
        .tokenize_with_location()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let lost =
        || DataFusionError::Internal("cannot find a call's arguments in the SQL text".into());
    let name = tokens
        .iter()
        .position(|t| t.span.start == call.name.start)
        .ok_or_else(lost)?;
    let open = next_token(&tokens, name + 1).ok_or_else(lost)?;
    if tokens[open].token != Token::LParen {
        return Err(lost());
    }
    // The arguments' token ranges, split at the commas outside brackets.
    let mut depth = 0usize;
    let mut args: Vec<(usize, usize)> = vec![];
    let mut start = open + 1;
    let mut close = None;
    for (i, token) in tokens.iter().enumerate().skip(open + 1) {
        match token.token {
            Token::LParen | Token::LBracket | Token::LBrace => depth += 1,
            Token::RParen | Token::RBracket | Token::RBrace if depth > 0 => depth -= 1,
            Token::RParen => {
                args.push((start, i));
                close = Some(i);
                break;
            }
            Token::Comma if depth == 0 => {
                args.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    let close = close.ok_or_else(lost)?;
    if args.len() != call.named.len() {
        return Err(lost());
    }
    let offsets = Offsets::new(text);
    let at = |i: usize| offsets.of(tokens[i].span.start);
    let mut values: Vec<&str> = Vec::with_capacity(args.len());
    for (&(start, end), named) in args.iter().zip(&call.named) {
        // A named argument's value follows its name and the operator
        // (`=>`, `:=`, ...).
        let start = if *named {
            let name = next_token(&tokens, start).ok_or_else(lost)?;
            next_token(&tokens, name + 1).ok_or_else(lost)? + 1
        } else {
            start
        };
        values.push(text[at(start)..at(end)].trim());
    }
    let positional: Vec<&str> = call
        .slots
        .iter()
        .map(|slot| match slot {
            Slot::Given(i) => values[*i],
            Slot::Default(value) => value,
        })
        .collect();
    Ok(format!(
        "{}{}{}",
        &text[..at(open + 1)],
        positional.join(", "),
        &text[at(close)..]
    ))
}

/// The first token at or after `from` that is not white space.
fn next_token(tokens: &[TokenWithSpan], from: usize) -> Option<usize> {
    (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
}

/// Byte offsets of the tokenizer's line and column locations.
struct Offsets<'a> {
    text: &'a str,
    /// The byte offset at which each line starts.
    lines: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let lines = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, lines }
    }

    /// The byte offset of `location` (line and column from 1, columns in
    /// characters); the end of the text past its last line.
    fn of(&self, location: Location) -> usize {
        let Some(&line) = self.lines.get(location.line.saturating_sub(1) as usize) else {
            return self.text.len();
        };
        self.text[line..]
            .char_indices()
            .nth(location.column.saturating_sub(1) as usize)
            .map_or(self.text.len(), |(i, _)| line + i)
    }
}

#[cfg(test)]
mod tests {
    use datafusion_sql::sqlparser::dialect::GenericDialect;

    use super::*;

    fn placed(query: &str) -> String {
        positional_sql(query, &GenericDialect {}).unwrap()
    }

    #[test]
    fn only_the_argument_lists_change() {
        assert_eq!(
            placed(
                "COPY (SELECT clv_simple(50, 4, 3, discount_rate => 0.1) AS x) -- ünïcode\n TO '/tmp/x.csv' STORED AS CSV"
            ),
            "COPY (SELECT clv_simple(50, 4, 3, 1, 0.1) AS x) -- ünïcode\n TO '/tmp/x.csv' STORED AS CSV"
        );
        assert_eq!(
            placed("EXPLAIN SELECT\n  segment_of(f => 5,\n r => (1 + 2), scheme => 'a, b') -- x"),
            "EXPLAIN SELECT\n  segment_of((1 + 2), 5, 'a, b') -- x"
        );
    }

    #[test]
    fn nested_calls_are_placed_too() {
        assert_eq!(
            placed(
                "SELECT 'é', clv_simple(clv_simple(1, 2, 3, discount_rate => 0.1), 4, lifespan => 3)"
            ),
            "SELECT 'é', clv_simple(clv_simple(1, 2, 3, 1, 0.1), 4, 3)"
        );
    }

    #[test]
    fn other_text_stays_as_it_is() {
        for query in [
            "SELECT  clv_simple(50, 4, 3) -- as written\n",
            "not SQL at all",
            "SELECT sum(x => 1)",
        ] {
            assert_eq!(placed(query), query);
        }
    }
}
