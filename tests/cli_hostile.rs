//! The CLI on hostile input (issue 15): what once crashed, hung or answered
//! wrong, each asserting the exact behaviour now. SQL-level cases are in
//! tests/slt/adversarial.slt.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{assert_clean_error, clvsql, stderr, stdout, tempdir};

/// Peak memory a `-m` limit does not cover, in MB (README, "Memory").
const OUTSIDE_THE_POOL_MB: usize = 200;

fn sum_of_ones(terms: usize) -> String {
    format!("SELECT {} AS s", vec!["1"; terms].join(" + "))
}

#[test]
fn deep_expressions_are_refused_not_a_stack_overflow() {
    // 10,000 terms aborted the process ("has overflowed its stack").
    let out = clvsql(&["-c", &sum_of_ones(10_000)]);
    assert_clean_error(
        &out,
        "expression nested more than 1000 levels deep (e.g. a chain of over 1000 + or AND terms)",
    );
    let out = clvsql(&["-c", &sum_of_ones(1001)]);
    assert_clean_error(&out, "expression nested more than 1000 levels deep");
    // The deepest allowed expression plans and runs (in a debug build too).
    let out = clvsql(&["-q", "--format", "csv", "-c", &sum_of_ones(1000)]);
    assert_eq!(stdout(&out), "s\n1000\n", "{}", stderr(&out));
    let and = format!("SELECT {} AS b", vec!["true"; 1000].join(" AND "));
    let out = clvsql(&["-q", "--format", "csv", "-c", &and]);
    assert_eq!(stdout(&out), "b\ntrue\n", "{}", stderr(&out));
    // Inside COPY and EXPLAIN too.
    let out = clvsql(&["-c", &format!("EXPLAIN {}", sum_of_ones(5000))]);
    assert_clean_error(&out, "expression nested more than 1000 levels deep");
    let target = tempdir().join("deep.csv");
    let out = clvsql(&[
        "-c",
        &format!("COPY ({}) TO '{}'", sum_of_ones(5000), target.display()),
    ]);
    assert_clean_error(&out, "expression nested more than 1000 levels deep");
    assert!(!target.exists());
}

#[test]
fn files_that_include_each_other_are_refused() {
    let dir = tempdir();
    let a = dir.join("a.sql");
    let b = dir.join("b.sql");
    std::fs::write(&a, format!("SELECT 1;\n\\i {}\n", b.display())).unwrap();
    std::fs::write(&b, format!("\\i {}\n", a.display())).unwrap();
    let out = clvsql(&["-q", "-f", a.to_str().unwrap()]);
    assert_clean_error(&out, "files include each other more than 16 deep");
    assert!(
        stderr(&out).contains(&format!(
            "({} -> {} -> {} -> ...)",
            a.display(),
            b.display(),
            a.display()
        )),
        "{}",
        stderr(&out)
    );
}

/// A statement that computes for hours without yielding: Pareto/NBD's
/// P(X = 10000) on every row.
const ENDLESS: &str = "SELECT sum(prob_purchases(10000 - value % 2, 52, named_struct('r', 0.5, 'alpha', 4.0, 's', 0.6, 'beta', 10.0))) FROM generate_series(1, 1000000)";

/// Starts `shell` (a `sh -c` line that runs the binary as `$CLVSQL`),
/// sends SIGINT after a second of computing, and returns how long the
/// process took to end after it and its output.
fn interrupt(shell: &str) -> (Duration, std::process::Output) {
    let dir = tempdir();
    let script = dir.join("endless.sql");
    std::fs::write(&script, format!("{ENDLESS};\nSELECT 'not reached';\n")).unwrap();
    let child = Command::new("sh")
        .args(["-c", shell])
        .env("CLVSQL", env!("CARGO_BIN_EXE_clvsql"))
        .env("SCRIPT", &script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    let sent = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let out = finished
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!("SIGINT did not end the script ({shell})");
        })
        .unwrap();
    (sent.elapsed(), out)
}

