//! A real cluster on 127.0.0.1: one `clvsql-scheduler` and two
//! `clvsql-executor` processes on free ports, started from the built
//! programs and stopped afterwards (by `Drop`, so a failing test leaves
//! none behind), and `clvsql --remote` against it, compared with `clvsql`
//! in one process. `clvsql` is the workspace build's (run with `cargo test
//! --workspace`, which builds it with `--remote`).

#[path = "../../tests/moto.rs"]
mod moto;
#[path = "../../tests/venv.rs"]
mod venv;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A port no one listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `clvsql` program built beside the cluster's.
fn clvsql_program() -> PathBuf {
    let program = Path::new(env!("CARGO_BIN_EXE_clvsql-scheduler")).with_file_name("clvsql");
    assert!(
        program.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`",
        program.display()
    );
    program
}

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// One scheduler and two executors, each with its own log and work folder.
struct Cluster {
    scheduler: Child,
    executors: Vec<Child>,
    port: u16,
    folder: PathBuf,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// A cluster whose processes have `env` in their environment.
    fn start_with(env: &[(&str, &str)]) -> Cluster {
        let port = free_port();
        let folder = std::env::temp_dir().join(format!("clvsql-cluster-{port}"));
        std::fs::create_dir_all(&folder).unwrap();
        let logs = folder.clone();
        let log = move |name: &str| std::fs::File::create(logs.join(name)).unwrap();
        let scheduler = Command::new(env!("CARGO_BIN_EXE_clvsql-scheduler"))
            .args(["--bind-host", "127.0.0.1", "--external-host", "127.0.0.1"])
            .args(["--bind-port", &port.to_string()])
            .args(["--min-ready-executors", "2"])
            // A killed executor is found out within seconds (the default
            // is 180 s), as the fault test needs.
            .args(["--executor-timeout-seconds", "6"])
            .args(["--expire-dead-executor-interval-seconds", "1"])
            .envs(env.iter().copied())
            .stdout(log("scheduler.log"))
            .stderr(log("scheduler.err"))
            .spawn()
            .expect("clvsql-scheduler starts");
        let mut cluster = Cluster {
            scheduler,
            executors: vec![],
            port,
            folder,
        };
        cluster.wait_for("the scheduler", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        for i in 0..2 {
            let work = cluster.folder.join(format!("executor-{i}"));
            std::fs::create_dir_all(&work).unwrap();
            let executor = Command::new(env!("CARGO_BIN_EXE_clvsql-executor"))
                .args(["--bind-host", "127.0.0.1", "--scheduler-host", "127.0.0.1"])
                .args(["--scheduler-port", &port.to_string()])
                .args(["--bind-port", &free_port().to_string()])
                .args(["--bind-grpc-port", &free_port().to_string()])
                .args(["--bind-health-port", &free_port().to_string()])
                .args(["--vcores", "2"])
                .args(["--executor-heartbeat-interval-seconds", "1"])
                .arg("--work-dir")
                .arg(&work)
                .envs(env.iter().copied())
                .stdout(log(&format!("executor-{i}.log")))
                .stderr(log(&format!("executor-{i}.err")))
                .spawn()
                .expect("clvsql-executor starts");
            cluster.executors.push(executor);
        }
        // The scheduler is ready once both executors have registered.
        cluster.wait_for("two executors", || {
            http_get(port, "/readyz").starts_with("HTTP/1.1 200")
        });
        cluster
    }

    fn url(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }

    /// Polls `ready` for a minute, failing with the processes' logs.
    fn wait_for(&self, what: &str, ready: impl Fn() -> bool) {
        let started = Instant::now();
        while !ready() {
            if started.elapsed() > Duration::from_secs(60) {
                panic!("{what} did not start:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self) -> String {
        let mut logs = String::new();
        for entry in std::fs::read_dir(&self.folder).unwrap().flatten() {
            if entry.path().is_file() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(20).collect();
                logs.push_str(&format!("--- {}\n", entry.path().display()));
                for line in tail.into_iter().rev() {
                    logs.push_str(line);
                    logs.push('\n');
                }
            }
        }
        logs
    }

    /// `clvsql --remote` against this cluster.
    fn clvsql(&self, args: &[&str]) -> Output {
        clvsql(&[&["--remote", &self.url()], args].concat())
    }

    /// `clvsql --remote` against this cluster, with `env`.
    fn clvsql_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        clvsql_with(env, &[&["--remote", &self.url()], args].concat())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// `clvsql ARGS` from the repository's root, within five minutes.
fn clvsql(args: &[&str]) -> Output {
    clvsql_with(&[], args)
}

/// `clvsql ARGS` with `env` in its environment.
fn clvsql_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut child = Command::new(clvsql_program())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repository())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("clvsql starts");
    let started = Instant::now();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = vec![];
        let _ = stdout.read_to_end(&mut text);
        text
    });
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = vec![];
            let _ = child.stderr.take().unwrap().read_to_end(&mut stderr);
            return Output {
                status,
                stdout: reader.join().unwrap(),
                stderr,
            };
        }
        if started.elapsed() > Duration::from_secs(300) {
            let _ = child.kill();
            panic!("clvsql {args:?} did not finish within 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "clvsql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_example_analyses_give_the_local_results() {
    let cluster = Cluster::start();
    for script in ["sql/rfm_segments.sql", "sql/clv.sql"] {
        let args = ["-q", "--format", "csv", "-f", script];
        let local = stdout(&clvsql(&args));
        let remote = stdout(&cluster.clvsql(&args));
        assert_eq!(
            remote,
            local,
            "{script} on {}:\n{}",
            cluster.url(),
            cluster.logs()
        );
    }
}

#[test]
fn a_missing_scheduler_is_said_at_once() {
    let url = format!("df://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let output = clvsql(&["--remote", &url, "-c", "SELECT 1"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("no Ballista scheduler answers at {url}")),
        "{stderr}"
    );
}

/// The response to an HTTP GET of `path` on 127.0.0.1:`port`; empty when
/// nothing listens.
fn http_get(port: u16, path: &str) -> String {
    http(port, "GET", path)
}

/// The response to an HTTP request without a body.
fn http(port: u16, method: &str, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

/// Numbers printed as JSON equal to 1e-9 relative, the rest exactly.
fn assert_close(remote: &serde_json::Value, local: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (remote, local) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(b.abs()),
                "{path}: {a} on the cluster, {b} in one process"
            );
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.len(), b.len(), "{path}");
            for (key, value) in a {
                assert_close(value, &b[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_close(x, y, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(remote, local, "{path}"),
    }
}

fn ndjson(output: &Output) -> serde_json::Value {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .collect()
}

#[test]
fn fits_and_scores_equal_the_local_ones() {
    let cluster = Cluster::start();
    let setup = "CREATE TABLE customers AS
        SELECT customer_id, rfm_summary(order_date, amount, DATE '1997-09-30', 'week') AS s
        FROM 'data/cdnow_master.parquet' GROUP BY customer_id;
        CREATE TABLE models AS
        SELECT bgnbd_fit(s) AS bgnbd, pareto_nbd_fit(s) AS pareto_nbd, gamma_gamma_fit(s) AS gamma_gamma
        FROM customers;";
    for query in [
        "SELECT * FROM models",
        "SELECT customer_id, s, p_alive(s, pareto_nbd) AS p_alive,
                expected_purchases(s, bgnbd, 52) AS purchases,
                clv(s, pareto_nbd, gamma_gamma, 52, 0.002) AS clv,
                rfm_score(s) OVER () AS score, segment_of(rfm_score(s) OVER ()) AS segment
         FROM customers CROSS JOIN models ORDER BY customer_id",
    ] {
        let sql = format!("{setup}{query}");
        let args = ["-q", "--format", "ndjson", "-c", &sql];
        let local = ndjson(&clvsql(&args));
        let remote = ndjson(&cluster.clvsql(&args));
        assert!(local.as_array().is_some_and(|rows| !rows.is_empty()));
        assert_close(&remote, &local, "rows");
    }
}

/// Files under `folder`, at any depth, whose name ends in `suffix`.
fn files_ending(folder: &Path, suffix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                files_ending(&path, suffix)
            } else {
                usize::from(path.to_string_lossy().ends_with(suffix))
            }
        })
        .sum()
}

/// The work runs on the executors, not in the client: the plan has
/// stages, the executors write their shuffle files, and with every
/// executor stopped a query fails saying so, within a minute, rather than
/// running in the client.
#[test]
fn the_work_runs_on_the_executors() {
    let mut cluster = Cluster::start();
    let query = "SELECT customer_id % 7 AS k, count(*) AS n FROM 'data/cdnow_master.parquet' GROUP BY 1 ORDER BY 1";
    let explained =
        stdout(&cluster.clvsql(&["-q", "--format", "csv", "-c", &format!("EXPLAIN {query}")]));
    for part in [
        "distributed_plan",
        "ResolvedStage[stage_id=1",
        "ShuffleWriterExec",
    ] {
        assert!(explained.contains(part), "{part} missing:\n{explained}");
    }
    let shuffled = |cluster: &Cluster| {
        (0..2)
            .map(|i| files_ending(&cluster.folder.join(format!("executor-{i}")), ".arrow"))
            .sum::<usize>()
    };
    let before = shuffled(&cluster);
    let out = cluster.clvsql(&["-q", "--format", "csv", "-c", query]);
    assert!(stdout(&out).starts_with("k,n\n0,"), "{}", cluster.logs());
    assert!(
        shuffled(&cluster) > before,
        "no shuffle files written by the executors:\n{}",
        cluster.logs()
    );
    for executor in &mut cluster.executors {
        executor.kill().unwrap();
        executor.wait().unwrap();
    }
    let started = Instant::now();
    let out = cluster.clvsql(&["-q", "--format", "csv", "-c", query]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("Error: ") && stderr.contains("executors"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "ran without executors: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_killed_executor_leaves_a_working_cluster() {
    let mut cluster = Cluster::start();
    // A join of 69,659 × 69,659 rows on 20 keys (245M rows): seconds of
    // work spread over both executors, long enough to be killed into.
    let join = "SELECT count(*) FROM 'data/cdnow_master.parquet' a
                JOIN 'data/cdnow_master.parquet' b ON a.customer_id % 20 = b.customer_id % 20";
    let url = cluster.url();
    let running = std::thread::spawn(move || {
        let started = Instant::now();
        let output = clvsql(&["--remote", &url, "-q", "--format", "csv", "-c", join]);
        (output, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        !running.is_finished(),
        "the join ended before an executor was killed"
    );
    let killed = &mut cluster.executors[0];
    killed.kill().unwrap();
    killed.wait().unwrap();
    let (output, took) = running.join().unwrap();
    // It completes on the other executor, or fails saying why, in bounded
    // time.
    assert!(took < Duration::from_secs(60), "took {took:?}");
    println!(
        "the join, an executor killed into it: {} in {took:?}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("Error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // The next query runs on the executor left.
    let count = cluster.clvsql(&[
        "-q",
        "--format",
        "csv",
        "-c",
        "SELECT count(*) AS n FROM 'data/cdnow_master.parquet'",
    ]);
    assert_eq!(stdout(&count), "n\n69659\n", "{}", cluster.logs());
}

/// `moto_server` on a free port, stopped when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let port = free_port();
        let child = Command::new(moto::moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// The environment that points clvsql and the cluster at this server.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "clvsql-test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "clvsql-secret".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            (
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn parquet_in_s3_gives_the_local_results() {
    let moto = Moto::start();
    let response = http(moto.port, "PUT", "/lake");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let owned = moto.env();
    let env: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    stdout(&clvsql_with(
        &env,
        &[
            "-c",
            "COPY (SELECT * FROM 'data/cdnow_master.parquet') TO 's3://lake/cdnow/cdnow_master.parquet'",
        ],
    ));
    let cluster = Cluster::start_with(&env);
    for script in ["sql/rfm_segments.sql", "sql/clv.sql"] {
        let text = std::fs::read_to_string(repository().join(script)).unwrap();
        let from_s3 = text.replace("'data/cdnow_master.parquet'", "'s3://lake/cdnow/'");
        assert_ne!(text, from_s3, "{script} names the CDNOW file");
        let file = cluster.folder.join("from_s3.sql");
        std::fs::write(&file, from_s3).unwrap();
        let args = ["-q", "--format", "csv", "-f", file.to_str().unwrap()];
        let local = stdout(&clvsql_with(&env, &args));
        let remote = stdout(&cluster.clvsql_with(&env, &args));
        assert_eq!(remote, local, "{script} from s3:// on {}", cluster.url());
        assert!(local.contains("Champions"), "{local}");
    }
    // Credentials for one table would stay in the client.
    let refused = cluster.clvsql_with(
        &env,
        &[
            "-c",
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://lake/cdnow/' OPTIONS ('aws.secret_access_key' 'clvsql-secret')",
        ],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr
            .contains("OPTIONS 'aws.secret_access_key' would give credentials to this clvsql only"),
        "{stderr}"
    );
    assert!(!stderr.contains("clvsql-secret"), "{stderr}");
}
