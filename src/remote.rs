//! `clvsql --remote df://HOST:PORT`: statements run on an Apache Ballista
//! cluster of `clvsql-scheduler` and `clvsql-executor` processes (the
//! workspace's `cluster` crate). This process parses, plans and prints as
//! in local mode; the scheduler plans the distributed job and the executors
//! read the data and compute.

use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::{MemTable, TableProvider};
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;

use crate::storage::UrlTables;

/// How long the scheduler has to answer before `--remote` gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// clvsql's session (see [`crate::session_context_with`]; errors reading a
/// file do not name it here) as a client of the Ballista scheduler at `url`
/// (`df://HOST:PORT`).
pub async fn connect(
    url: &str,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> Result<SessionContext> {
    let address = scheduler_address(url)?;
    // Ballista connects at the first query; an absent scheduler is better
    // said at once.
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(DataFusionError::Plan(format!(
                "no Ballista scheduler answers at {url}: {e}"
            )));
        }
        Err(_) => {
            return Err(DataFusionError::Plan(format!(
                "no Ballista scheduler answers at {url} within {} s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    }
    let local = crate::session_context_for_cluster(cluster_config(config), runtime)?;
    let mut remote = SessionContext::remote_with_state(url, local.state()).await?;
    // Ballista's upgrade of the session puts DataFusion's function lists in
    // place of the session's own.
    clvsql_udfs::register_all(&mut remote)?;
    // Tables named by path look their files up through the context they
    // were enabled on: this one.
    Ok(UrlTables::enable(remote))
}

/// The plans Ballista sends between client and scheduler, with the tables
/// `CREATE TABLE ... AS` and `INSERT` keep in this process's memory: their
/// rows travel inside the plan (Arrow IPC), so `sql/clv.sql`'s tables of
/// customers and models work on a cluster. The rest is Ballista's codec.
#[derive(Debug, Default)]
pub struct TableCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for TableCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some(rows) = buf.strip_prefix(MEMORY_TABLE) else {
            return self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let batches =
            StreamReader::try_new(rows, None)?.collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(table) = node.downcast_ref::<MemTable>() else {
            return self
                .ballista
                .try_encode_table_provider(table_ref, node, buf);
        };
        buf.extend_from_slice(MEMORY_TABLE);
        let mut writer = StreamWriter::try_new(&mut *buf, &table.schema())?;
        for partition in &table.batches {
            let batches = partition.try_read().map_err(|_| {
                DataFusionError::Execution(format!("table {table_ref} is being written"))
            })?;
            for batch in batches.iter() {
                writer.write(batch)?;
            }
        }
        writer.finish()?;
        Ok(())
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// What starts an encoded in-memory table.
const MEMORY_TABLE: &[u8] = b"clvsql-memory-table\n";

/// `config` with the settings clvsql runs with on a cluster, for its
/// clients, scheduler and executors: Ballista's, the plan codec that
/// carries tables in memory ([`TableCodec`]), and Ballista's static
/// planner. Its adaptive planner (the default) can leave a job waiting
/// forever when an executor is lost mid-job ("Can't find active stage to
/// update stage outputs" in the scheduler's log, 1 run in 3 here); the
/// static one runs the lost tasks again.
pub fn cluster_config(config: SessionConfig) -> SessionConfig {
    config
        .upgrade_for_ballista()
        .with_ballista_logical_extension_codec(Arc::new(TableCodec::default()))
        .set_str(BALLISTA_ADAPTIVE_PLANNER_ENABLED, "false")
}

/// `HOST:PORT` of a `df://HOST:PORT` URL.
fn scheduler_address(url: &str) -> Result<String> {
    let address = url.strip_prefix("df://").ok_or_else(|| {
        DataFusionError::Plan(format!(
            "--remote takes a scheduler's URL as df://HOST:PORT, got {url}"
        ))
    })?;
    let address = address.trim_end_matches('/');
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
            Ok(address.to_string())
        }
        _ => Err(DataFusionError::Plan(format!(
            "--remote takes a scheduler's URL as df://HOST:PORT, got {url}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_and_port() {
        assert_eq!(
            scheduler_address("df://127.0.0.1:50050").unwrap(),
            "127.0.0.1:50050"
        );
        assert_eq!(
            scheduler_address("df://cluster:50050/").unwrap(),
            "cluster:50050"
        );
        for bad in [
            "127.0.0.1:50050",
            "df://cluster",
            "df://:5",
            "df://host:port",
        ] {
            let message = scheduler_address(bad).unwrap_err().to_string();
            assert!(message.contains("df://HOST:PORT"), "{message}");
        }
    }
}
