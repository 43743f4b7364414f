//! The REPL on a real terminal: a pty from util-linux `script`, with the
//! keys a user presses (Tab, Ctrl-C) and what the screen then shows.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cli::{clvsql, stderr, stdout, tempdir};

/// A clvsql REPL on a pty.
pub(crate) struct Pty {
    child: Option<Child>,
    input: Option<ChildStdin>,
    screen: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    /// A value of `CLVSQL_TEST_MARK` only this clvsql has, to find it.
    mark: String,
}

/// `text` quoted for the shell `script -c` runs.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl Pty {
    /// Starts `clvsql ARGS` on a terminal of type `term` ("dumb" turns line
    /// editing off) with `env` added, in the repository's root.
    pub(crate) fn start(args: &[&str], env: &[(&str, &str)], term: &str) -> Pty {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mark = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let command: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_clvsql"))
            .chain(args.iter().copied())
            .map(quoted)
            .collect();
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &command.join(" "), "/dev/null"])
            .envs(env.iter().copied())
            .env("CLVSQL_TEST_MARK", &mark)
            .env("TERM", term)
            .env("COLUMNS", "120")
            .env("LINES", "40")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux script runs");
        let input = child.stdin.take();
        let screen = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn({
            let screen = Arc::clone(&screen);
            move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n) = stdout.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    screen
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buffer[..n]));
                }
            }
        });
        Pty {
            child: Some(child),
            input,
            screen,
            reader: Some(reader),
            mark,
        }
    }

    pub(crate) fn send(&mut self, text: &str) {
        let input = self.input.as_mut().expect("open");
        input.write_all(text.as_bytes()).unwrap();
        input.flush().unwrap();
    }

    /// The screen so far, escape sequences and all.
    pub(crate) fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    /// Waits until `text` appears on the screen (after `from` bytes of it).
    pub(crate) fn wait_for_after(&self, from: usize, text: &str) {
        let started = Instant::now();
        while !self.screen()[from..].contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "'{text}' never appeared: {}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn wait_for(&self, text: &str) {
        self.wait_for_after(0, text);
    }

    /// The clvsql process itself (a child of the shell `script` starts).
    fn pid(&self) -> u32 {
        let started = Instant::now();
        loop {
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let marked = format!("CLVSQL_TEST_MARK={}", self.mark);
                if String::from_utf8_lossy(&environ).contains(&marked)
                    && String::from_utf8_lossy(&cmdline).starts_with(env!("CARGO_BIN_EXE_clvsql"))
                {
                    return pid;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no clvsql process"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// CPU seconds clvsql has used so far (user and system).
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command's `(name)`: utime and stime are the 12th
        // and 13th, in clock ticks (100 a second on Linux).
        let after = stat.rsplit_once(')').unwrap().1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    /// Closes the input and waits for the REPL to end.
    pub(crate) fn finish(mut self) -> Output {
        drop(self.input.take());
        let mut child = self.child.take().unwrap();
        let started = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                child.kill().unwrap();
                panic!("the REPL did not exit: {}", self.screen());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        self.reader.take().unwrap().join().unwrap();
        output
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
        }
    }
}

/// Tab completes table, column and function names, keywords and paths in
/// quotes; each completed statement runs, so a wrong completion fails it.
#[test]
fn tab_completes_names_and_paths() {
    let dir = tempdir();
    let history = dir.join("history");
    let history = history.to_str().unwrap();
    let mut pty = Pty::start(&["-X"], &[("CLVSQL_HISTORY", history)], "xterm");
    pty.wait_for("clvsql> ");
    pty.send("CREATE TABLE customer_base AS SELECT 7 AS customer_count;\r");
    pty.wait_for("clvsql> ");
    // Table, then column after `table.`, then a keyword, then a function.
    pty.send("SELECT customer_base.customer_c\t FR\t customer_b\t;\r");
    pty.wait_for("|              7 |");
    pty.send("SELECT clv_sim\t(50, 4, 3) AS v;\r");
    pty.wait_for("| 600 |");
    // A file's path is completed with the closing quote.
    pty.send("SELECT count(*) AS orders FROM 'data/cdnow_mas\t;\r");
    pty.wait_for("69659");
    pty.send("\\q\r");
    pty.finish();
}

/// `\x` unfolds a model struct a field a line; `\chart` draws the last
/// result; a backslash command inside an unfinished statement runs as a
/// command and the statement goes on.
#[test]
fn expanded_output_charts_and_commands_inside_statements() {
    let mut pty = Pty::start(&["-X"], &[], "dumb");
    pty.wait_for("clvsql> ");
    pty.send("\\x\r");
    pty.wait_for("Expanded display is on.");
    pty.send(
        "SELECT bgnbd_fit(frequency, recency, t) AS m FROM (VALUES (1, 2.0, 5.0), (0, 0.0, 4.0), (3, 4.0, 6.0), (2, 3.0, 7.0)) AS t(frequency, recency, t);\r",
    );
    pty.wait_for("-[ RECORD 1 ]");
    pty.wait_for("m.cov.alpha.b");
    pty.send("\\x off\r");
    pty.send("SELECT * FROM (VALUES ('Champions', 8), ('Lost', 4)) AS t(segment, n)\r");
    let from = pty.screen().len();
    pty.send("\\timing on\r");
    pty.wait_for_after(from, "Timing is on.");
    pty.send(";\r");
    pty.wait_for("| Lost      | 4 |");
    pty.send("\\chart\r");
    pty.wait_for("Champions │");
    pty.send("\\q\r");
    let output = pty.finish();
    assert!(output.status.success());
}

/// Ctrl-C stops a running query within a second, the work stops too (no
/// CPU used after), text typed while it ran is kept, and the next query
/// can be cancelled as well.
#[test]
fn ctrl_c_stops_the_work_and_keeps_typed_text() {
    let mut pty = Pty::start(&["-X"], &[], "dumb");
    pty.wait_for("clvsql> ");
    for round in 0..2 {
        let from = pty.screen().len();
        pty.send(
            "SELECT count(*) FROM generate_series(1, 200000) AS a(x) CROSS JOIN generate_series(1, 200000) AS b(y) WHERE x * y % 7 = 3;\r",
        );
        // Let the query start: the terminal leaves raw mode, so Ctrl-C is a
        // signal rather than a key.
        std::thread::sleep(Duration::from_millis(1500));
        pty.send(&format!("SELECT 'kept {round}' AS typed"));
        std::thread::sleep(Duration::from_millis(200));
        let pressed = Instant::now();
        pty.send("\x03");
        pty.wait_for_after(from, "query cancelled");
        let took = pressed.elapsed();
        assert!(took < Duration::from_secs(1), "round {round}: {took:?}");
        std::thread::sleep(Duration::from_millis(500));
        let cpu = pty.cpu_seconds();
        std::thread::sleep(Duration::from_secs(1));
        let busy = pty.cpu_seconds() - cpu;
        assert!(
            busy < 0.2,
            "round {round}: {busy} s of CPU after the cancel"
        );
        pty.send(";\r");
        pty.wait_for_after(from, &format!("| kept {round} |"));
    }
    // A nested-loop join that finds almost nothing works through a whole
    // probe batch before its next output: the statement after the cancel
    // does not wait for that batch to end.
    let from = pty.screen().len();
    pty.send(
        "SELECT count(*) FROM generate_series(1, 30000) AS a(x), generate_series(1, 30000) AS b(y) WHERE x + y = 7;\r",
    );
    std::thread::sleep(Duration::from_millis(1000));
    pty.send("\x03");
    pty.wait_for_after(from, "query cancelled");
    let asked = Instant::now();
    pty.send("SELECT 42 AS next;\r");
    pty.wait_for_after(from, "|   42 |");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    // Printing a large result stops too.
    let from = pty.screen().len();
    pty.send("\\pset format csv\r");
    pty.send("SELECT x, 2 * x AS y FROM generate_series(1, 30000000) AS t(x);\r");
    pty.wait_for_after(from, "x,y");
    std::thread::sleep(Duration::from_millis(500));
    let pressed = Instant::now();
    pty.send("\x03");
    pty.wait_for_after(from, "query cancelled");
    assert!(
        pressed.elapsed() < Duration::from_secs(1),
        "{:?}",
        pressed.elapsed()
    );
    pty.send("SELECT 'after' AS printed;\r");
    pty.wait_for_after(from, "printed\r\nafter");
    pty.send("\\q\r");
    pty.finish();
}

/// `~/.clvsqlrc` runs before the REPL (not with -X, not for scripts); `-f
/// FILE -i` stays in the REPL; `--db` keeps a table for the next session.
#[test]
fn startup_file_interactive_scripts_and_kept_tables() {
    let home = tempdir();
    std::fs::write(
        home.join(".clvsqlrc"),
        "\\pset null '<none>'\nCREATE VIEW from_rc AS SELECT 42 AS answer;\n",
    )
    .unwrap();
    let setup = home.join("setup.sql");
    std::fs::write(
        &setup,
        "CREATE VIEW from_setup AS SELECT 'set up' AS state;\n",
    )
    .unwrap();
    let db = home.join("db");
    let home_env = [("HOME", home.to_str().unwrap())];
    let mut pty = Pty::start(
        &[
            "--db",
            db.to_str().unwrap(),
            "-f",
            setup.to_str().unwrap(),
            "-i",
        ],
        &home_env,
        "dumb",
    );
    pty.wait_for("clvsql> ");
    // One session at a time keeps tables in a folder.
    let second =
        crate::cli::clvsql_with_env(&["--db", db.to_str().unwrap(), "-c", "SELECT 1"], &home_env);
    assert!(
        stderr(&second).contains("is in use by another clvsql"),
        "{}",
        stderr(&second)
    );
    pty.send("SELECT answer, NULL AS nothing, state FROM from_rc, from_setup;\r");
    pty.wait_for("|     42 | <none>  | set up |");
    pty.send("CREATE TABLE kept AS SELECT customer_id, sum(amount) AS spend FROM 'data/cdnow_master.parquet' GROUP BY 1;\r");
    pty.send("INSERT INTO kept VALUES (-1, 0.5);\r");
    pty.send("CREATE VIEW big AS SELECT * FROM kept WHERE spend > 1000;\r");
    pty.send("\\q\r");
    pty.finish();
    // The next session, a script: no ~/.clvsqlrc, the kept tables back.
    let out = crate::cli::clvsql_with_env(
        &[
            "--db",
            db.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n, min(customer_id) AS low FROM kept",
            "-c",
            "SELECT count(*) AS big FROM big",
        ],
        &home_env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "n,low\n23571,-1\nbig\n200\n");
    assert!(db.join("kept").is_dir() && db.join("big.sql").is_file());
    assert!(
        !db.join("from_rc.sql").exists(),
        "the startup file's view is not kept"
    );
    let no_rc = crate::cli::clvsql_with_env(&["-c", "SELECT * FROM from_rc"], &home_env);
    assert!(stderr(&no_rc).contains("from_rc"), "{}", stderr(&no_rc));
    let mut pty = Pty::start(&["-X", "--db", db.to_str().unwrap()], &home_env, "dumb");
    pty.wait_for("clvsql> ");
    pty.send("SELECT NULL AS nothing FROM from_rc;\r");
    pty.wait_for("from_rc' not found");
    // Names are kept as the catalog holds them; none reaches beyond the folder.
    std::fs::create_dir_all(home.join("victim")).unwrap();
    pty.send("DROP TABLE IF EXISTS \"../victim\";\r");
    pty.send("CREATE TABLE \".hidden\" AS SELECT 1 AS x;\r");
    pty.wait_for(".hidden is not kept in --db");
    pty.send("DROP TABLE KEPT;\r");
    pty.send("DROP VIEW big;\r");
    pty.send("\\q\r");
    pty.finish();
    assert!(!db.join("kept").exists() && !db.join("big.sql").exists());
    assert!(home.join("victim").is_dir());
}

/// Errors in files name the file and line, also from a file `\i` runs.
#[test]
fn script_errors_say_file_and_line() {
    let dir = tempdir();
    let inner = dir.join("inner.sql");
    std::fs::write(
        &inner,
        "SELECT 1;\n\n-- a comment\nSELECT nope FROM (SELECT 1 AS x);\n",
    )
    .unwrap();
    let outer = dir.join("outer.sql");
    std::fs::write(
        &outer,
        format!("SELECT 2;\n\\i {}\nSELECT 3;\n", inner.display()),
    )
    .unwrap();
    let out = clvsql(&["-q", "-f", outer.to_str().unwrap()]);
    crate::cli::assert_clean_error(&out, &format!("Error: {}:4: Schema error", inner.display()));
    let out = clvsql(&["-f", inner.to_str().unwrap(), "-c", "SELECT 4"]);
    assert!(stderr(&out).starts_with(&format!("Error: {}:4:", inner.display())));
    assert!(
        !stdout(&out).contains("| 4"),
        "the script stops at its error"
    );
    let piped = Path::new(&dir).join("piped.sql");
    std::fs::write(&piped, "SELECT 1;\nSELECT nope;\n").unwrap();
    let out = crate::cli::clvsql_stdin(&[], &std::fs::read(&piped).unwrap());
    assert!(
        stderr(&out).starts_with("Error: <stdin>:2: "),
        "{}",
        stderr(&out)
    );
}

/// `--db` replacing one kind of object by another keeps only the new one;
/// a table Parquet cannot store is refused, not kept half-usable.
#[test]
fn kept_objects_replace_each_other() {
    let db = tempdir().join("db");
    let db = db.to_str().unwrap();
    let out = clvsql(&[
        "--db",
        db,
        "-c",
        "CREATE VIEW v AS SELECT 1 AS a",
        "-c",
        "CREATE OR REPLACE TABLE v AS SELECT 3 AS c",
        "-c",
        "CREATE TABLE t AS SELECT 4 AS d",
        "-c",
        "CREATE OR REPLACE VIEW t AS SELECT 5 AS e",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = clvsql(&[
        "--db",
        db,
        "--format",
        "csv",
        "-q",
        "-c",
        "SELECT * FROM v, t",
    ]);
    assert_eq!(stdout(&out), "c,e\n3,5\n", "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    let path = Path::new(db);
    assert!(path.join("v").is_dir() && !path.join("v.sql").exists());
    assert!(path.join("t.sql").is_file() && !path.join("t").exists());
    let out = clvsql(&["--db", db, "-c", "CREATE TABLE iv (i INTERVAL)"]);
    crate::cli::assert_clean_error(
        &out,
        "table iv was made, but is not kept in --db: Parquet cannot store column i",
    );
    assert!(!path.join("iv").exists() && !path.join(".iv.new").exists());
}
