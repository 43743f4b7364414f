//! `clvsql-scheduler`: Ballista's scheduler with clvsql's functions and
//! object stores. It takes Ballista's own flags (`--bind-host`,
//! `--bind-port`, ...; `--help` lists them), so Ballista's deployment
//! documentation applies unchanged.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{Config, SchedulerConfig};
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;

fn main() -> ballista_core::error::Result<()> {
    // DataFusion recurses over plans and expressions: Ballista's own
    // scheduler runs with 32 MiB stacks too.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()?;
    runtime.block_on(run())
}

async fn run() -> ballista_core::error::Result<()> {
    let options = Config::parse();
    clvsql_cluster::init_logging(&options.log_level_setting);
    let address: SocketAddr = format!("{}:{}", options.bind_host, options.bind_port)
        .parse()
        .map_err(|e| {
            ballista_core::error::BallistaError::Configuration(format!(
                "--bind-host {} --bind-port {}: {e}",
                options.bind_host, options.bind_port
            ))
        })?;
    let mut config: SchedulerConfig = options.try_into()?;
    // The client's tables in memory travel inside its plans.
    config.override_logical_codec = Some(Arc::new(clvsql::remote::TableCodec::default()));
    let config = config
        .with_override_config_producer(Arc::new(clvsql_cluster::session_config))
        .with_override_session_builder(Arc::new(clvsql_cluster::scheduler_session));
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, address, Arc::new(config)).await
}
