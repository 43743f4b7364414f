//! The `clvsql` command: arguments in, then the REPL or the given statements.

/// `eprintln!` that cannot panic: a closed standard error (`clvsql ...
/// 2>&1 | head -1`) loses the message instead of ending the process.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod chart;
mod command;
mod complete;
mod db;
mod exec;
mod print;
mod repl;
mod table;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{CommandFactory, FromArgMatches, Parser};

use exec::{Session, Source};
use print::{Format, PrintOptions};

/// mimalloc, as datafusion-cli uses: the aggregation state of millions of
/// customers is millions of small allocations, and the system allocator
/// spent ~15% of a summary's time in page faults and lock release
/// (perf, 1M customers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "clvsql",
    version,
    about = "Customer lifetime value and RFM segmentation in SQL",
    // `clvsql -f setup.sql serve` would drop the -f: serve takes its own.
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Run this SQL and exit (repeatable; runs with -f in the given order)
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    commands: Vec<String>,

    /// Run the SQL statements of this file and exit (repeatable)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,

    /// After -c and -f, stay in the REPL (errors in them do not end it)
    #[arg(short, long)]
    interactive: bool,

    /// Startup file, run before the REPL [default: ~/.clvsqlrc, run only
    /// for the REPL]; a file given here runs with -c and -f too
    #[arg(long, value_name = "FILE", conflicts_with = "no_rc")]
    rc: Option<PathBuf>,

    /// Do not run ~/.clvsqlrc
    #[arg(short = 'X', long)]
    no_rc: bool,

    /// Keep tables in this folder across sessions: CREATE TABLE writes
    /// Parquet there, views and external tables keep their statement, and
    /// the next start registers them again
    #[arg(long, value_name = "DIR", conflicts_with = "remote")]
    db: Option<PathBuf>,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    /// Quiet: print results only, no row counts or timings
    #[arg(short, long)]
    quiet: bool,

    /// Rows shown by the table format (0 shows all)
    #[arg(long, default_value_t = 40)]
    maxrows: usize,

    /// Memory limit for query execution, e.g. 512M or 2G; larger sorts and
    /// aggregations spill to disk
    #[arg(short, long, value_parser = clvsql::memory::parse_size)]
    memory_limit: Option<usize>,

    /// Run the statements on an Apache Ballista cluster: the URL of its
    /// clvsql-scheduler, df://HOST:PORT
    #[arg(long, value_name = "URL", conflicts_with = "memory_limit")]
    remote: Option<String>,

    #[command(subcommand)]
    subcommand: Option<Subcommand>,
}

