//! `clvsql serve` as users meet it: a real server process on a free
//! 127.0.0.1 port, queried by real clients — `psql` (Debian's
//! `postgresql-client`; `.ci/run` installs it when missing) and `psycopg`
//! (PyPI, installed once into a venv under `~/.cache/clvsql`, as the S3
//! tests install moto).

#[path = "../../tests/venv.rs"]
mod venv;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root: the shipped data and `sql/` scripts are relative
/// to it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("serve/ is in the repository")
        .to_path_buf()
}

/// A running `clvsql-serve`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with(args, &[])
    }

    /// Starts the server on a free port (`--port 0`) and waits for the line
    /// saying where it listens.
    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Server {
        let log = std::env::temp_dir().join(format!(
            "clvsql-serve-{}-{}.log",
            std::process::id(),
            next_id()
        ));
        let mut child = Command::new(env!("CARGO_BIN_EXE_clvsql-serve"))
            .current_dir(root())
            .args(["--port", "0"])
            .args(args)
            .env_remove("CLVSQL_PASSWORD")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clvsql-serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (found, port) = std::sync::mpsc::channel();
        let copy = log.clone();
        // Reads the announcement, then keeps copying the log to a file so
        // the pipe never fills.
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(&copy).expect("the log file");
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(file, "{line}");
                if let Some(address) = line.strip_prefix("clvsql serve: listening on ") {
                    let port = address
                        .split_whitespace()
                        .next()
                        .and_then(|a| a.rsplit(':').next())
                        .and_then(|p| p.parse::<u16>().ok());
                    let _ = found.send(port);
                }
            }
        });
        match port.recv_timeout(Duration::from_secs(120)) {
            Ok(Some(port)) => Server { child, port, log },
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "clvsql-serve {args:?} did not start:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
    }

    /// The server's CPU time so far (user and system).
    fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server's /proc stat");
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // Linux counts in USER_HZ, 100 ticks a second.
        Duration::from_millis(ticks * 10)
    }

    /// Waits until the server computes (CPU time grows half a second).
    fn wait_until_busy(&self) {
        let (start, began) = (self.cpu(), Instant::now());
        while self.cpu() < start + Duration::from_millis(500) {
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "the server never got busy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts that the server stops computing within 20 s: some second in
    /// which it uses under a tenth of a second of CPU.
    fn assert_goes_idle(&self, when: &str) {
        let began = Instant::now();
        loop {
            let before = self.cpu();
            std::thread::sleep(Duration::from_secs(1));
            if self.cpu() < before + Duration::from_millis(100) {
                return;
            }
            assert!(
                began.elapsed() < Duration::from_secs(20),
                "the server kept computing {when}"
            );
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `psql` command for this server as `user` (no psqlrc, never a
    /// password prompt), with `extra` arguments.
    fn psql_command(&self, user: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(psql_program());
        command
            .current_dir(root())
            .args(["-X", "-w", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", user, "-d", "clvsql"])
            .args(extra)
            .env_remove("PGPASSWORD");
        command
    }

    /// Runs `psql` as `user` with `extra` arguments, stopping at the first
    /// error.
    fn psql(&self, user: &str, password: Option<&str>, extra: &[&str]) -> Output {
        let mut command = self.psql_command(
            user,
            &[["-v", "ON_ERROR_STOP=1"].as_slice(), extra].concat(),
        );
        command.stdin(Stdio::null());
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        run(command, Duration::from_secs(300))
    }

    /// `psql -c SQL` without a password, checked to succeed; its stdout.
    fn query(&self, sql: &str) -> String {
        let output = self.psql("analyst", None, &["-At", "-c", sql]);
        assert_success(&output, sql);
        stdout(&output)
    }

    /// Runs a Python script with psycopg, the port in `$PORT`.
    fn python(&self, script: &str, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(psycopg_python());
        command
            .current_dir(root())
            .args(["-c", script])
            .env("PORT", self.port.to_string())
            .envs(env.iter().copied());
        run(command, Duration::from_secs(300))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn next_id() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `command` to the end; one running longer than `limit` is killed
/// and fails the test rather than hang CI.
fn run(mut command: Command, limit: Duration) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    match finished.recv_timeout(limit) {
        Ok(output) => output.expect("the command's output"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{command:?} did not finish within {limit:?}");
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        stdout(output),
        stderr(output)
    );
}

/// `psql`: on `PATH` (`.ci/run` installs Debian's `postgresql-client` when
/// it is missing), or `$CLVSQL_PSQL`.
fn psql_program() -> &'static PathBuf {
    static PSQL: OnceLock<PathBuf> = OnceLock::new();
    PSQL.get_or_init(|| {
        let psql = std::env::var_os("CLVSQL_PSQL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("psql"));
        let found = Command::new(&psql).arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "the serve tests need psql: apt-get install postgresql-client, or set CLVSQL_PSQL"
        );
        psql
    })
}

/// A Python with psycopg 3: the venv `~/.cache/clvsql/venv-psycopg`
/// (`$CLVSQL_PSYCOPG_VENV` to put it elsewhere).
fn psycopg_python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        venv::venv(
            "venv-psycopg",
            "CLVSQL_PSYCOPG_VENV",
            &["psycopg[binary]==3.*"],
        )
        .join("bin/python")
    })
}

/// The CLI beside the server (a workspace build makes both).
fn clvsql(args: &[&str]) -> Output {
    let program = Path::new(env!("CARGO_BIN_EXE_clvsql-serve")).with_file_name("clvsql");
    assert!(
        program.is_file(),
        "{program:?} is missing: run the tests with `cargo test --workspace`"
    );
    let mut command = Command::new(program);
    command.current_dir(root()).args(args);
    run(command, Duration::from_secs(300))
}

/// CSV rows with numbers compared as numbers and PostgreSQL's `t`/`f`
/// read as booleans: psql prints `2852` and `t` where the CLI prints
/// `2852.0` and `true`, the same values.
fn normalized(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .map(|line| {
            line.split(',')
                .map(|field| match field {
                    "t" => "true".to_string(),
                    "f" => "false".to_string(),
                    _ => match field.parse::<f64>() {
                        Ok(number) => format!("{number:e}"),
                        Err(_) => field.to_string(),
                    },
                })
                .collect()
        })
        .collect()
}

/// The analyses of `sql/`, sent statement by statement by `psql -f` to a
/// fresh server, give the CLI's rows.
#[test]
fn shipped_analyses_give_the_clis_rows() {
    for script in ["sql/rfm_segments.sql", "sql/clv.sql"] {
        let server = Server::start(&[]);
        let served = server.psql("analyst", None, &["-q", "--csv", "-f", script]);
        assert_success(&served, script);
        let local = clvsql(&["-q", "--format", "csv", "-f", script]);
        assert_success(&local, script);
        let (served, local) = (stdout(&served), stdout(&local));
        assert!(served.lines().count() > 8, "{script} gave:\n{served}");
        assert_eq!(
            normalized(&served),
            normalized(&local),
            "{script}:\n{served}\n{local}"
        );
    }
}

/// A set-up script (`-f`) defines the tables before clients come; psql's
/// catalog commands answer, `\df` with clvsql's functions.
#[test]
fn setup_scripts_and_psql_catalog_commands() {
    let server = Server::start(&["-f", "sql/rfm_segments.sql"]);
    let tables = server.query("\\d");
    for relation in ["transactions|table", "customers|view", "segmented|view"] {
        assert!(tables.contains(relation), "\\d lists {relation}:\n{tables}");
    }
    let columns = server.query("\\d transactions");
    assert!(columns.contains("customer_id|bigint"), "{columns}");
    assert!(columns.contains("amount|double precision"), "{columns}");
    let functions = server.query("\\df");
    for listed in [
        "public|rfm_summary|record|order_ts, amount, as_of [, unit]|agg",
        "public|rfm_score|record|",
        "public|clv_simple|double precision|avg_order_value, purchase_frequency, lifespan [, margin [, discount_rate]]|func",
    ] {
        assert!(
            functions.contains(listed),
            "\\df lists {listed}:\n{functions}"
        );
    }
    let udfs = clvsql::clvsql_udfs::scalar_functions().len()
        + clvsql::clvsql_udfs::aggregate_functions().len()
        + clvsql::clvsql_udfs::window_functions().len();
    assert_eq!(functions.lines().count(), udfs, "{functions}");
    // `\df+` adds each function's description, from its documentation.
    let described = server.query("\\df+ clv_simple");
    let clv_simple = clvsql::clvsql_udfs::scalar_functions()
        .into_iter()
        .find(|f| f.name() == "clv_simple")
        .expect("clv_simple exists");
    let description = &clv_simple.documentation().expect("documented").description;
    let first_line = description.lines().next().unwrap();
    assert!(
        described.contains("|func|immutable|safe|postgres|"),
        "{described}"
    );
    assert!(described.contains(first_line), "{described}");
    // The example's segments, from the tables the script made.
    let sizes = server
        .query("SELECT segment, count(*) FROM segmented GROUP BY segment ORDER BY 2 DESC LIMIT 2");
    assert_eq!(sizes, "Hibernating|8679\nChampions|4118\n");
    // DataFusion's COPY, sent by psql, writes a file on the server.
    let copied = std::env::temp_dir().join(format!("clvsql-serve-copy-{}.csv", std::process::id()));
    let copy = format!(
        "COPY (SELECT segment, count(*) AS n FROM segmented GROUP BY segment) TO '{}' STORED AS CSV",
        copied.display()
    );
    assert_eq!(server.query(&copy), "COPY 8\n");
    let written = std::fs::read_to_string(&copied).expect("COPY wrote the file");
    std::fs::remove_file(&copied).unwrap();
    assert!(written.contains("Hibernating,8679"), "{written}");
    // A script's error names the file and line.
    let bad = std::env::temp_dir().join(format!("clvsql-serve-bad-{}.sql", std::process::id()));
    std::fs::write(&bad, "SELECT 1;\n\nSELECT nope FROM nowhere;\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_clvsql-serve"));
    command.args(["--port", "0", "-f"]).arg(&bad);
    let failed = run(command, Duration::from_secs(60));
    std::fs::remove_file(&bad).unwrap();
    assert!(!failed.status.success());
    let message = stderr(&failed);
    assert!(
        message.contains(&format!("{}:3: ", bad.display())),
        "{message}"
    );
    assert!(message.contains("nowhere"), "{message}");
}

/// psycopg (extended protocol: parameters bound by the server) gets the
/// same rows as the CLI, passes named arguments, reads model structs, and
/// sees clvsql's errors as exceptions with their text.
#[test]
fn psycopg_prepared_statements_and_errors() {
    let server = Server::start(&["-f", "sql/rfm_segments.sql"]);
    let script = r#"
import os, psycopg
conn = psycopg.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="analyst",
                       dbname="clvsql", autocommit=True)
cur = conn.cursor()
cur.execute("SELECT segment, count(*) AS n FROM segmented WHERE total_spend > %s "
            "GROUP BY segment ORDER BY n DESC, segment", (100.0,))
print("segments", cur.fetchall()[:2])
stmt = "SELECT s['frequency'] AS f, s['orders'] AS o FROM customers WHERE customer_id = %s"
for customer in (2566, 2568):
    cur.execute(stmt, (customer,), prepare=True)
    print("customer", customer, cur.fetchone())
cur.execute("SELECT clv_simple(%s, %s, %s, discount_rate => %s) AS v", (50.0, 4, 3, 0.1))
print("clv_simple", round(cur.fetchone()[0], 6))
cur.execute("SELECT bgnbd_fit(s) AS m FROM customers")
model = cur.fetchone()[0]
print("model", type(model).__name__, model[0], model[4], model[5])
for sql, params in [("SELECT clv_simple(%s, 4, 3, 0.3)", (-1.0,)),
                    ("SELECT rfm_score(1, 2, 3)", None),
                    ("SELECT * FROM no_such_table", None)]:
    try:
        cur.execute(sql, params)
        print("no error for", sql)
    except psycopg.Error as e:
        print("error", type(e).__name__, e.sqlstate, str(e).strip())
cur.execute("SELECT 1 AS still_connected")
print("after errors", cur.fetchone())
create = "CREATE EXTERNAL TABLE sample STORED AS PARQUET LOCATION 'data/cdnow_sample.parquet'"
try:
    cur.execute(create, prepare=True)
except psycopg.Error as e:
    print("prepared", type(e).__name__, e.sqlstate)
# Without parameters psycopg sends a simple query.
cur.execute(create)
cur.execute("SELECT count(*) FROM sample")
print("simple protocol", cur.fetchone())
"#;
    let output = server.python(script, &[]);
    assert_success(&output, "the psycopg script");
    let out = stdout(&output);
    let expected_segments = server.query(
        "SELECT segment, count(*) AS n FROM segmented WHERE total_spend > 100.0 GROUP BY segment ORDER BY n DESC, segment LIMIT 2",
    );
    let mut lines = expected_segments
        .lines()
        .map(|l| l.split_once('|').unwrap());
    let (first, second) = (lines.next().unwrap(), lines.next().unwrap());
    assert!(
        out.contains(&format!(
            "segments [('{}', {}), ('{}', {})]",
            first.0, first.1, second.0, second.1
        )),
        "{out}"
    );
    // From the CLI: customer 2566 bought once, 2568 on two days.
    assert!(out.contains("customer 2566 (0, 1)"), "{out}");
    assert!(out.contains("customer 2568 (1, 2)"), "{out}");
    // 200 a year for 3 years, each discounted at 10% a year:
    // 200 × (1/1.1 + 1/1.1² + 1/1.1³) (as in tests/slt/clv_simple.slt).
    assert!(out.contains("clv_simple 497.370398"), "{out}");
    // A struct arrives as a record, its fields as psql shows them.
    let r = server.query("SELECT bgnbd_fit(s)['r'] FROM customers");
    assert!(
        out.contains(&format!("model tuple {} bgnbd day", r.trim())),
        "{out}"
    );
    assert!(
        out.contains("error DataException 22000 Execution error: clv_simple: argument avg_order_value must be a finite number >= 0, got -1"),
        "{out}"
    );
    assert!(
        out.contains("rfm_score is a window function: call it with OVER"),
        "{out}"
    );
    assert!(out.contains("no_such_table"), "{out}");
    assert!(!out.contains("no error for"), "{out}");
    assert!(out.contains("after errors (1,)"), "{out}");
    // DataFusion's own statements over the simple protocol only.
    assert!(out.contains("prepared FeatureNotSupported 0A000"), "{out}");
    assert!(out.contains("simple protocol (6919,)"), "{out}");
}

/// A self-signed certificate and key for 127.0.0.1, made with openssl.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert_success(&made, "openssl req");
    (cert, key)
}

/// Password authentication (SCRAM) with the password from the
/// environment, TLS, loopback unless a password is set, and read-only
/// mode.
#[test]
fn security() {
    const PASSWORD: &str = "correct horse battery";
    let dir = std::env::temp_dir().join(format!("clvsql-serve-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = certificate(&dir);
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start_with(
        &[
            "--user",
            "ana",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--read-only",
        ],
        &[("CLVSQL_PASSWORD", PASSWORD)],
    );
    // sslmode=require: psql fails rather than talk without TLS.
    let tls = |user: &str, password: Option<&str>, sql: &str| {
        let mut command = server.psql_command(user, &["-At", "-c", sql]);
        command.env("PGSSLMODE", "require");
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        run(command, Duration::from_secs(60))
    };
    let ok = tls("ana", Some(PASSWORD), "SELECT clv_simple(50, 4, 3, 0.3)");
    assert_success(&ok, "the right password over TLS");
    assert_eq!(stdout(&ok), "180.0\n");
    for (user, password) in [
        ("ana", Some("wrong")),
        ("bob", Some(PASSWORD)),
        ("ana", None),
    ] {
        let refused = tls(user, password, "SELECT 1");
        assert!(!refused.status.success(), "{user}/{password:?} got in");
        let message = stderr(&refused);
        assert!(
            message.contains("assword authentication failed")
                || message.contains("no password supplied"),
            "{message}"
        );
    }
    // psycopg reports TLS in use.
    let script = r#"
import os, psycopg
conn = psycopg.connect(host="127.0.0.1", port=int(os.environ["PORT"]), user="ana",
                       password=os.environ["SECRET"], dbname="clvsql", sslmode="require")
print("ssl", conn.pgconn.ssl_in_use)
try:
    conn.execute("INSERT INTO transactions VALUES (%s, %s, %s, %s)", (1, None, 1, 1.0))
    print("inserted")
except psycopg.Error as e:
    print("prepared insert", e.sqlstate)
"#;
    let output = server.python(script, &[("SECRET", PASSWORD)]);
    assert_success(&output, "psycopg over TLS");
    assert!(stdout(&output).contains("ssl True"), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("prepared insert 25006"),
        "{}",
        stdout(&output)
    );

    // Read-only: nothing that changes the session or writes a file.
    let target = dir.join("out.csv");
    for statement in [
        "CREATE TABLE t AS SELECT 1 AS x".to_string(),
        "CREATE EXTERNAL TABLE tx STORED AS PARQUET LOCATION 'data/cdnow_sample.parquet'"
            .to_string(),
        format!("COPY (SELECT 1) TO '{}' STORED AS CSV", target.display()),
        "SET datafusion.execution.batch_size = 10".to_string(),
        "SET \"datafusion.runtime.memory_limit\" = '64G'".to_string(),
        "DECLARE c CURSOR FOR INSERT INTO t VALUES (1)".to_string(),
        "DROP VIEW IF EXISTS v".to_string(),
    ] {
        let refused = tls("ana", Some(PASSWORD), &statement);
        assert!(!refused.status.success(), "{statement} ran read-only");
        assert!(
            stderr(&refused).contains("clvsql serve is read-only (--read-only)"),
            "{statement}: {}",
            stderr(&refused)
        );
    }
    assert!(!target.exists(), "COPY wrote {target:?}");
    // Reading is what read-only is for.
    let read = tls(
        "ana",
        Some(PASSWORD),
        "SELECT count(*) FROM 'data/cdnow_sample.parquet'",
    );
    assert_success(&read, "a read");
    assert_eq!(stdout(&read), "6919\n");
    // The password never reaches the log.
    assert!(!server.log().contains(PASSWORD), "{}", server.log());
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();

    // Beyond loopback only with a password; the password never on the
    // command line; --user needs it.
    let mut command = Command::new(env!("CARGO_BIN_EXE_clvsql-serve"));
    command
        .args(["--host", "0.0.0.0", "--port", "0"])
        .env_remove("CLVSQL_PASSWORD");
    let refused = run(command, Duration::from_secs(60));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("beyond loopback without a password"),
        "{}",
        stderr(&refused)
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_clvsql-serve"));
    command
        .args(["--user", "ana", "--port", "0"])
        .env_remove("CLVSQL_PASSWORD");
    let refused = run(command, Duration::from_secs(60));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("CLVSQL_PASSWORD"),
        "{}",
        stderr(&refused)
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_clvsql-serve"));
    command.args(["--password", "x"]);
    assert!(!run(command, Duration::from_secs(60)).status.success());
}

/// Beyond loopback, clients cannot name files as tables unless allowed.
#[test]
fn file_paths_stay_on_loopback() {
    const READ: &str = "SELECT count(*) FROM 'data/cdnow_sample.parquet'";
    const CREATE: &str =
        "CREATE EXTERNAL TABLE sample STORED AS PARQUET LOCATION 'data/cdnow_sample.parquet'";
    let password = [("CLVSQL_PASSWORD", "pw")];
    let open = Server::start_with(&["--user", "u", "--host", "0.0.0.0"], &password);
    let read = open.psql("u", Some("pw"), &["-At", "-c", READ]);
    assert!(
        !read.status.success(),
        "a file was read by path beyond loopback"
    );
    assert!(stderr(&read).contains("not found"), "{}", stderr(&read));
    let create = open.psql("u", Some("pw"), &["-At", "-c", CREATE]);
    assert!(
        !create.status.success(),
        "a client made a table of a file beyond loopback"
    );
    assert!(
        stderr(&create).contains("--allow-file-paths"),
        "{}",
        stderr(&create)
    );
    drop(open);
    let allowed = Server::start_with(
        &["--user", "u", "--host", "0.0.0.0", "--allow-file-paths"],
        &password,
    );
    let read = allowed.psql("u", Some("pw"), &["-At", "-c", READ]);
    assert_success(&read, "--allow-file-paths");
    assert_eq!(stdout(&read), "6919\n");
    let create = allowed.psql(
        "u",
        Some("pw"),
        &["-At", "-c", CREATE, "-c", "SELECT count(*) FROM sample"],
    );
    assert_success(&create, "CREATE EXTERNAL TABLE with --allow-file-paths");
    assert_eq!(stdout(&create), "CREATE\n6919\n");
}

/// 20 clients running the segmentation at once all get its rows.
#[test]
fn twenty_concurrent_clients() {
    let server = Server::start(&["-f", "sql/rfm_segments.sql"]);
    let query = "SELECT segment, count(*), round(sum(total_spend), 2) FROM segmented GROUP BY segment ORDER BY segment";
    let expected = server.query(query);
    assert_eq!(expected.lines().count(), 8, "{expected}");
    let outputs: Vec<Output> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..20)
            .map(|_| {
                let command = server.psql_command("x", &["-At", "-c", query]);
                scope.spawn(move || run(command, Duration::from_secs(300)))
            })
            .collect();
        clients
            .into_iter()
            .map(|client| client.join().expect("the client thread"))
            .collect()
    });
    for output in outputs {
        assert_success(&output, "a concurrent client");
        assert_eq!(stdout(&output), expected);
    }
}

