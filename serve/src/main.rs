//! `clvsql serve` (this program, `clvsql-serve`): a clvsql session for
//! PostgreSQL clients (psql, BI tools, psycopg, JDBC), on
//! datafusion-postgres and pgwire. A separate crate, so the REPL's build
//! does not carry the protocol stack.

mod catalog;
mod handlers;
mod rules;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use datafusion::prelude::SessionContext;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use clvsql::script::{Item, items, one_line};
use handlers::{Account, Handlers};
use rules::Rules;

/// As the `clvsql` command: many small allocations per customer.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack of the threads that plan and run statements, as the CLI's:
/// DataFusion recurses over expressions up to
/// `clvsql::statement::MAX_EXPRESSION_DEPTH` deep.
const STACK_SIZE: usize = 64 << 20;

/// The environment variable holding the password of `--user`.
const PASSWORD_VARIABLE: &str = "CLVSQL_PASSWORD";

#[derive(Debug, Parser)]
#[command(
    name = "clvsql serve",
    version,
    about = "Serve clvsql's SQL to PostgreSQL clients (psql, BI tools, psycopg)",
    after_help = "The password of --user is read from the environment variable CLVSQL_PASSWORD, never from the command line."
)]
struct Args {
    /// Address to listen on; beyond loopback only with --user
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on (0: any free port, printed on start)
    #[arg(long, default_value_t = 5433)]
    port: u16,

    /// SQL script run before serving, e.g. CREATE EXTERNAL TABLE (repeatable)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// Memory limit for query execution, shared by all clients, e.g. 2G;
    /// larger sorts and aggregations spill to disk
    #[arg(short, long, value_parser = clvsql::memory::parse_size)]
    memory_limit: Option<usize>,

    /// Require this user name and the password in $CLVSQL_PASSWORD
    /// (SCRAM-SHA-256); without it any client on loopback gets in
    #[arg(long, value_name = "NAME")]
    user: Option<String>,

    /// TLS certificate chain (PEM); clients may then use sslmode=require
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Refuse statements that change anything: CREATE, DROP, INSERT, COPY, SET of engine options
    #[arg(long)]
    read_only: bool,

    /// Clients connected at once, counted from their first packet as
    /// PostgreSQL counts them; more are refused with "too many connections"
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,

    /// Cancel a statement still running after this many seconds (0: no
    /// limit); a client's statement_timeout may set a shorter one
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    query_timeout: f64,

    /// Let clients name files and URLs: as tables (FROM 'data/tx.parquet'),
    /// in CREATE EXTERNAL TABLE and COPY; allowed on loopback without it
    #[arg(long)]
    allow_file_paths: bool,
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_SIZE)
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(serve(args)),
        Err(e) => Err(format!("cannot start the runtime: {e}")),
    };
    if let Err(message) = result {
        eprintln!("Error: {message}");
        std::process::exit(1);
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let account = account(args.user.as_deref())?;
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("--host {}: {e}", args.host))?
        .collect();
    let loopback = addresses.iter().all(|a| a.ip().is_loopback());
    if !loopback && account.is_none() {
        return Err(format!(
            "refusing to listen on {} beyond loopback without a password: give --user NAME and set {PASSWORD_VARIABLE}",
            args.host
        ));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    let rules = Rules {
        read_only: args.read_only,
        query_timeout: match args.query_timeout {
            0.0 => None,
            t if t > 0.0 && t < 1e9 => Some(Duration::from_secs_f64(t)),
            t => {
                return Err(format!(
                    "--query-timeout {t}: give a number of seconds, 0 for none"
                ));
            }
        },
        client_files: loopback || args.allow_file_paths,
    };

    let ctx = session(&args, rules.client_files)?;
    catalog::add_functions(&ctx)
        .await
        .map_err(|e| format!("cannot list clvsql's functions in pg_catalog: {e}"))?;
    for file in &args.files {
        run_script(&ctx, file).await?;
    }
    let listener = TcpListener::bind(&addresses[..])
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "clvsql serve: listening on {address} ({}, {}{})",
        if tls.is_some() { "TLS" } else { "no TLS" },
        if account.is_some() {
            "password"
        } else {
            "no password"
        },
        if args.read_only { ", read-only" } else { "" },
    );

    let handlers = Arc::new(Handlers::new(Arc::new(ctx), rules, account));
    let limit = args.max_connections as usize;
    let refuse = Arc::new(handlers.refuse(limit));
    let slots = Arc::new(Semaphore::new(limit));
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    eprintln!("clvsql serve: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        };
        let tls = tls.clone();
        let slot = Arc::clone(&slots).try_acquire_owned();
        let handlers = Arc::clone(&handlers);
        let refuse = Arc::clone(&refuse);
        tokio::spawn(async move {
            let result = match slot {
                Ok(_slot) => process_socket(socket, tls, handlers).await,
                Err(_) => process_socket(socket, tls, refuse).await,
            };
            if let Err(e) = result {
                eprintln!("clvsql serve: connection from {peer}: {e}");
            }
        });
    }
    eprintln!("clvsql serve: stopped");
    Ok(())
}

