//! What a client may run: every statement is parsed and checked here before
//! datafusion-postgres or DataFusion sees it.
//!
//! - A statement deep enough to overflow a stack is refused before anything
//!   recurses over it, on every path: the tokens are counted first (a parse
//!   error drops a half-built tree recursively), then each parsed statement's
//!   expressions are measured.
//! - `--read-only` lets through only statements that read or set the
//!   client's own connection, nested ones included (`DECLARE c CURSOR FOR
//!   INSERT ...`), and no `SET` of an engine option, however it is spelled.
//! - Clients name files (`CREATE EXTERNAL TABLE`, `COPY ... TO`) only on
//!   loopback or with `--allow-file-paths`.
//!
//! A query DataFusion's parser cannot read may be one of the client catalog
//! queries that datafusion-postgres rewrites: those are checked as that
//! rewrite parses them.

use std::ops::ControlFlow;
use std::time::Duration;

use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{ObjectName, Set, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use pgwire::error::{PgWireError, PgWireResult};

use crate::handlers::{sql_error, user_error};

/// What the server enforces on every connection.
#[derive(Debug, Clone)]
pub struct Rules {
    pub read_only: bool,
    pub query_timeout: Option<Duration>,
    /// Whether clients may name files and URLs (`FROM 'path'`, `CREATE
    /// EXTERNAL TABLE`, `COPY ... TO`).
    pub client_files: bool,
}

/// Tokens a query may hold besides literals, commas and parentheses: far
/// more than any real query, and few enough that a tree that deep is still
/// dropped within the 64 MiB stacks.
const MAX_TOKENS: usize = 100_000;

/// The longest query handed to datafusion-postgres's rewriting parser when
/// DataFusion's cannot read it: its rewrite rules recurse over the tree.
const MAX_REWRITTEN: usize = 64 << 10;

/// A client's query, parsed and checked.
pub enum Parsed {
    /// DataFusion's parser read it: these statements.
    DataFusion(Vec<DfStatement>),
    /// Only datafusion-postgres's rewriting parser reads it (a client's
    /// catalog query, `ABORT`): this many statements, which it will run.
    Rewritten(usize),
}

impl Parsed {
    pub fn count(&self) -> usize {
        match self {
            Parsed::DataFusion(statements) => statements.len(),
            Parsed::Rewritten(count) => *count,
        }
    }
}

/// Parses `sql` as PostgreSQL's dialect and checks every statement against
/// `rules`.
pub fn guard(
    ctx: &SessionContext,
    rules: &Rules,
    rewriter: &PostgresCompatibilityParser,
    sql: &str,
) -> PgWireResult<Parsed> {
    check_size(sql)?;
    let syntax_error = match clvsql::statement::parse_as(ctx, sql, &PostgreSqlDialect {}) {
        Ok(statements) => {
            for statement in &statements {
                check_statement(rules, statement)?;
            }
            return Ok(Parsed::DataFusion(statements));
        }
        Err(e @ DataFusionError::SQL(..)) => e,
        Err(e) => return Err(parse_error(e)),
    };
    if sql.len() > MAX_REWRITTEN {
        return Err(parse_error(syntax_error));
    }
    let statements = rewriter
        .parse(sql)
        .map_err(|_| parse_error(syntax_error))?
        .into_iter()
        .map(|statement| DfStatement::Statement(Box::new(statement)))
        .collect::<Vec<_>>();
    if let Err(e) = statements
        .iter()
        .try_for_each(clvsql::statement::check_depth)
    {
        std::mem::forget(statements);
        return Err(parse_error(e));
    }
    for statement in &statements {
        check_statement(rules, statement)?;
    }
    Ok(Parsed::Rewritten(statements.len()))
}

/// Refuses a query with more than [`MAX_TOKENS`] tokens that could nest.
fn check_size(sql: &str) -> PgWireResult<()> {
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize() else {
        // The parser reports it, and builds no tree from it.
        return Ok(());
    };
    let nesting = tokens
        .iter()
        .filter(|token| {
            !matches!(
                token,
                Token::Whitespace(_)
                    | Token::Comma
                    | Token::LParen
                    | Token::RParen
                    | Token::Number(..)
                    | Token::SingleQuotedString(_)
            )
        })
        .count();
    if nesting > MAX_TOKENS {
        return Err(user_error(
            "ERROR",
            "54001",
            format!("query too long: more than {MAX_TOKENS} operators and names"),
        ));
    }
    Ok(())
}

/// A parse error: SQLSTATE 54001 for a statement nested too deep, 42601 for
/// a syntax error.
fn parse_error(e: DataFusionError) -> PgWireError {
    if clvsql::statement::is_too_deep(&e) {
        user_error("ERROR", "54001", e.strip_backtrace())
    } else {
        sql_error(e)
    }
}

/// Refuses what `rules` forbid in one statement, before it is planned.
fn check_statement(rules: &Rules, statement: &DfStatement) -> PgWireResult<()> {
    match statement {
        DfStatement::Statement(statement) if rules.read_only => {
            match statement.visit(&mut ReadOnly) {
                ControlFlow::Continue(()) => Ok(()),
                ControlFlow::Break(what) => Err(read_only(what)),
            }
        }
        DfStatement::Statement(_) => Ok(()),
        DfStatement::Explain(explain) => check_statement(rules, &explain.statement),
        DfStatement::CreateExternalTable(_) | DfStatement::CopyTo(_) if rules.read_only => {
            Err(read_only(command(statement)))
        }
        DfStatement::CreateExternalTable(_) | DfStatement::CopyTo(_) if !rules.client_files => {
            Err(user_error(
                "ERROR",
                "42501",
                format!(
                    "{}: clients name files only when clvsql serve listens on loopback or was started with --allow-file-paths; set tables up with a script (-f)",
                    command(statement)
                ),
            ))
        }
        DfStatement::Reset(_) if rules.read_only => Err(read_only(command(statement))),
        _ => Ok(()),
    }
}

/// The first words of a statement, to name it in a refusal.
fn command(statement: &impl std::fmt::Display) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    words.join(" ").to_ascii_uppercase()
}