/// A statement that runs too long: the server's time limit and the
/// client's `statement_timeout` cancel it; a client's Ctrl-C (a cancel
/// request) stops it; a client killed mid-query leaves the server serving,
/// its work ended by the time limit. "Stopped" is measured: the server's
/// CPU time stops growing.
#[test]
fn timeouts_cancels_and_vanishing_clients() {
    const ENDLESS: &str = "SELECT count(*) FROM transactions a CROSS JOIN transactions b";
    let server = Server::start(&["-f", "sql/rfm_segments.sql", "--query-timeout", "2"]);
    let timed_out = server.psql("x", None, &["-c", ENDLESS]);
    assert!(!timed_out.status.success());
    assert!(
        stderr(&timed_out).contains("canceling statement due to statement timeout"),
        "{}",
        stderr(&timed_out)
    );
    server.assert_goes_idle("after the time limit");

    // A killed client's statement runs on unheard until the time limit.
    let mut psql = server
        .psql_command("x", &["-c", ENDLESS])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql starts");
    server.wait_until_busy();
    psql.kill().expect("psql is killed");
    psql.wait().expect("psql ends");
    assert_eq!(server.query("SELECT count(*) FROM customers"), "23570\n");
    server.assert_goes_idle("after a killed client's time limit");
    drop(server);

    let server = Server::start(&["-f", "sql/rfm_segments.sql"]);
    let client_limit = server.psql(
        "x",
        None,
        &["-c", "SET statement_timeout = '1s'", "-c", ENDLESS],
    );
    assert!(
        stderr(&client_limit).contains("canceling statement due to statement timeout"),
        "{}",
        stderr(&client_limit)
    );
    server.assert_goes_idle("after the client's statement_timeout");

    // Ctrl-C in psql sends a cancel request.
    let mut psql = server
        .psql_command("x", &["-c", ENDLESS])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql starts");
    server.wait_until_busy();
    let _ = Command::new("kill")
        .args(["-INT", &psql.id().to_string()])
        .status();
    let status = psql.wait().expect("psql ends");
    assert!(!status.success());
    let mut message = String::new();
    psql.stderr
        .take()
        .unwrap()
        .read_to_string(&mut message)
        .unwrap();
    assert!(
        message.contains("canceling statement due to user request"),
        "{message}"
    );
    server.assert_goes_idle("after Ctrl-C");
}