/// The account of `--user`, its password from the environment.
fn account(user: Option<&str>) -> Result<Option<Account>, String> {
    let password = std::env::var(PASSWORD_VARIABLE)
        .ok()
        .filter(|p| !p.is_empty());
    match (user, password) {
        (Some(user), Some(password)) => Ok(Some(Account::new(user.to_string(), &password))),
        (Some(_), None) => Err(format!(
            "--user needs its password in the environment variable {PASSWORD_VARIABLE}"
        )),
        (None, Some(_)) => Err(format!(
            "{PASSWORD_VARIABLE} is set but --user is not: give the user name clients log in with"
        )),
        (None, None) => Ok(None),
    }
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "--tls-cert {}: no PEM certificate in it",
            cert.display()
        ));
    }
    let private_key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?
        .ok_or_else(|| format!("--tls-key {}: no PEM private key in it", key.display()))?;
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, private_key)
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The CLI's session (every clvsql function, object stores, the memory
/// limit), with PostgreSQL's `pg_catalog` for clients' catalog queries.
fn session(args: &Args, file_paths: bool) -> Result<SessionContext, String> {
    let stores = Arc::new(clvsql::storage::CloudStoreRegistry::new());
    let mut runtime = clvsql::runtime_builder(stores);
    if let Some(limit) = args.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(clvsql::memory::BoundedMemoryPool::new(limit)));
    }
    let runtime = runtime.build_arc().map_err(|e| e.to_string())?;
    let config = clvsql::session_config();
    let ctx = if file_paths {
        clvsql::session_context_with(config, runtime)
    } else {
        clvsql::session_context_without_url_tables(config, runtime)
    }
    .map_err(|e| e.to_string())?;
    setup_pg_catalog(&ctx, "datafusion", EmptyContextProvider)
        .map_err(|e| format!("cannot set up pg_catalog: {e}"))?;
    Ok(ctx)
}

/// Runs a set-up script's statements; an error names the file and line.
async fn run_script(ctx: &SessionContext, path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut searched = 0;
    for item in items(&text) {
        let (Item::Sql(piece) | Item::Command(piece)) = &item;
        let at = text[searched..]
            .find(piece.as_str())
            .map_or(searched, |i| searched + i);
        searched = at + piece.len();
        let line = text[..at].matches('\n').count() + 1;
        let place = format!("{}:{line}", path.display());
        match item {
            Item::Command(command) => {
                return Err(format!(
                    "{place}: {command}: backslash commands run only in the clvsql REPL"
                ));
            }
            Item::Sql(sql) => {
                clvsql::statement::run(ctx, &sql).await.map_err(|e| {
                    let message = clvsql::storage::redact_secrets(&e.strip_backtrace());
                    format!("{place}: {}", one_line(&message))
                })?;
            }
        }
    }
    Ok(())
}
