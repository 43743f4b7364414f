//! Helpers shared by the test modules.

use std::process::{Command, Output, Stdio};
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
