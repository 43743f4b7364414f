//! `clvsql-executor`: Ballista's executor with clvsql's functions and
//! object stores (`s3://` from the standard `AWS_*` environment). It takes
//! Ballista's own flags (`--scheduler-host`, `--scheduler-port`,
//! `--bind-port`, `--bind-grpc-port`, `--bind-health-port`, `--work-dir`,
//! ...; `--help` lists them).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_executor::config::Config;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::health::spawn_health_server;
use clap::Parser;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ballista_core::error::Result<()> {
    let options = Config::parse();
    clvsql_cluster::init_logging(&options.log_level_setting);
    let health_address: SocketAddr = format!("{}:{}", options.bind_host, options.bind_health_port)
        .parse()
        .map_err(|e| {
            ballista_core::error::BallistaError::Configuration(format!(
                "--bind-host {} --bind-health-port {}: {e}",
                options.bind_host, options.bind_health_port
            ))
        })?;
    let mut config: ExecutorProcessConfig = options.try_into()?;
    // Without --work-dir Ballista names a temporary folder and deletes it
    // at once; spills and shuffle files need one that stays.
    let work_dir = match &config.work_dir {
        Some(dir) => dir.clone(),
        None => {
            let dir = std::env::temp_dir().join(format!("clvsql-executor-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let dir = dir.to_string_lossy().into_owned();
            config.work_dir = Some(dir.clone());
            dir
        }
    };
    config.override_config_producer = Some(Arc::new(clvsql_cluster::session_config));
    config.override_function_registry = Some(clvsql_cluster::executor_functions()?);
    config.override_runtime_producer =
        Some(Arc::new(move |_| clvsql_cluster::runtime(Some(&work_dir))));
    let (stop_health, stopped) = tokio::sync::oneshot::channel();
    let health = spawn_health_server(health_address, config.health.clone(), stopped);
    let result = start_executor_process(Arc::new(config)).await;
    let _ = stop_health.send(());
    let _ = health.await;
    result
}
