//! Python venvs for the tests that drive real Python programs: moto_server
//! (the S3-compatible server of the object-store tests), psycopg (the serve
//! tests) and the Python package's. Shared by this binary and, through
//! `#[path]`, by the serve and cluster crates' tests. Each venv is made once
//! under `~/.cache/clvsql` with the machine's `python3`, and installed into
//! again when the requirements change.

use std::path::PathBuf;
use std::process::Command;

/// The venv `~/.cache/clvsql/NAME` (or the folder `$OVERRIDE` names) with
/// `requirements` installed.
pub fn venv(name: &str, override_var: &str, requirements: &[&str]) -> PathBuf {
    let venv = std::env::var_os(override_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            PathBuf::from(home).join(".cache/clvsql").join(name)
        });
    let stamp = venv.join("clvsql-requirements.txt");
    let wanted = requirements.join("\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return venv;
    }
    if !venv.join("bin/python").exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "python3 -m venv {venv:?} failed"
        );
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(requirements)
        .status();
    assert!(
        installed.is_ok_and(|s| s.success()),
        "pip install {requirements:?} into {venv:?} failed"
    );
    std::fs::write(&stamp, wanted).unwrap();
    venv
}
