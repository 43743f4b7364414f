//! The `clvsql` binary, run as a user runs it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs clvsql to the end; a run that hangs fails the test instead of CI.
pub(crate) fn clvsql(args: &[&str]) -> Output {
    clvsql_with_env(args, &[])
}

/// [`clvsql`] with `env` added to the environment.
pub(crate) fn clvsql_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clvsql"));
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    crate::support::run_with_timeout(command, Duration::from_secs(120)).0
}

/// [`clvsql`] with `input` piped to its standard input.
pub(crate) fn clvsql_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_clvsql"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The run failed cleanly: exit code 1 and one `Error:` line, no panic.
pub(crate) fn assert_clean_error(output: &Output, expected: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert!(err.starts_with("Error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(expected), "expected '{expected}' in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn command_prints_a_table() {
    let out = clvsql(&["-c", "SELECT 1 AS x, 'a' AS y"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "+---+---+\n| x | y |\n+---+---+\n| 1 | a |\n+---+---+\n1 row(s) fetched.\n"
    );
}

#[test]
fn formats_and_quiet() {
    let sql = "SELECT * FROM (VALUES (1, 'a'), (2, NULL)) AS t(n, s) ORDER BY n";
    let csv = clvsql(&["--format", "csv", "-c", sql]);
    assert_eq!(stdout(&csv), "n,s\n1,a\n2,\n");
    let json = clvsql(&["--format", "json", "-c", sql]);
    // NULL is written as null, not left out.
    assert_eq!(
        stdout(&json),
        "[{\"n\":1,\"s\":\"a\"},{\"n\":2,\"s\":null}]\n"
    );
    let ndjson = clvsql(&["--format", "ndjson", "-c", sql]);
    assert_eq!(
        stdout(&ndjson),
        "{\"n\":1,\"s\":\"a\"}\n{\"n\":2,\"s\":null}\n"
    );
    let quiet = clvsql(&["-q", "-c", sql]);
    assert!(
        !stdout(&quiet).contains("row(s) fetched"),
        "{}",
        stdout(&quiet)
    );
    let limited = clvsql(&["--maxrows", "1", "-c", sql]);
    assert!(
        stdout(&limited).contains("2 row(s) fetched. (First 1 displayed"),
        "{}",
        stdout(&limited)
    );
    let bad = clvsql(&["--format", "xml", "-c", "SELECT 1"]);
    assert_eq!(bad.status.code(), Some(2), "clap usage errors exit 2");
}

#[test]
fn commands_and_files_share_one_session_in_order() {
    let dir = tempdir();
    let file = dir.join("make.sql");
    std::fs::write(
        &file,
        "CREATE TABLE t AS VALUES (1), (2);\n-- a comment\nINSERT INTO t VALUES (3);\n",
    )
    .unwrap();
    let out = clvsql(&[
        "-q",
        "--format",
        "csv",
        "-f",
        file.to_str().unwrap(),
        "-c",
        "SELECT sum(column1) AS total FROM t",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).ends_with("total\n6\n"), "{}", stdout(&out));

    // Reversed, the SELECT runs first and fails: the order is the command line's.
    let out = clvsql(&[
        "-c",
        "SELECT sum(column1) FROM t",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_clean_error(&out, "table 'datafusion.public.t' not found");
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    assert_clean_error(&clvsql(&["-c", "SELEC 1"]), "SELEC");
    assert_clean_error(
        &clvsql(&["-c", "SELECT segment_of(9, 1)"]),
        "segment_of: argument r must be a score between 1 and 5 for scheme 'rf', got 9",
    );
    assert_clean_error(
        &clvsql(&["-c", "SELECT rfm_summary('x', 'y', 'z')"]),
        "rfm_summary: argument amount must be numeric",
    );
    assert_clean_error(
        &clvsql(&["-f", "no/such/file.sql"]),
        "cannot read no/such/file.sql",
    );
    // Statements after a failing one do not run.
    let out = clvsql(&["-c", "SELECT 1/0; SELECT 'after' AS x"]);
    assert_clean_error(&out, "Divide by zero");
    assert!(!stdout(&out).contains("after"));
}

/// The table format for reading: 6 significant digits, NULL spelled out,
/// numbers right-aligned, column names as SQL; csv keeps every digit and
/// DataFusion's names; \pset and \x change the table format only.
#[test]
fn readable_tables_and_output_settings() {
    let sql = "SELECT round(580138.12, 0) AS r, 1.0 / 3 AS third, NULL AS n, 'NULL' AS s, \
               clv_simple(50, 4, 3, 0.3), 1234567 AS big";
    let out = clvsql(&["-c", sql]);
    assert_eq!(
        stdout(&out),
        "+--------+----------+------+------+---------------------------+---------+\n\
         | r      | third    | n    | s    | clv_simple(50, 4, 3, 0.3) | big     |\n\
         +--------+----------+------+------+---------------------------+---------+\n\
         | 580138 | 0.333333 | NULL | NULL |                       180 | 1234567 |\n\
         +--------+----------+------+------+---------------------------+---------+\n\
         1 row(s) fetched.\n"
    );
    let csv = clvsql(&["--format", "csv", "-c", sql]);
    assert_eq!(
        stdout(&csv),
        "r,third,n,s,\"clv_simple(Int64(50),Int64(4),Int64(3),Float64(0.3))\",big\n\
         580138.0,0.3333333333333333,,NULL,180.0,1234567\n"
    );
    let set = clvsql(&["-c", "\\pset digits 3 null - thousands on", "-c", sql]);
    assert!(
        stdout(&set)
            .contains("| 580,138 | 0.333 | - | NULL |                       180 | 1,234,567 |"),
        "{}",
        stdout(&set)
    );
    let expanded = clvsql(&["-c", "\\x", "-c", sql]);
    assert!(
        stdout(&expanded).contains(
            "-[ RECORD 1 ]--------------------------------\n\
             r                         | 580138\n\
             third                     | 0.333333\n"
        ),
        "{}",
        stdout(&expanded)
    );
    let described = stdout(&clvsql(&["-c", "\\df+ clv_simple"]));
    for part in [
        "clv_simple (scalar function)",
        "The textbook customer lifetime value",
        "#### Arguments",
        "- `margin`: Profit margin",
        "#### Example",
    ] {
        assert!(described.contains(part), "{part}: {described}");
    }
    let listed = stdout(&clvsql(&["-c", "\\df"]));
    assert!(
        listed.contains("| p_alive ") && listed.contains("The probability that a customer"),
        "{listed}"
    );
    assert_clean_error(
        &clvsql(&["-c", "\\pset digits many"]),
        "\\pset digits takes a number",
    );
    assert_clean_error(&clvsql(&["-c", "\\chart"]), "run a query first");
}

#[test]
fn backslash_commands() {
    let out = clvsql(&[
        "-c",
        "CREATE TABLE tx (customer_id BIGINT, amount DOUBLE)",
        "-c",
        "\\d",
        "-c",
        "\\d tx",
        "-c",
        "\\df",
        "-c",
        "\\pset format csv maxrows 5",
        "-c",
        "SELECT 7 AS n",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("| public       | tx         | BASE TABLE |"),
        "{text}"
    );
    assert!(
        text.contains("| customer_id | Int64     | YES         |"),
        "{text}"
    );
    for function in ["clv_simple", "rfm_score", "rfm_summary", "segment_of"] {
        assert!(
            text.contains(function),
            "{function} missing from \\df: {text}"
        );
    }
    assert!(text.contains("format csv, maxrows 5"), "{text}");
    assert!(text.ends_with("n\n7\n"), "{text}");

    let out = clvsql(&["--format", "csv", "-c", "SHOW FUNCTIONS LIKE 'rfm%'"]);
    let text = stdout(&out);
    assert!(
        text.contains("rfm_summary") && text.contains("rfm_score"),
        "{text}"
    );

    let out = clvsql(&["-c", "\\df *ntile*"]);
    assert!(stdout(&out).contains("ntile"), "{}", stdout(&out));
    assert_clean_error(&clvsql(&["-c", "\\nope"]), "unknown command \\nope");
    assert_clean_error(&clvsql(&["-c", "\\d missing"]), "no table named 'missing'");
    let out = clvsql(&["-c", "\\q", "-c", "SELECT 'not run' AS x"]);
    assert!(out.status.success() && !stdout(&out).contains("not run"));
}

#[test]
fn include_runs_a_file() {
    let dir = tempdir();
    let inner = dir.join("inner.sql");
    std::fs::write(&inner, "SELECT 40 + 2 AS answer;").unwrap();
    let out = clvsql(&[
        "-q",
        "--format",
        "csv",
        "-c",
        &format!("\\i {}", inner.display()),
    ]);
    assert_eq!(stdout(&out), "answer\n42\n", "{}", stderr(&out));
}

#[test]
fn piped_standard_input_runs_as_a_script() {
    let out = clvsql_stdin(
        &["-q", "--format", "csv"],
        b"SELECT 1 AS a;\nSELECT 2\n  AS b;\n",
    );
    assert_eq!(stdout(&out), "a\n1\nb\n2\n", "{}", stderr(&out));
}

#[test]
fn memory_limit_fails_cleanly_or_spills() {
    let query = "SELECT v, count(*) FROM (SELECT value % 300000 AS v FROM generate_series(1, 3000000)) GROUP BY v ORDER BY v DESC LIMIT 1";
    let small = clvsql(&["-m", "64K", "-c", query]);
    assert_clean_error(&small, "Resources exhausted");
    let enough = clvsql(&["-q", "--format", "csv", "-m", "512M", "-c", query]);
    assert!(enough.status.success(), "{}", stderr(&enough));
    assert!(
        stdout(&enough).ends_with("299999,10\n"),
        "{}",
        stdout(&enough)
    );
    assert_eq!(
        clvsql(&["-m", "lots", "-c", "SELECT 1"]).status.code(),
        Some(2)
    );
}

#[test]
fn example_analysis_runs_from_the_repository_root() {
    let out = clvsql(&["-f", "sql/rfm_segments.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for segment in [
        "Champions",
        "Hibernating",
        "Can't Lose Them",
        "About To Sleep",
    ] {
        assert!(text.contains(segment), "{segment} missing: {text}");
    }
}

#[test]
fn clv_analysis_runs_from_the_repository_root() {
    let out = clvsql(&["--format", "csv", "-f", "sql/clv.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // The fitted parameters (the Pareto/NBD fit converged), then CLV by
    // segment with Champions first, then the ten largest values at risk.
    assert!(text.contains(",true,"), "{text}");
    let by_segment = text
        .split("segment,customers,")
        .nth(1)
        .expect("CLV by segment");
    assert!(
        by_segment
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("Champions,")),
        "{text}"
    );
    let at_risk = text
        .split("customer_id,segment,spent_so_far,churn_prob,clv_next_year,value_at_risk")
        .nth(1)
        .expect("customers at risk");
    let at_risk: Vec<f64> = at_risk
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(at_risk.len(), 10, "{text}");
    assert!(at_risk.windows(2).all(|w| w[0] >= w[1]), "{text}");
}

/// sql/cohorts.sql: the cohort table and revenue per customer equal
/// DuckDB 2.0.1's on the same file (cohorts by month of first purchase,
/// `date_diff('month', ...)` months since; computed when writing this test).
#[test]
fn cohort_analysis_runs_from_the_repository_root() {
    let out = clvsql(&["--format", "csv", "-q", "-f", "sql/cohorts.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.starts_with(
            "cohort,customers,m1_pct,m2_pct,m3_pct,m6_pct,m12_pct\n\
             1997-01-01,7846,14.7,12.3,10.3,9.2,6.7\n\
             1997-02-01,8476,15.5,11.6,9.2,7.4,6.7\n\
             1997-03-01,7248,14.2,10.4,10.4,7.7,9.4\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\n1,3501,14.9,█████████████████████████████▊\n"),
        "{text}"
    );
    for to_date in ["1997-01-01,113.07", "1997-02-01,104.6", "1997-03-01,100.24"] {
        assert!(text.contains(&format!("\n{to_date}\n")), "{text}");
    }
    assert!(
        text.contains("revenue_per_customer by cohort\n1997-01-01 │"),
        "{text}"
    );
}

#[test]
fn subscription_analysis_fits_both_plans() {
    let out = clvsql(&["--format", "csv", "-f", "sql/subscriptions.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let models = text
        .split("plan,alpha,alpha_se,beta,beta_se,subscribers,converged")
        .nth(1)
        .expect("the fitted models");
    let rows: Vec<&str> = models.lines().filter(|l| !l.is_empty()).take(2).collect();
    assert!(
        rows[0].starts_with("basic,") && rows[0].ends_with(",3000,true"),
        "{text}"
    );
    assert!(
        rows[1].starts_with("premium,") && rows[1].ends_with(",3000,true"),
        "{text}"
    );
}

#[test]
fn validation_compares_three_models_on_the_holdout() {
    let out = clvsql(&["--format", "csv", "-f", "sql/validate.sql"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    for model in ["BG/NBD,", "MBG/NBD,", "Pareto/NBD,"] {
        assert!(text.contains(model), "{model} missing: {text}");
    }
    let by_frequency = text
        .split("repeat_purchases_cal,customers,actual,bg_nbd,mbg_nbd,pareto_nbd")
        .nth(1)
        .expect("predicted against actual by frequency");
    let rows: Vec<&str> = by_frequency
        .lines()
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("actual,"))
        .collect();
    let first: Vec<&str> = rows.iter().map(|r| r.split(',').next().unwrap()).collect();
    assert_eq!(first, ["0", "1", "2", "3", "4", "5", "6", "7+"], "{text}");
}

/// The REPL on a real terminal: multi-line input, Ctrl-C cancelling a
/// running query and an unreachable object store without leaving the REPL,
/// and history written on exit with secrets redacted.
#[test]
fn repl_on_a_terminal() {
    let dir = tempdir();
    let history = dir.join("history");
    let mut pty = crate::repl::Pty::start(
        &["-X"],
        &[
            ("CLVSQL_HISTORY", history.to_str().unwrap()),
            // An object store nothing listens on, for a failing s3:// query.
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ],
        "dumb",
    );
    pty.wait_for("clvsql> ");
    pty.send("SELECT 6 *\r");
    pty.send("7 AS answer;\r");
    pty.wait_for("|     42 |");
    pty.send("SELECT count(*) FROM generate_series(1, 100000000000);\r");
    // Ctrl-C only interrupts once the query runs (the terminal is out of raw
    // mode); a Ctrl-C that comes earlier is read as a key and clears an
    // empty line, so press it until the query is cancelled.
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(500));
        if pty.screen().contains("query cancelled") {
            break;
        }
        pty.send("\x03");
    }
    pty.wait_for("query cancelled");
    pty.send("SELECT * FROM 's3://nowhere/tx.parquet';\r");
    pty.wait_for("cannot open s3://nowhere/tx.parquet");
    pty.send(
        "CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION 's3://nowhere/t/' OPTIONS ('aws.secret_access_key' 'HUSH', 'aws.access_key_id' 'k');\r",
    );
    pty.wait_for("cannot open s3://nowhere/t/");
    pty.send("SELECT 'still here' AS status;\r");
    pty.wait_for("still here");
    pty.send("\\q\r");
    pty.finish();
    let saved = std::fs::read_to_string(&history).expect("history saved");
    assert!(saved.contains("7 AS answer;"), "{saved}");
    assert!(
        !saved.contains("HUSH") && saved.contains("'aws.secret_access_key' '***'"),
        "{saved}"
    );
}

/// A fresh directory under the target directory, removed by nobody: cheap
/// and visible after a failure.
pub(crate) fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "cli-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every SQL block of README.md runs, in order, in one session.
#[test]
fn readme_sql_runs() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut sql = String::new();
    let mut in_sql = false;
    for line in readme.lines() {
        match line.trim() {
            "```sql" => in_sql = true,
            "```" => in_sql = false,
            _ if in_sql => {
                sql.push_str(line);
                sql.push('\n');
            }
            _ => {}
        }
    }
    assert!(sql.contains("rfm_summary"), "no SQL found in README.md");
    let dir = tempdir();
    let file = dir.join("readme.sql");
    std::fs::write(&file, &sql).unwrap();
    let out = clvsql(&["-f", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "README SQL failed: {}\n{sql}",
        stderr(&out)
    );
}
