//! The Python package (`python/`) as its users get it: the wheel built with
//! maturin, installed into a venv with PyPI's datafusion 55.0.0, pandas and
//! Polars, and its pytest suite (`python/tests`) run against this build's
//! `clvsql` command line and a real S3-compatible server.
//!
//! The venv is made once under `~/.cache/clvsql/venv-python`
//! (`$CLVSQL_PYTHON_VENV` to use another). The wheel is a debug build in
//! its own target folder (`CARGO_TARGET_TMPDIR/python`): cargo holds the
//! lock of the test build's own folder while the tests run, and maturin
//! builds the extension alone, with other features than the workspace's.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::s3::Moto;
use crate::support::run_with_timeout;

/// What the venv holds besides the wheel: datafusion pinned to the version
/// whose FFI (datafusion-ffi 55.2) the extension is built against.
const REQUIREMENTS: [&str; 6] = [
    "datafusion==55.0.0",
    "pyarrow==26.0.1",
    "pandas==3.1.1",
    "polars==2.1.0",
    "pytest==9.2.0",
    "maturin==1.16.0",
];

/// Builds the wheel and installs it into `venv`.
fn install_wheel(venv: &Path, root: &Path) {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-wheel");
    let _ = std::fs::remove_dir_all(&out);
    let mut build = Command::new(venv.join("bin/maturin"));
    build
        .args(["build", "--profile", "dev", "--manifest-path"])
        .arg(root.join("python/Cargo.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--interpreter")
        .arg(venv.join("bin/python"))
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("python"),
        );
    let (output, _) = run_with_timeout(build, Duration::from_secs(40 * 60));
    assert!(
        output.status.success(),
        "maturin build failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let wheel = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote a wheel");
    let installed = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
        ])
        .arg(&wheel)
        .status();
    assert!(
        installed.is_ok_and(|s| s.success()),
        "pip install {wheel:?} failed"
    );
}

#[test]
fn python_package_equals_the_command_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = crate::venv::venv("venv-python", "CLVSQL_PYTHON_VENV", &REQUIREMENTS);
    install_wheel(&venv, root);
    let moto = Moto::start();
    moto.create_bucket("lake");
    let parquet = std::fs::read(root.join("data/cdnow_master.parquet")).unwrap();
    let response = moto.request("PUT", "/lake/cdnow/cdnow_master.parquet", &parquet);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let mut pytest = Command::new(venv.join("bin/python"));
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("python/tests"))
        .current_dir(root)
        .env("CLVSQL_BIN", env!("CARGO_BIN_EXE_clvsql"))
        .env("CLVSQL_S3_ENDPOINT", moto.endpoint())
        .env("CLVSQL_S3_BUCKET", "lake");
    let (output, _) = run_with_timeout(pytest, Duration::from_secs(20 * 60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "pytest python/tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