#[test]
fn ctrl_c_stops_a_script_during_a_long_computation() {
    let (after, out) = interrupt(r#"exec "$CLVSQL" -f "$SCRIPT""#);
    assert_clean_error(&out, "query cancelled");
    assert!(!stdout(&out).contains("not reached"));
    assert!(after < Duration::from_secs(2), "took {after:?}");
}

#[test]
fn ctrl_c_stops_a_script_run_with_sigint_ignored() {
    // A background job of a non-interactive shell starts with SIGINT
    // ignored; the script ran on at full CPU for 10 minutes.
    let (after, out) = interrupt(r#"trap '' INT; exec "$CLVSQL" -f "$SCRIPT""#);
    assert_clean_error(&out, "query cancelled");
    assert!(after < Duration::from_secs(2), "took {after:?}");
}

#[test]
fn folders_hold_one_format() {
    let dir = tempdir();
    let folder = dir.join("tx");
    std::fs::create_dir_all(&folder).unwrap();
    for part in ["part-0.parquet", "part-1.parquet"] {
        std::fs::copy("data/cdnow_sample.parquet", folder.join(part)).unwrap();
    }
    std::fs::write(folder.join("_SUCCESS"), "").unwrap();
    let table = format!("{}/", folder.display());
    let count = format!("SELECT count(*) AS n FROM '{table}'");
    let out = clvsql(&["-q", "--format", "csv", "-c", &count]);
    assert_eq!(stdout(&out), "n\n13838\n", "{}", stderr(&out));
    // A stray one-line JSON file made the folder read as that file alone.
    std::fs::write(folder.join("notes.json"), "{\"x\": 1}\n").unwrap();
    let out = clvsql(&["-c", &count]);
    assert_clean_error(
        &out,
        &format!(
            "cannot open {table}: notes.json is not of the format of part-1.parquet (json beside parquet); a folder read as one table must hold files of one format"
        ),
    );
    std::fs::remove_file(folder.join("notes.json")).unwrap();
    // A file that is not Parquet is named, not the first files of the folder.
    std::fs::write(folder.join("part-2.parquet"), "not parquet").unwrap();
    let out = clvsql(&["-c", &count]);
    assert_clean_error(
        &out,
        &format!(
            "reading file://{}/part-2.parquet caused by Parquet error",
            folder.display()
        ),
    );
    let out = clvsql(&["-c", "SELECT * FROM 'data/nope.parquet'"]);
    assert_clean_error(
        &out,
        "cannot open data/nope.parquet: no such file or folder",
    );
}

#[test]
fn copy_to_an_unwritable_place_fails_at_once_naming_it() {
    // object_store's local store retried /proc/x.parquet#1, #2, ... forever.
    let started = Instant::now();
    let out = clvsql(&["-c", "COPY (SELECT 1 AS x) TO '/proc/x.parquet'"]);
    assert_clean_error(
        &out,
        "COPY cannot write /proc/x.parquet: its folder /proc: No such file or directory",
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    let dir = tempdir();
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let target = format!("{}/out.csv", file.display());
    let out = clvsql(&["-c", &format!("COPY (SELECT 1 AS x) TO '{target}'")]);
    assert_clean_error(&out, &format!("COPY cannot write {target}: its folder"));
    let target = format!("{}/out/", dir.display());
    let out = clvsql(&[
        "-q",
        "-c",
        &format!("COPY (SELECT 1 AS x) TO '{target}' STORED AS CSV"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn json_tells_nan_and_infinity_from_null() {
    let sql = "SELECT 'NaN'::double AS a, NULL::double AS b, 1e300 AS c, -1.0 / 0.0 AS d, \
               named_struct('x', 'Infinity'::double) AS s";
    let out = clvsql(&["--format", "json", "-c", sql]);
    assert_eq!(
        stdout(&out),
        "[{\"a\":\"NaN\",\"b\":null,\"c\":1e300,\"d\":\"-Infinity\",\"s\":{\"x\":\"Infinity\"}}]\n",
        "{}",
        stderr(&out)
    );
    let out = clvsql(&["--format", "ndjson", "-c", sql]);
    assert_eq!(
        stdout(&out),
        "{\"a\":\"NaN\",\"b\":null,\"c\":1e300,\"d\":\"-Infinity\",\"s\":{\"x\":\"Infinity\"}}\n"
    );
}

/// Writes a log of `transactions` rows over `customers` customers into
/// `dir`, each customer's rows spread over the whole file as in a log in
/// time order, and returns the query summarising it: the sum of the
/// frequencies (`f`) and the number of customers (`n`).
fn summary_of_a_log(dir: &std::path::Path, customers: u64, transactions: u64) -> String {
    let tx = dir.join("tx.parquet");
    let make = format!(
        "COPY (SELECT value % {customers} AS customer_id, \
                to_timestamp_seconds(1704067200 + (value * 7919) % 40000000) AS order_ts, \
                CAST(value % 97 AS DOUBLE) + 1.0 AS amount \
               FROM generate_series(1, {transactions})) TO '{}'",
        tx.display()
    );
    assert!(clvsql(&["-q", "-c", &make]).status.success());
    format!(
        "SELECT sum(s['frequency']) AS f, count(*) AS n FROM \
         (SELECT customer_id, rfm_summary(order_ts, amount, DATE '2025-07-01') AS s \
          FROM '{}' GROUP BY customer_id)",
        tx.display()
    )
}

#[test]
fn a_memory_limit_gives_the_same_outcome_every_time() {
    // 200,000 customers, 700,000 transactions. With a greedy pool the two
    // partitions of the aggregation raced for memory: near the limit, some
    // runs spilled and succeeded and others failed.
    let dir = tempdir();
    let summary = summary_of_a_log(&dir, 200_000, 700_000);
    for _ in 0..10 {
        // Enough to finish by spilling (the state alone is about 20 MB).
        let out = clvsql(&["-q", "--format", "csv", "-m", "8M", "-c", &summary]);
        assert_eq!(stdout(&out), "f,n\n500000,200000\n", "{}", stderr(&out));
        // Too little for the aggregation to work at all.
        let out = clvsql(&["-m", "1M", "-c", &summary]);
        assert_clean_error(&out, "Resources exhausted: Additional allocation failed");
        assert!(
            stderr(&out).contains("SingleHashAggregateStream"),
            "{}",
            stderr(&out)
        );
    }
}

/// A closed standard error loses the messages; it does not end the run
/// with a panic.
#[test]
fn a_closed_standard_error_is_no_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clvsql"))
        .args(["-c", "SELECT nosuch", "-c", "\\pset foo bar"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    // `clvsql ... | head -1` ended with "Error: ... Broken pipe", status 1;
    // a command's output (`\df+`, `\chart`) ended with a panic.
    let chart = [
        "-c",
        "SELECT x % 1000 AS v FROM generate_series(1, 1000) AS t(x)",
        "-c",
        "\\chart histogram 100",
    ];
    let runs: Vec<(&str, Vec<&str>)> = ["table", "csv", "json", "ndjson"]
        .into_iter()
        .map(|format| {
            (
                format,
                vec!["-c", "SELECT * FROM generate_series(1, 200000)"],
            )
        })
        .chain([
            ("table", vec!["-c", "\\df+", "-c", "\\df+"]),
            ("csv", chart.to_vec()),
        ])
        .collect();
    for (format, args) in runs {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clvsql"))
            .args(["--maxrows", "0", "--format", format])
            .args(&args)
            .args(["-c", "SELECT 'not reached'"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

/// `clvsql args` run to the end, and its peak resident memory in bytes
/// (the kernel's count for that process alone, from `wait4`).
fn run_measuring_memory(args: &[&str]) -> (Output, usize) {
    #[expect(
        clippy::zombie_processes,
        reason = "wait4 below waits for it, to read its peak memory"
    )]
    let mut child = Command::new(env!("CARGO_BIN_EXE_clvsql"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = vec![];
        out.read_to_end(&mut text).map(|_| text)
    });
    let mut stderr = vec![];
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    let stdout = reader.join().unwrap().unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child `pid`,
    // which this process started and has not waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let output = Output {
        status: ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (output, usize::try_from(usage.ru_maxrss).unwrap() * 1024)
}

#[test]
fn a_memory_limit_bounds_the_peak_memory() {
    // 1M customers, 3.5M transactions.
    let dir = tempdir();
    let summary = summary_of_a_log(&dir, 1_000_000, 3_500_000);
    let (free, unbounded) = run_measuring_memory(&["-q", "--format", "csv", "-c", &summary]);
    assert_eq!(stdout(&free), "f,n\n2500000,1000000\n", "{}", stderr(&free));
    let mb = |bytes: usize| bytes / (1 << 20);
    for _ in 0..3 {
        let (out, peak) =
            run_measuring_memory(&["-q", "--format", "csv", "-m", "200M", "-c", &summary]);
        assert_eq!(stdout(&out), "f,n\n2500000,1000000\n", "{}", stderr(&out));
        // The limit plus what the pool does not see (README, "Memory"):
        // the program and its runtime, the file's decoded batches in
        // flight, and the allocator's slack.
        assert!(
            mb(peak) <= 200 + OUTSIDE_THE_POOL_MB,
            "peak {} MB at -m 200M (without a limit: {} MB)",
            mb(peak),
            mb(unbounded)
        );
    }
}
