//! clvsql on an Apache Ballista cluster: the sessions of the scheduler and
//! of the executors, with every clvsql function and clvsql's object stores
//! (`s3://` and the others from each process's environment), for the
//! `clvsql-scheduler` and `clvsql-executor` programs. Ballista moves plans
//! between processes by function name, so both sides register the same
//! functions; the functions keep no state (DESIGN.md), so they travel.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use clvsql::storage::CloudStoreRegistry;
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;

/// The configuration both sides start a session from: clvsql's (see
/// [`clvsql::session_config`]) with its cluster settings (see
/// [`clvsql::remote::cluster_config`]); a client's settings are applied on
/// top.
pub fn session_config() -> SessionConfig {
    clvsql::remote::cluster_config(clvsql::session_config())
}

/// The session the scheduler plans a job in.
pub fn scheduler_session(config: SessionConfig) -> Result<SessionState> {
    let ctx = clvsql::session_context_with(config, runtime(None)?)?;
    Ok(ctx.state())
}

/// The functions an executor finds by name in the plans it runs:
/// DataFusion's and clvsql's.
pub fn executor_functions() -> Result<Arc<BallistaFunctionRegistry>> {
    let state = scheduler_session(session_config())?;
    Ok(Arc::new(BallistaFunctionRegistry::from(&state)))
}

/// A runtime with clvsql's object stores, spilling into `work_dir`.
pub fn runtime(work_dir: Option<&str>) -> Result<Arc<RuntimeEnv>> {
    let mut runtime = clvsql::runtime_builder(Arc::new(CloudStoreRegistry::new()));
    if let Some(work_dir) = work_dir {
        runtime = runtime.with_temp_file_path(work_dir);
    }
    runtime.build_arc()
}

/// Logs to standard output at `level`, or as `RUST_LOG` says.
pub fn init_logging(level: &str) {
    let filter = std::env::var(tracing_subscriber::EnvFilter::DEFAULT_ENV)
        .unwrap_or_else(|_| level.to_string());
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
}
