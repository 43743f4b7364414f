//! Helpers shared by the test modules.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Runs `command` to the end with its output captured; a run that takes
/// longer than `limit` is killed and fails the test instead of hanging CI.
pub fn run_with_timeout(mut command: Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match finished.recv_timeout(limit) {
        Ok(output) => (output.expect("the command's output"), started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{command:?} did not finish within {limit:?}");
        }
    }
}

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
