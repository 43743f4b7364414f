//! The `moto_server` program for the object-store tests: shared by this
//! binary (`tests/s3.rs`, `tests/python.rs`) and the cluster's tests
//! (`cluster/tests/cluster.rs`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `moto_server` executable (PyPI `moto[server]`), an S3-compatible
/// server for the object-store tests: `$CLVSQL_MOTO_SERVER` when set, else
/// installed once into a venv (`$CLVSQL_VENV`, default
/// `~/.cache/clvsql/venv-moto`) with the machine's `python3`.
pub fn moto_server() -> &'static PathBuf {
    static SERVER: OnceLock<PathBuf> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Some(server) = std::env::var_os("CLVSQL_MOTO_SERVER") {
            return PathBuf::from(server);
        }
        let venv = std::env::var_os("CLVSQL_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").expect("HOME is set");
                PathBuf::from(home).join(".cache/clvsql/venv-moto")
            });
        let server = venv.join("bin/moto_server");
        if !server.exists() {
            let make_venv = Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv)
                .status();
            assert!(
                make_venv.is_ok_and(|s| s.success()),
                "python3 -m venv {venv:?} failed"
            );
            let install = Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "moto[server]==5.*",
                ])
                .status();
            assert!(
                install.is_ok_and(|s| s.success()),
                "pip install moto[server] into {venv:?} failed"
            );
        }
        server
    })
}
