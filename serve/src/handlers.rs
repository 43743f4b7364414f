//! The PostgreSQL protocol handlers: datafusion-postgres's session service
//! (its `pg_catalog`, `SET`/`SHOW`, transaction and cursor handling, Arrow
//! to PostgreSQL encoding), with clvsql's rules around every statement:
//!
//! - statements are planned as the CLI plans them (named arguments may skip
//!   optional parameters, a window function without `OVER` is explained,
//!   `COPY` targets are checked), after the checks of [`crate::rules`]
//!   (depth, `--read-only`, files) on what the client sent;
//! - a statement, its results included, ends at the time limit (the
//!   server's `--query-timeout` or the client's `statement_timeout`,
//!   whichever is shorter);
//! - `CREATE EXTERNAL TABLE` and `COPY`, which only DataFusion's parser
//!   knows, run over the simple query protocol;
//! - password authentication is SCRAM-SHA-256.

use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::{DfSessionService, Parser};
use futures::{Sink, Stream, StreamExt};
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password, random_nonce};
use pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;
use tokio::time::{Instant, Sleep};

use clvsql::script::one_line;

use crate::rules::{Parsed, Rules, check_plan, datafusion_only, guard};

/// The user clients log in as, and the password's SCRAM hash.
pub struct Account {
    user: String,
    salt: Vec<u8>,
    salted_password: Vec<u8>,
    /// The hash of a password no one knows, for other user names: they fail
    /// as a wrong password does, as fast, so the answer does not tell which
    /// users exist.
    decoy: Vec<u8>,
}

/// SCRAM iterations (RFC 7677's minimum, and PostgreSQL's default).
const SCRAM_ITERATIONS: usize = 4096;

impl Account {
    pub fn new(user: String, password: &str) -> Account {
        let salt = random_nonce().into_bytes();
        Account {
            user,
            salted_password: gen_salted_password(password, &salt, SCRAM_ITERATIONS),
            decoy: gen_salted_password(&random_nonce(), &salt, SCRAM_ITERATIONS),
            salt,
        }
    }
}

/// The salted password is as good as the password for logging in: never
/// printed.
impl Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl AuthSource for Account {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let hash = if login.user() == Some(self.user.as_str()) {
            &self.salted_password
        } else {
            &self.decoy
        };
        Ok(Password::new(Some(self.salt.clone()), hash.clone()))
    }
}

/// Everything one server hands each connection.
pub struct Handlers {
    queries: Arc<Queries>,
    account: Option<Arc<Account>>,
    connections: Arc<ConnectionManager>,
}

impl Handlers {
    pub fn new(ctx: Arc<SessionContext>, rules: Rules, account: Option<Account>) -> Handlers {
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(CursorStatementHook),
            Arc::new(SetShowHook),
            Arc::new(TransactionStatementHook),
            Arc::new(ClvsqlStatements {
                rules: rules.clone(),
            }),
        ];
        let inner = Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks));
        let rewriter = Arc::new(PostgresCompatibilityParser::new());
        let parser = Arc::new(GuardedParser {
            inner: inner.query_parser(),
            ctx: Arc::clone(&ctx),
            rules: rules.clone(),
            rewriter: Arc::clone(&rewriter),
        });
        Handlers {
            queries: Arc::new(Queries {
                inner,
                parser,
                ctx,
                rules,
                rewriter,
            }),
            account: account.map(Arc::new),
            connections: Arc::new(ConnectionManager::new()),
        }
    }

    /// The handlers of a connection over `limit`: refused at startup, but
    /// its cancel requests (a new connection each) still reach the others.
    pub fn refuse(&self, limit: usize) -> Refuse {
        Refuse {
            limit,
            connections: Arc::clone(&self.connections),
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    /// Called once per connection: the SASL handler keeps the state of
    /// one exchange.
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        let connections = Arc::clone(&self.connections);
        Arc::new(match &self.account {
            Some(account) => {
                let mut scram = ScramAuth::new(Arc::clone(account) as Arc<dyn AuthSource>);
                scram.set_iterations(SCRAM_ITERATIONS);
                Startup::Password(
                    SASLAuthStartupHandler::new(
                        Arc::new(DefaultServerParameterProvider::default()),
                    )
                    .with_scram(scram)
                    .with_connection_manager(connections),
                )
            }
            None => Startup::Trust(Trust { connections }),
        })
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(DefaultCancelHandler::new(Arc::clone(&self.connections)))
    }
}

