//! clvsql: customer lifetime value and RFM segmentation as SQL on Apache
//! DataFusion. This crate builds a ready [`SessionContext`]; the functions
//! themselves live in [`clvsql_udfs`] and can be registered with any session.
//!
//! ```no_run
//! # async fn demo() -> datafusion::error::Result<()> {
//! let ctx = clvsql::session_context()?;
//! ctx.sql("SELECT clv_simple(50, 4, 3, 0.3)").await?.show().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use clvsql_udfs;

pub mod memory;

/// The session configuration clvsql uses: `information_schema` on, so
/// `SHOW FUNCTIONS`, `SHOW TABLES` and the REPL's `\d` commands work.
pub fn session_config() -> SessionConfig {
    SessionConfig::new().with_information_schema(true)
}

/// A `SessionContext` with every clvsql function registered,
/// `information_schema` on and file paths usable as tables
/// (`SELECT * FROM 'data/tx.parquet'`).
pub fn session_context() -> Result<SessionContext> {
    session_context_with(session_config(), Arc::new(RuntimeEnv::default()))
}

/// Like [`session_context`], with your own configuration and runtime
/// (memory limit, disk manager, object stores).
pub fn session_context_with(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    let mut ctx = SessionContext::new_with_config_rt(config, runtime).enable_url_table();
    clvsql_udfs::register_all(&mut ctx)?;
    Ok(ctx)
}