/// Under `--read-only`: statements that read, and those that only concern
/// the client's own connection (cursors, transactions, `SHOW`, client
/// settings). Visits nested statements too.
struct ReadOnly;

impl Visitor for ReadOnly {
    type Break = String;

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<String> {
        match statement {
            Statement::Query(_)
            | Statement::Explain { .. }
            | Statement::ExplainTable { .. }
            | Statement::Declare { .. }
            | Statement::Fetch { .. }
            | Statement::Close { .. }
            | Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::ShowFunctions { .. }
            | Statement::ShowVariable { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowCatalogs { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowTables { .. }
            | Statement::ShowViews { .. } => ControlFlow::Continue(()),
            Statement::Set(set) => match engine_setting(set) {
                Some(name) => ControlFlow::Break(format!("SET {name}")),
                None => ControlFlow::Continue(()),
            },
            other => ControlFlow::Break(command(other)),
        }
    }
}

/// The engine option a `SET` would change for every client, if any:
/// DataFusion applies `datafusion.*` and its aliases `timezone` and
/// `time.zone` to the shared session (datafusion-postgres passes every
/// `SET` it does not keep per connection on to DataFusion). Other names
/// DataFusion refuses, and datafusion-postgres ignores that.
fn engine_setting(set: &Set) -> Option<String> {
    let names: Vec<&ObjectName> = match set {
        Set::SingleAssignment { variable, .. } => vec![variable],
        Set::ParenthesizedAssignments { variables, .. } => variables.iter().collect(),
        Set::MultipleAssignments { assignments } => assignments.iter().map(|a| &a.name).collect(),
        _ => vec![],
    };
    names
        .into_iter()
        .map(option_name)
        .find(|name| name.starts_with("datafusion.") || name == "timezone" || name == "time.zone")
}

/// A setting's name as DataFusion reads it: quotes removed, lower case.
fn option_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.to_ascii_lowercase(),
            None => part.to_string().to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Refuses a plan that `--read-only` forbids (DDL, DML, `COPY`, engine
/// statements), subqueries included: the check after planning, behind the
/// statement check.
pub fn check_plan(rules: &Rules, plan: &LogicalPlan) -> PgWireResult<()> {
    if !rules.read_only {
        return Ok(());
    }
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(plan)
        .map_err(|e| read_only(clvsql::storage::redact_secrets(&e.strip_backtrace())))
}

fn read_only(what: String) -> PgWireError {
    user_error(
        "ERROR",
        "25006",
        format!("clvsql serve is read-only (--read-only): {what} is refused"),
    )
}

/// Whether DataFusion's parser alone reads `statement` (datafusion-postgres
/// cannot run it).
pub fn datafusion_only(statement: &DfStatement) -> bool {
    match statement {
        DfStatement::CreateExternalTable(_) | DfStatement::CopyTo(_) => true,
        DfStatement::Explain(explain) => datafusion_only(&explain.statement),
        DfStatement::Statement(_) | DfStatement::Reset(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(read_only: bool, client_files: bool) -> Rules {
        Rules {
            read_only,
            query_timeout: None,
            client_files,
        }
    }

    fn check(rules: &Rules, sql: &str) -> Result<(), String> {
        let ctx = SessionContext::new();
        let rewriter = PostgresCompatibilityParser::new();
        match guard(&ctx, rules, &rewriter, sql) {
            Ok(_) => Ok(()),
            Err(PgWireError::UserError(info)) => Err(format!("{} {}", info.code, info.message)),
            Err(other) => Err(other.to_string()),
        }
    }

    #[test]
    fn deep_expressions_are_refused_before_anything_recurses() {
        let open = rules(false, true);
        let deep = format!("SELECT 1{}", " + 1".repeat(5000));
        let refused = check(&open, &deep).unwrap_err();
        assert!(refused.starts_with("54001 "), "{refused}");
        assert!(
            refused.contains("expression nested more than 1000"),
            "{refused}"
        );
        // A parse error after a long chain drops no deep tree: the tokens
        // are counted first.
        let broken = format!("SELECT 1{} FROM", " + 1".repeat(200_000));
        let refused = check(&open, &broken).unwrap_err();
        assert!(refused.starts_with("54001 query too long"), "{refused}");
        // Through datafusion-postgres's rewrite (ABORT) too.
        let rewritten = format!("ABORT; SELECT 1{}", " + 1".repeat(5000));
        assert!(check(&open, &rewritten).unwrap_err().starts_with("54001"));
        assert!(check(&open, "SELECT 1 + 1").is_ok());
        // Long flat lists are fine.
        let list = (0..150_000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(check(&open, &format!("SELECT 1 WHERE 1 IN ({list})")).is_ok());
    }

    #[test]
    fn read_only_refuses_every_way_to_write() {
        let read_only = rules(true, true);
        for sql in [
            "INSERT INTO t VALUES (1)",
            "CREATE VIEW v AS SELECT 1",
            "DROP TABLE t",
            "DECLARE c CURSOR FOR INSERT INTO t VALUES (1)",
            "SET datafusion.execution.batch_size = 10",
            "SET \"datafusion.runtime.memory_limit\" = '64G'",
            "SET SESSION datafusion.execution.batch_size = 10",
            "SET timezone = 'UTC'",
            "SET time.zone = 'UTC'",
            "ABORT; SET datafusion.execution.batch_size = 10",
            "COPY (SELECT 1) TO '/tmp/new/dir/' STORED AS CSV",
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "EXPLAIN COPY (SELECT 1) TO 'x.csv' STORED AS CSV",
            "RESET datafusion.execution.batch_size",
        ] {
            let refused = check(&read_only, sql).expect_err(sql);
            assert!(
                refused.starts_with("25006 clvsql serve is read-only"),
                "{sql}: {refused}"
            );
        }
        for sql in [
            "SELECT 1",
            "DECLARE c CURSOR FOR SELECT 1",
            "SET statement_timeout = '1s'",
            "SET application_name = 'x'",
            "SET extra_float_digits = 3",
            "SHOW TABLES",
            "BEGIN",
            "EXPLAIN SELECT 1",
        ] {
            assert_eq!(check(&read_only, sql), Ok(()), "{sql}");
        }
    }

    #[test]
    fn clients_name_files_only_when_allowed() {
        let closed = rules(false, false);
        for sql in [
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "COPY (SELECT 1) TO '/tmp/x.csv' STORED AS CSV",
        ] {
            let refused = check(&closed, sql).expect_err(sql);
            assert!(refused.starts_with("42501"), "{sql}: {refused}");
            assert_eq!(check(&rules(false, true), sql), Ok(()), "{sql}");
        }
    }
}