/// Without `--user`: every client is let in (loopback only, see main).
struct Trust {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for Trust {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}

enum Startup {
    Trust(Trust),
    Password(SASLAuthStartupHandler<DefaultServerParameterProvider>),
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Trust(trust) => trust.on_startup(client, message).await,
            Startup::Password(sasl) => sasl.on_startup(client, message).await,
        }
    }
}

/// The handlers of a connection over `--max-connections`: its startup is
/// answered with PostgreSQL's "too many connections" error.
pub struct Refuse {
    limit: usize,
    connections: Arc<ConnectionManager>,
}

impl PgWireServerHandlers for Refuse {
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(TooMany { limit: self.limit })
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(DefaultCancelHandler::new(Arc::clone(&self.connections)))
    }
}

struct TooMany {
    limit: usize,
}

#[async_trait]
impl StartupHandler for TooMany {
    async fn on_startup<C>(
        &self,
        _client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(user_error(
            "FATAL",
            "53300",
            format!(
                "too many connections: clvsql serve takes {} at once (--max-connections)",
                self.limit
            ),
        ))
    }
}

/// The simple and extended query handlers: datafusion-postgres's, with
/// statements checked first and their results held to the time limit.
pub struct Queries {
    inner: Arc<DfSessionService>,
    parser: Arc<GuardedParser>,
    ctx: Arc<SessionContext>,
    rules: Rules,
    rewriter: Arc<PostgresCompatibilityParser>,
}

impl Queries {
    /// When the statement starting now must end.
    fn deadline(&self, client: &impl ClientInfo) -> Option<Instant> {
        // datafusion-postgres keeps `SET statement_timeout` here.
        let client_limit = client
            .metadata()
            .get("statement_timeout_ms")
            .and_then(|ms| ms.parse().ok())
            .map(Duration::from_millis);
        let limit = match (self.rules.query_timeout, client_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        limit.map(|limit| Instant::now() + limit)
    }

    /// Runs statements only DataFusion's parser reads (`CREATE EXTERNAL
    /// TABLE`, `COPY ... TO`) with the others of the same query.
    async fn run_datafusion_statements(
        &self,
        statements: Vec<DfStatement>,
        format: Arc<FormatOptions>,
    ) -> PgWireResult<Vec<Response>> {
        let mut responses = vec![];
        for statement in statements {
            let tag = command_tag(&statement.to_string());
            let plan = clvsql::statement::logical_plan(&self.ctx, statement)
                .await
                .map_err(sql_error)?;
            responses.push(respond(&self.ctx, &self.rules, plan, &tag, format.clone()).await?);
        }
        Ok(responses)
    }
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let deadline = self.deadline(client);
        let parsed = guard(&self.ctx, &self.rules, &self.rewriter, query)?;
        let run = async {
            let responses = match parsed {
                Parsed::DataFusion(statements) if statements.iter().any(datafusion_only) => {
                    let format = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                    self.run_datafusion_statements(statements, format).await
                }
                _ => SimpleQueryHandler::do_query(&*self.inner, client, query).await,
            }?;
            let mut computed = Vec::with_capacity(responses.len());
            for response in responses {
                computed.push(first_row(response).await?);
            }
            Ok(computed)
        };
        let responses = within(deadline, run).await.map_err(client_error)?;
        Ok(responses
            .into_iter()
            .map(|response| limit_rows(response, deadline))
            .collect())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = GuardedParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let deadline = self.deadline(client);
        let run = async {
            let response =
                ExtendedQueryHandler::do_query(&*self.inner, client, portal, max_rows).await?;
            first_row(response).await
        };
        let response = within(deadline, run).await.map_err(client_error)?;
        Ok(limit_rows(response, deadline))
    }
}