/// Garbage instead of a startup packet, a connection over the limit, and an
/// expression deep enough to overflow a stack: each is refused, and the
/// server goes on serving.
#[test]
fn hostile_clients_do_not_take_the_server_down() {
    let server = Server::start(&["--max-connections", "2"]);
    let address = format!("127.0.0.1:{}", server.port);
    for garbage in [
        b"\x00\x00\x00\x08garbage!".as_slice(),
        b"\xff\xff\xff\xff",
        b"\x00\x00\x00\x03",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut socket = TcpStream::connect(&address).expect("a connection");
        socket
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let _ = socket.write_all(garbage);
        let mut answer = vec![];
        // The server answers with an error or closes: either way it ends.
        let _ = socket.read_to_end(&mut answer);
    }
    assert_eq!(server.query("SELECT 1 + 1"), "2\n");

    // An expression nested 20,000 deep is refused by depth, not by a crash.
    let deep = format!("SELECT 1{}", " + 1".repeat(20_000));
    let refused = server.psql("x", None, &["-c", &deep]);
    assert!(
        stderr(&refused).contains("nested more than 1000 levels"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(server.query("SELECT 'alive'"), "alive\n");

    // Two idle clients fill --max-connections 2; a third is told why.
    let idle_client = || {
        server
            .psql_command("x", &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("psql starts")
    };
    // The idle clients may take a while to connect on a busy machine, and
    // are refused while the connections above still hold their slots: a
    // refused one is started again, and a third is let in until they are
    // both in.
    let mut idle: Vec<Child> = vec![];
    let began = Instant::now();
    let third = loop {
        idle.retain_mut(|client| client.try_wait().is_ok_and(|status| status.is_none()));
        while idle.len() < 2 {
            idle.push(idle_client());
        }
        let third = server.psql("x", None, &["-c", "SELECT 1"]);
        if !third.status.success() || began.elapsed() > Duration::from_secs(60) {
            break third;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!third.status.success(), "a third client got in");
    assert!(
        stderr(&third).contains("too many connections"),
        "{}",
        stderr(&third)
    );
    for mut client in idle {
        drop(client.stdin.take());
        client.wait().expect("psql ends");
    }
    // Their slots free as their connections close.
    let began = Instant::now();
    while !server.psql("x", None, &["-c", "SELECT 1"]).status.success() {
        assert!(began.elapsed() < Duration::from_secs(60), "no room again");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(server.query("SELECT 'room again'"), "room again\n");
}

/// `clvsql serve` runs this server.
#[test]
fn clvsql_serve_runs_the_server() {
    let help = clvsql(&["serve", "--help"]);
    assert_success(&help, "clvsql serve --help");
    for option in [
        "--read-only",
        "--tls-cert",
        "--max-connections",
        "CLVSQL_PASSWORD",
    ] {
        assert!(stdout(&help).contains(option), "{}", stdout(&help));
    }
    // The CLI's own options do not reach the server: refused, not dropped.
    let mixed = clvsql(&["-f", "sql/rfm_segments.sql", "serve"]);
    assert!(!mixed.status.success());
    assert!(
        stderr(&mixed).contains("cannot be used with"),
        "{}",
        stderr(&mixed)
    );
}
