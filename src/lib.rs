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
use datafusion::execution::memory_pool::MemoryLimit;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

pub use clvsql_udfs;

pub mod cancel;
pub mod local_store;
pub mod memory;
pub mod planning;
#[cfg(feature = "remote")]
pub mod remote;
pub mod reserve;
pub mod script;
pub mod statement;
pub mod storage;

/// The session configuration clvsql uses: `information_schema` on, so
/// `SHOW FUNCTIONS`, `SHOW TABLES` and the REPL's `\d` commands work; and
/// `collect_statistics` off, because collecting statistics reads the footer
/// of every file of a table at planning, before partition filters prune
/// them: in a data lake that is a request per object for every query.
/// `SET datafusion.execution.collect_statistics = true` turns it back on.
///
/// Partial aggregation (before the repartition by group) is skipped once it
/// shrinks its input less than 10 times (DataFusion's default: 1.25 times).
/// Per-customer aggregations over transaction logs, a few rows per customer,
/// otherwise aggregate everything twice: on 1M customers' 3.4M transactions
/// the summary takes 15-20% less time this way, and a plain `sum` by customer
/// 10-20% less, in customer or in time order (benches/README.md).
pub fn session_config() -> SessionConfig {
    let mut config = SessionConfig::new().with_information_schema(true);
    let execution = &mut config.options_mut().execution;
    execution.collect_statistics = false;
    execution.skip_partial_aggregation_probe_ratio_threshold = 0.1;
    config
}

/// A runtime whose object store registry makes `s3://`, `gs://` and `az://`
/// stores from the environment on first use (see [`storage`]).
pub fn runtime_builder(registry: Arc<storage::CloudStoreRegistry>) -> RuntimeEnvBuilder {
    RuntimeEnvBuilder::new().with_object_store_registry(registry)
}

/// A `SessionContext` with every clvsql function registered,
/// `information_schema` on, file paths usable as tables
/// (`SELECT * FROM 'data/tx.parquet'`) and object stores (`s3://...`).
pub fn session_context() -> Result<SessionContext> {
    let runtime = runtime_builder(Arc::new(storage::CloudStoreRegistry::new())).build_arc()?;
    session_context_with(session_config(), runtime)
}

/// Like [`session_context`], with your own configuration and runtime
/// (memory limit, disk manager; build it from [`runtime_builder`] to keep
/// the object stores). `CREATE EXTERNAL TABLE ... OPTIONS ('aws.*' ...)`
/// registers a store for the table's bucket.
pub fn session_context_with(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    build(config, runtime, true, false)
}

/// Like [`session_context_with`], without tables named by a path or URL in
/// the query (`FROM 'data/tx.parquet'`, `FROM 's3://...'`): for a server
/// whose clients must not read whatever files its machine can. Tables come
/// from `CREATE EXTERNAL TABLE`.
pub fn session_context_without_url_tables(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    build(config, runtime, false, false)
}

/// The session `--remote` starts from: without URL tables (enabled on the
/// remote context, see [`remote::connect`]), with DataFusion's own file
/// formats, which plans sent to a cluster can carry (the formats that name
/// the file in their errors cannot be serialized), and refusing per-table
/// credentials, which would stay in this process.
#[cfg(feature = "remote")]
fn session_context_for_cluster(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    build(config, runtime, false, true)
}

fn build(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    url_tables: bool,
    for_cluster: bool,
) -> Result<SessionContext> {
    let unlimited = matches!(runtime.memory_pool.memory_limit(), MemoryLimit::Infinite);
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rules(planning::SmallCrossJoinBuild::with_default_rules(unlimited))
        .build();
    for factory in state.table_factories_mut().values_mut() {
        *factory = Arc::new(storage::CloudTableFactory::new(
            Arc::clone(factory),
            for_cluster,
        ));
    }
    for ext in ["parquet", "csv", "json"]
        .into_iter()
        .filter(|_| !for_cluster)
    {
        if let Some(format) = state.get_file_format_factory(ext) {
            let named = storage::NamedErrorsFormatFactory::new(format);
            state.register_file_format(Arc::new(named), true)?;
        }
    }
    let mut ctx = SessionContext::new_with_state(state);
    if url_tables {
        ctx = storage::UrlTables::enable(ctx);
    }
    clvsql_udfs::register_all(&mut ctx)?;
    Ok(ctx)
}