/// datafusion-postgres's parser for prepared statements, after the same
/// check as simple queries.
pub struct GuardedParser {
    inner: Arc<Parser>,
    ctx: Arc<SessionContext>,
    rules: Rules,
    rewriter: Arc<PostgresCompatibilityParser>,
}

#[async_trait]
impl QueryParser for GuardedParser {
    type Statement = <Parser as QueryParser>::Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let parsed = guard(&self.ctx, &self.rules, &self.rewriter, sql)?;
        if parsed.count() > 1 {
            return Err(user_error(
                "ERROR",
                "42601",
                "cannot insert multiple commands into a prepared statement".to_string(),
            ));
        }
        if let Parsed::DataFusion(statements) = &parsed
            && statements.iter().any(datafusion_only)
        {
            return Err(user_error(
                "ERROR",
                "0A000",
                "CREATE EXTERNAL TABLE and COPY run over the simple query protocol (psql; psycopg without parameters) or in a set-up script (clvsql serve -f FILE), not as prepared statements".to_string(),
            ));
        }
        self.inner.parse_sql(client, sql, types).await
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(statement, format)
    }
}

/// Plans and runs every statement that datafusion-postgres's own hooks do
/// not answer (`SET`/`SHOW` of client settings, transactions, cursors).
struct ClvsqlStatements {
    rules: Rules,
}

#[async_trait]
impl QueryHook for ClvsqlStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let tag = command_tag(&statement.to_string());
        let format = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let statement = DfStatement::Statement(Box::new(statement.clone()));
        let planned = clvsql::statement::logical_plan(ctx, statement).await;
        Some(match planned {
            Ok(plan) => respond(ctx, &self.rules, plan, &tag, format).await,
            Err(e) => Err(sql_error(e)),
        })
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let statement = DfStatement::Statement(Box::new(statement.clone()));
        let planned = clvsql::statement::logical_plan(ctx, statement).await;
        Some(
            planned
                .map_err(sql_error)
                .and_then(|plan| check_plan(&self.rules, &plan).map(|()| plan)),
        )
    }

    /// datafusion-postgres binds the parameters, runs the plan made at
    /// parse time and encodes the rows in the formats the client asked.
    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

/// Runs `plan` and answers as PostgreSQL does: rows for a query, a command
/// tag with the count for `INSERT` and `COPY`, the tag alone otherwise.
async fn respond(
    ctx: &SessionContext,
    rules: &Rules,
    plan: LogicalPlan,
    tag: &str,
    format: Arc<FormatOptions>,
) -> PgWireResult<Response> {
    check_plan(rules, &plan)?;
    let counted = matches!(plan, LogicalPlan::Dml(_) | LogicalPlan::Copy(_));
    let df = ctx.execute_logical_plan(plan).await.map_err(sql_error)?;
    if counted {
        let rows = count(df).await?;
        let counted = Tag::new(tag).with_rows(rows);
        // `INSERT 0 n`: PostgreSQL's tag keeps a (zero) oid.
        return Ok(Response::Execution(if tag == "INSERT" {
            counted.with_oid(0)
        } else {
            counted
        }));
    }
    if df.schema().fields().is_empty() {
        return Ok(Response::Execution(Tag::new(tag)));
    }
    let rows = encode_dataframe(df, &Format::UnifiedText, Some(format)).await?;
    Ok(Response::Query(rows))
}

/// The `count` that DataFusion's `INSERT` and `COPY` return.
async fn count(df: DataFrame) -> PgWireResult<usize> {
    let batches = df.collect().await.map_err(sql_error)?;
    Ok(batches
        .iter()
        .filter_map(|batch| batch.column_by_name("count"))
        .filter_map(|column| column.as_any().downcast_ref::<UInt64Array>())
        .flat_map(|counts| counts.iter().flatten())
        .sum::<u64>() as usize)
}

