//! The `moto_server` program, the S3-compatible server of the object-store
//! tests: shared by this binary and, through `#[path]`, the cluster's tests
//! (which include `venv.rs` beside it).

use std::path::PathBuf;
use std::sync::OnceLock;

/// The `moto_server` executable (PyPI `moto[server]`):
/// `$CLVSQL_MOTO_SERVER` when set, else from the venv `venv-moto`
/// (`$CLVSQL_VENV` to put it elsewhere).
pub fn moto_server() -> &'static PathBuf {
    static SERVER: OnceLock<PathBuf> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var_os("CLVSQL_MOTO_SERVER") {
        Some(server) => PathBuf::from(server),
        None => crate::venv::venv("venv-moto", "CLVSQL_VENV", &["moto[server]==5.*"])
            .join("bin/moto_server"),
    })
}
