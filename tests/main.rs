//! clvsql's integration tests, in one binary (each test binary links all of
//! DataFusion again): SQL behaviour in `tests/slt/*.slt`, the CLI, the
//! generated function reference and the Python package.

mod cli;
mod cli_hostile;
mod docs;
mod moto;
mod planning;
mod python;
mod repl;
mod s3;
mod slt;
mod support;
mod venv;