#[derive(Debug, clap::Subcommand)]
enum Subcommand {
    /// Serve clvsql to PostgreSQL clients (psql, BI tools, psycopg); runs
    /// the clvsql-serve program installed beside clvsql (`clvsql serve
    /// --help` lists its options)
    #[command(disable_help_flag = true)]
    Serve {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

/// `clvsql serve ...` runs `clvsql-serve ...`, the server built by the
/// workspace's `serve` crate: its PostgreSQL protocol stack stays out of
/// the REPL's build. Looked for beside this program, then on `PATH`.
fn serve(args: &[std::ffi::OsString]) -> ! {
    use std::os::unix::process::CommandExt;
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("clvsql-serve"))
        .filter(|path| path.is_file());
    let program = beside.unwrap_or_else(|| PathBuf::from("clvsql-serve"));
    let error = std::process::Command::new(&program).args(args).exec();
    report!(
        "Error: clvsql serve needs the clvsql-serve program ({}: {error}); build it with `cargo build --release --workspace` or install it with `cargo install --path serve`",
        program.display()
    );
    std::process::exit(1)
}

/// clvsql's session as a client of the Ballista scheduler at `url`.
#[cfg(feature = "remote")]
async fn remote(
    url: &str,
    runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> datafusion::error::Result<datafusion::prelude::SessionContext> {
    clvsql::remote::connect(url, clvsql::session_config(), runtime).await
}

/// This build has no Ballista client.
#[cfg(not(feature = "remote"))]
async fn remote(
    _url: &str,
    _runtime: Arc<datafusion::execution::runtime_env::RuntimeEnv>,
) -> datafusion::error::Result<datafusion::prelude::SessionContext> {
    Err(datafusion::error::DataFusionError::Plan(
        "this clvsql was built without --remote: build it with `cargo build --release --workspace` or `--features remote`".to_string(),
    ))
}

/// `-c` and `-f` in the order they were given on the command line.
fn sources_in_order(matches: &clap::ArgMatches, args: &Args) -> Vec<Source> {
    let mut sources: Vec<(usize, Source)> = vec![];
    if let Some(indices) = matches.indices_of("commands") {
        sources.extend(
            indices
                .zip(&args.commands)
                .map(|(i, c)| (i, Source::Command(c.clone()))),
        );
    }
    if let Some(indices) = matches.indices_of("files") {
        sources.extend(
            indices
                .zip(&args.files)
                .map(|(i, f)| (i, Source::File(f.clone()))),
        );
    }
    sources.sort_by_key(|(i, _)| *i);
    sources.into_iter().map(|(_, s)| s).collect()
}

fn main() {
    let matches = Args::command().get_matches();
    let args = match Args::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(e) => e.exit(),
    };
    if let Some(Subcommand::Serve { args }) = &args.subcommand {
        serve(args);
    }
    // Statements run on a runtime of their own ([`exec::compute_runtime`]);
    // this thread's runtime only reads input and hears Ctrl-C.
    let runtimes = exec::compute_runtime().and_then(|compute| {
        let main = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok((main, compute))
    });
    let (main, compute) = match runtimes {
        Ok(runtimes) => runtimes,
        Err(e) => {
            report!("Error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let ok = main.block_on(run(&matches, &args, compute));
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(if ok { 0 } else { 1 })
}

async fn run(matches: &clap::ArgMatches, args: &Args, compute: tokio::runtime::Runtime) -> bool {
    let stores = Arc::new(clvsql::storage::CloudStoreRegistry::new());
    let mut runtime = clvsql::runtime_builder(Arc::clone(&stores));
    if let Some(limit) = args.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(clvsql::memory::BoundedMemoryPool::new(limit)));
    }
    let print = PrintOptions::new(args.format, args.quiet, args.maxrows);
    let session = match (runtime.build_arc(), &args.remote) {
        (Ok(runtime), Some(url)) => remote(url, runtime).await,
        (runtime, None) => runtime
            .and_then(|runtime| clvsql::session_context_with(clvsql::session_config(), runtime)),
        (Err(e), _) => Err(e),
    };
    let mut session = match session {
        Ok(ctx) => Session::new(ctx, print, stores, args.remote.clone(), compute),
        Err(e) => {
            report!("Error: {}", clvsql::script::one_line(&e.to_string()));
            // A runtime dropped in async code would panic.
            compute.shutdown_background();
            return false;
        }
    };
    let mut db = None;
    if let Some(dir) = &args.db {
        let restored = match db::Db::open(dir) {
            Ok(opened) => opened
                .restore(&session.ctx)
                .await
                .map(|warnings| (opened, warnings)),
            Err(e) => Err(e),
        };
        match restored {
            Ok((opened, warnings)) => {
                for warning in warnings {
                    report!("Warning: --db {}: {warning}", dir.display());
                }
                db = Some(Arc::new(opened));
            }
            Err(e) => {
                report!("Error: {}", exec::error_text(&e));
                return false;
            }
        }
    }
    let sources = sources_in_order(matches, args);
    let interactive = sources.is_empty() || args.interactive;
    // The startup file runs on every start, so what it creates is not kept
    // in --db (its tables would exist twice the next time).
    if let Some(rc) = startup_file(args, interactive)
        && let Err(e) = session.run_file(&rc).await
    {
        report!("Error: {}", exec::error_text(&e));
        if args.rc.is_some() {
            return false;
        }
    }
    session.db = db;
    let ok = session.run_sources(&sources).await;
    if interactive && !session.quit {
        // With --interactive an error in -c or -f does not end the session,
        // but the exit status still says there was one.
        return repl::run(&mut session).await && ok;
    }
    ok
}

/// The startup file to run: `--rc FILE`, or `~/.clvsqlrc` when it exists
/// and the session is interactive (scripts stay reproducible) unless
/// `-X` says not to.
fn startup_file(args: &Args, interactive: bool) -> Option<PathBuf> {
    if let Some(rc) = &args.rc {
        return Some(rc.clone());
    }
    if args.no_rc || !interactive || !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return None;
    }
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".clvsqlrc")).filter(|path| path.is_file())
}