/// PostgreSQL's command tag: the statement's first word (`CREATE`,
/// `DROP`, `INSERT`, `COPY`, ...).
fn command_tag(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Runs `work`, failing with PostgreSQL's "canceling statement due to
/// statement timeout" at `deadline`; dropping the work stops it.
async fn within<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = PgWireResult<T>>,
) -> PgWireResult<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or_else(|_| Err(timed_out())),
        None => work.await,
    }
}

fn timed_out() -> PgWireError {
    user_error(
        "ERROR",
        "57014",
        "canceling statement due to statement timeout".to_string(),
    )
}

/// Waits for a query's first row, so that the computation before it (all
/// of an aggregation's) happens while pgwire still listens for the
/// client's cancel request, which it stops hearing once rows are sent; an
/// error there is the statement's error rather than one after the column
/// names.
async fn first_row(response: Response) -> PgWireResult<Response> {
    let Response::Query(mut rows) = response else {
        return Ok(response);
    };
    let first = match rows.data_rows.next().await {
        Some(Err(e)) => return Err(client_error(e)),
        first => first,
    };
    let rest = std::mem::replace(&mut rows.data_rows, Box::pin(futures::stream::empty()));
    rows.data_rows = Box::pin(futures::stream::iter(first).chain(rest));
    Ok(Response::Query(rows))
}

/// Holds a query's rows, which DataFusion computes as the client reads
/// them, to the deadline too.
fn limit_rows(response: Response, deadline: Option<Instant>) -> Response {
    match (response, deadline) {
        (Response::Query(mut rows), Some(deadline)) => {
            let stream = std::mem::replace(&mut rows.data_rows, Box::pin(futures::stream::empty()));
            rows.data_rows = Box::pin(Deadline {
                rows: stream,
                timer: Box::pin(tokio::time::sleep_until(deadline)),
                done: false,
            });
            Response::Query(rows)
        }
        (response, _) => response,
    }
}

/// A row stream that ends with the timeout error once its deadline passes.
struct Deadline<S> {
    rows: S,
    timer: Pin<Box<Sleep>>,
    done: bool,
}

impl<S> Stream for Deadline<S>
where
    S: Stream<Item = PgWireResult<pgwire::messages::data::DataRow>> + Unpin,
{
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.done = true;
            return Poll::Ready(Some(Err(timed_out())));
        }
        Pin::new(&mut self.rows)
            .poll_next(cx)
            .map(|row| row.map(|row| row.map_err(client_error)))
    }
}

pub(crate) fn user_error(severity: &str, code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        severity.to_string(),
        code.to_string(),
        message,
    )))
}

/// datafusion-postgres passes DataFusion's and the SQL parser's errors on
/// as they are (SQLSTATE XX000): give them clvsql's form ([`sql_error`]).
fn client_error(error: PgWireError) -> PgWireError {
    match error {
        PgWireError::ApiError(e) => match e.downcast::<DataFusionError>() {
            Ok(e) => sql_error(*e),
            Err(e) => match e.downcast::<ParserError>() {
                Ok(e) => user_error("ERROR", "42601", e.to_string()),
                Err(e) => PgWireError::ApiError(e),
            },
        },
        other => other,
    }
}

/// A DataFusion error for the client: one line, without secrets, with the
/// SQLSTATE class drivers map to their exceptions (psycopg: 42
/// `ProgrammingError`, 22 `DataError`, 53 `OperationalError`).
pub(crate) fn sql_error(e: DataFusionError) -> PgWireError {
    let code = match e.find_root() {
        DataFusionError::SQL(..) => "42601",
        DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => "42000",
        DataFusionError::Execution(_) => "22000",
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::NotImplemented(_) => "0A000",
        DataFusionError::ObjectStore(_) | DataFusionError::IoError(_) => "58030",
        _ => "XX000",
    };
    let message = one_line(&e.strip_backtrace());
    user_error("ERROR", code, clvsql::storage::redact_secrets(&message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_the_command() {
        assert_eq!(command_tag("create table t as select 1"), "CREATE");
        assert_eq!(command_tag("  COPY (SELECT 1) TO 'x'"), "COPY");
    }
}
