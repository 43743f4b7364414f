//! `s3://` end to end against a real S3-compatible server on 127.0.0.1:
//! `moto_server` (PyPI, see `moto::moto_server`). Each test starts its
//! own server on a free port and reads the server's request log to see
//! which objects were fetched.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Moto {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Moto {
    pub(crate) fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// A server that checks credentials and signatures (moto's IAM
    /// authentication) after `free` unauthenticated set-up requests.
    fn start_checking_credentials(free: usize) -> Moto {
        Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", &free.to_string())])
    }

    fn start_with(env: &[(&str, &str)]) -> Moto {
        let server = crate::moto::moto_server();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::env::temp_dir().join(format!("clvsql-moto-{port}.log"));
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto { child, port, log };
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

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An unsigned HTTP request (moto accepts them for bucket set-up).
    pub(crate) fn request(&self, method: &str, path: &str, body: &[u8]) -> String {
        self.request_with(method, path, "", body)
    }

    fn request_with(&self, method: &str, path: &str, headers: &str, body: &[u8]) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            self.port,
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    /// An IAM call before authentication starts: moto routes it by the
    /// service in the (unchecked) credential scope.
    fn iam(&self, form: &str) -> String {
        let headers = "Authorization: AWS4-HMAC-SHA256 Credential=AKIASETUP/20260101/us-east-1/iam/aws4_request, \
                       SignedHeaders=host, Signature=0\r\nContent-Type: application/x-www-form-urlencoded\r\n";
        let response = self.request_with(
            "POST",
            "/",
            headers,
            format!("{form}&Version=2010-05-08").as_bytes(),
        );
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response
    }

    /// A user allowed everything, and its access key and secret.
    fn create_user(&self) -> (String, String) {
        self.iam("Action=CreateUser&UserName=analyst");
        let response = self.iam("Action=CreateAccessKey&UserName=analyst");
        let between = |open: &str, close: &str| {
            let start = response.find(open).expect("key in response") + open.len();
            response[start..start + response[start..].find(close).unwrap()].to_string()
        };
        let key = between("<AccessKeyId>", "</AccessKeyId>");
        let secret = between("<SecretAccessKey>", "</SecretAccessKey>");
        // {"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}, URL-encoded.
        self.iam(
            "Action=PutUserPolicy&UserName=analyst&PolicyName=all&PolicyDocument=\
             %7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
             %22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
        );
        (key, secret)
    }

    pub(crate) fn create_bucket(&self, bucket: &str) {
        let response = self.request("PUT", &format!("/{bucket}"), b"");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }

    /// The request lines the server logged, such as `GET /b/key HTTP/1.1`.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split('"').nth(1).map(strip_colours))
            .collect()
    }

    fn gets_of(&self, prefix: &str) -> usize {
        let wanted = format!("GET /{prefix}");
        self.requests()
            .iter()
            .filter(|r| r.starts_with(&wanted))
            .count()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log line without its terminal colour codes (`ESC[35m`).
fn strip_colours(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// clvsql with the environment pointing at `endpoint` (no AWS variables
/// when `endpoint` is None), run to the end within `limit`.
fn clvsql_env(endpoint: Option<&str>, args: &[&str], limit: Duration) -> (Output, Duration) {
    let vars = endpoint.map(|endpoint| {
        [
            ("AWS_ACCESS_KEY_ID", "clvsql-test"),
            ("AWS_SECRET_ACCESS_KEY", "clvsql-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
        ]
    });
    clvsql_with_env(vars.as_ref().map_or(&[], |v| v.as_slice()), args, limit)
}

/// clvsql with exactly `vars` as its AWS environment, run to the end
/// within `limit`.
fn clvsql_with_env(vars: &[(&str, &str)], args: &[&str], limit: Duration) -> (Output, Duration) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clvsql"));
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        command.env_remove(key);
    }
    command.envs(vars.iter().copied());
    crate::support::run_with_timeout(command, limit)
}

fn clvsql(moto: &Moto, args: &[&str]) -> Output {
    clvsql_env(Some(&moto.endpoint()), args, Duration::from_secs(120)).0
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_ok(output: &Output) -> String {
    assert!(output.status.success(), "stderr: {}", stderr(output));
    stdout(output)
}

fn assert_error(output: &Output, expected: &[&str]) {
    let err = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {} stderr: {err}",
        stdout(output)
    );
    assert!(
        err.starts_with("Error: ") && err.trim_end().lines().count() == 1,
        "{err}"
    );
    for part in expected {
        assert!(err.contains(part), "expected '{part}' in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

const CDNOW: &str = "SELECT * FROM 'data/cdnow_master.parquet'";

#[test]
fn parquet_csv_and_ndjson_objects_and_prefixes() {
    let moto = Moto::start();
    moto.create_bucket("lake");
    let out = clvsql(
        &moto,
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            &format!("COPY ({CDNOW}) TO 's3://lake/one/tx.parquet'"),
            "-c",
            &format!("COPY ({CDNOW} WHERE customer_id <= 100) TO 's3://lake/one/tx.csv'"),
            "-c",
            &format!("COPY ({CDNOW} WHERE customer_id <= 100) TO 's3://lake/one/tx.json'"),
            "-c",
            &format!("COPY ({CDNOW}) TO 's3://lake/many/' STORED AS PARQUET PARTITIONED BY (cds)"),
            "-c",
            "SELECT count(*) AS n FROM 's3://lake/one/tx.parquet'",
            "-c",
            "SELECT count(*) AS n FROM 's3://lake/one/tx.csv'",
            "-c",
            "CREATE EXTERNAL TABLE j STORED AS JSON LOCATION 's3://lake/one/tx.json'",
            "-c",
            "SELECT count(*) AS n FROM j",
            "-c",
            "CREATE EXTERNAL TABLE many STORED AS PARQUET LOCATION 's3://lake/many/'",
            "-c",
            "SELECT count(*) AS n, count(DISTINCT cds) AS cds FROM many",
            "-c",
            "\\stores",
        ],
    );
    let text = assert_ok(&out);
    // COPY prints the rows it wrote, then the four counts.
    assert!(
        text.contains("count\n69659\ncount\n427\ncount\n427\ncount\n69659\nn\n69659\nn\n427\nn\n427\nn,cds\n69659,"),
        "{text}"
    );
    assert!(text.contains("s3://lake  (environment)"), "{text}");
}

/// sql/rfm_segments.sql over the CDNOW data in S3 prints what it prints over
/// the local file.
#[test]
fn example_analysis_gives_the_same_result_from_s3() {
    let moto = Moto::start();
    moto.create_bucket("lake");
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            &format!("COPY ({CDNOW}) TO 's3://lake/cdnow/cdnow_master.parquet'"),
        ],
    ));
    let script =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/rfm_segments.sql"))
            .unwrap();
    let from_s3 = script.replace("'data/cdnow_master.parquet'", "'s3://lake/cdnow/'");
    assert_ne!(script, from_s3);
    let local = assert_ok(&clvsql(&moto, &["-f", "sql/rfm_segments.sql"]));
    let file = std::env::temp_dir().join(format!("clvsql-s3-{}.sql", moto.port));
    std::fs::write(&file, from_s3).unwrap();
    let remote = assert_ok(&clvsql(&moto, &["-f", file.to_str().unwrap()]));
    assert_eq!(local, remote);
    assert!(moto.gets_of("lake/cdnow/") > 0, "{:?}", moto.requests());

    // sql/rfm_segments_s3.sql, with the bucket its comments ask for.
    moto.create_bucket("clvsql-example");
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            &format!("COPY ({CDNOW}) TO 's3://clvsql-example/cdnow/cdnow_master.parquet'"),
        ],
    ));
    let out = assert_ok(&clvsql(&moto, &["-f", "sql/rfm_segments_s3.sql"]));
    assert!(
        out.contains("Champions") && out.contains("Hibernating"),
        "{out}"
    );
}

/// Credentials and endpoint as table options, no AWS environment at all;
/// the secret appears in no error and no EXPLAIN.
#[test]
fn table_options_instead_of_the_environment() {
    let moto = Moto::start();
    moto.create_bucket("opts");
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            &format!("COPY ({CDNOW} LIMIT 10) TO 's3://opts/t/x.parquet'"),
        ],
    ));
    let options = format!(
        "OPTIONS ('aws.access_key_id' 'clvsql-test', 'aws.secret_access_key' 'TOPSECRET', \
         'aws.region' 'us-east-1', 'aws.endpoint' '{}', 'aws.allow_http' 'true')",
        moto.endpoint()
    );
    let create =
        format!("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://opts/t/' {options}");
    let (out, _) = clvsql_env(
        None,
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            &create,
            "-c",
            "SELECT count(*) AS n FROM t",
            "-c",
            &format!("EXPLAIN {create}"),
        ],
        Duration::from_secs(60),
    );
    let text = assert_ok(&out);
    assert!(text.starts_with("n\n10\n"), "{text}");
    assert!(!text.contains("TOPSECRET"), "{text}");

    let missing = format!(
        "CREATE EXTERNAL TABLE m STORED AS PARQUET LOCATION 's3://opts/missing.parquet' {options}"
    );
    let (out, _) = clvsql_env(None, &["-c", &missing], Duration::from_secs(60));
    assert_error(&out, &["opts/missing.parquet"]);
    assert!(!stderr(&out).contains("TOPSECRET"));

    let bad = create.replace("'aws.region'", "'aws.colour'");
    let (out, _) = clvsql_env(None, &["-c", &bad], Duration::from_secs(60));
    assert_error(&out, &["unknown S3 option 'aws.colour'"]);
}

/// A filter on partition columns reads only the matching objects, and
/// Parquet row-group statistics skip the rest of a file: counted in the
/// GET requests that reach the server.
#[test]
fn partition_and_row_group_pruning_save_requests() {
    let moto = Moto::start();
    moto.create_bucket("hive");
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            "COPY (SELECT customer_id, order_date, amount, date_part('year', order_date)::int AS year, \
             date_part('month', order_date)::int AS month FROM 'data/cdnow_master.parquet') \
             TO 's3://hive/tx/' STORED AS PARQUET PARTITIONED BY (year, month)",
            "-c",
            "SET datafusion.execution.parquet.max_row_group_size = 5000",
            "-c",
            "COPY (SELECT * FROM 'data/cdnow_master.parquet' ORDER BY order_date) TO 's3://hive/sorted/tx.parquet'",
        ],
    ));
    let gets_before = moto.gets_of("hive/tx/");
    let out = clvsql(
        &moto,
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            "CREATE EXTERNAL TABLE tx (customer_id BIGINT, order_date DATE, amount DOUBLE, year INT, month INT) \
             STORED AS PARQUET PARTITIONED BY (year, month) LOCATION 's3://hive/tx/'",
            "-c",
            "SELECT count(*) AS n FROM tx WHERE year = 1997 AND month = 3",
        ],
    );
    assert_eq!(assert_ok(&out), "n\n11598\n");
    assert!(
        moto.gets_of("hive/tx/year=1997/month=3/") > 0,
        "{:?}",
        moto.requests()
    );
    let other_gets =
        moto.gets_of("hive/tx/") - gets_before - moto.gets_of("hive/tx/year=1997/month=3/");
    assert_eq!(
        other_gets,
        0,
        "objects of other partitions were read: {:?}",
        moto.requests()
    );

    let file = "hive/sorted/tx.parquet";
    let count = |filter: &str| {
        let before = moto.gets_of(file);
        let out = clvsql(
            &moto,
            &[
                "-q",
                "--format",
                "csv",
                "-c",
                &format!("SELECT count(*) AS n FROM 's3://{file}' WHERE {filter}"),
            ],
        );
        (assert_ok(&out), moto.gets_of(file) - before)
    };
    let (one_day, pruned_gets) = count("order_date = DATE '1997-01-01'");
    let (all_days, full_gets) = count("amount >= 0");
    assert_eq!(one_day, "n\n212\n");
    assert_eq!(all_days, "n\n69659\n");
    assert!(
        pruned_gets < full_gets,
        "row groups were not pruned: {pruned_gets} GETs against {full_gets}"
    );
}

/// With a server that checks signatures, the right key works and a wrong
/// secret or an unknown key is refused with an error naming the URL, and
/// the secret appears nowhere in it.
#[test]
fn wrong_credentials_are_refused() {
    let moto = Moto::start_checking_credentials(4);
    moto.create_bucket("private");
    let (key, secret) = moto.create_user();
    let with = |key: &str, secret: &str, sql: &str| {
        let options = format!(
            "OPTIONS ('aws.access_key_id' '{key}', 'aws.secret_access_key' '{secret}', \
             'aws.region' 'us-east-1', 'aws.endpoint' '{}', 'aws.allow_http' 'true')",
            moto.endpoint()
        );
        let create = format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://private/t/' {options}"
        );
        clvsql_env(
            None,
            &["-q", "--format", "csv", "-c", &create, "-c", sql],
            Duration::from_secs(60),
        )
        .0
    };
    let endpoint = moto.endpoint();
    let env_run = |key: &str, secret: &str, sql: &str| {
        let vars = [
            ("AWS_ACCESS_KEY_ID", key),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        clvsql_with_env(
            &vars,
            &["-q", "--format", "csv", "-c", sql],
            Duration::from_secs(60),
        )
        .0
    };
    let written = env_run(
        &key,
        &secret,
        &format!("COPY ({CDNOW} LIMIT 5) TO 's3://private/t/x.parquet'"),
    );
    assert_ok(&written);
    let read = env_run(
        &key,
        &secret,
        "SELECT count(*) AS n FROM 's3://private/t/x.parquet'",
    );
    assert_eq!(assert_ok(&read), "n\n5\n");

    let wrong_secret = env_run(
        &key,
        "not-the-secret",
        "SELECT count(*) FROM 's3://private/t/x.parquet'",
    );
    assert_error(&wrong_secret, &["s3://private/t/x.parquet", "403"]);
    let unknown_key = env_run(
        "AKIAUNKNOWN",
        "whatever",
        "SELECT count(*) FROM 's3://private/t/x.parquet'",
    );
    assert_error(&unknown_key, &["s3://private/t/x.parquet", "403"]);
    assert!(!stderr(&wrong_secret).contains("not-the-secret"));

    // The same through table options.
    let refused = with(&key, "also-wrong", "SELECT count(*) FROM t");
    assert_error(&refused, &["cannot open s3://private/t/", "403"]);
    assert!(!stderr(&refused).contains("also-wrong"));
    assert_eq!(
        assert_ok(&with(&key, &secret, "SELECT count(*) AS n FROM t")),
        "n\n5\n"
    );
}

/// A public object is read without credentials: unsigned requests, no keys
/// in the environment.
#[test]
fn public_objects_without_credentials() {
    let moto = Moto::start();
    let created = moto.request_with("PUT", "/public", "x-amz-acl: public-read\r\n", b"");
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            &format!("COPY ({CDNOW} LIMIT 3) TO 's3://public/open.parquet'"),
        ],
    ));
    let acl = moto.request_with(
        "PUT",
        "/public/open.parquet?acl",
        "x-amz-acl: public-read\r\n",
        b"",
    );
    assert!(acl.starts_with("HTTP/1.1 200"), "{acl}");
    let endpoint = moto.endpoint();
    let unsigned = [
        ("AWS_SKIP_SIGNATURE", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    let open = clvsql_with_env(
        &unsigned,
        &[
            "-q",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n FROM 's3://public/open.parquet'",
        ],
        Duration::from_secs(60),
    )
    .0;
    assert_eq!(assert_ok(&open), "n\n3\n");
    let requests = moto.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /public/open.parquet")),
        "{requests:?}"
    );
}

/// Faults end in one clear error line naming the object, within a bounded
/// time, never a hang or a panic.
#[test]
fn faults_give_clear_errors_in_bounded_time() {
    let mut moto = Moto::start();
    moto.create_bucket("faults");
    let put = moto.request(
        "PUT",
        "/faults/corrupt.parquet",
        b"this is not parquet at all",
    );
    assert!(put.starts_with("HTTP/1.1 200"), "{put}");
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            &format!("COPY ({CDNOW}) TO 's3://faults/big/tx.parquet'"),
        ],
    ));
    let limit = Duration::from_secs(60);
    let endpoint = moto.endpoint();

    let (out, _) = clvsql_env(
        Some(&endpoint),
        &["-c", "SELECT * FROM 's3://faults/corrupt.parquet'"],
        limit,
    );
    assert_error(
        &out,
        &["Corrupt footer", "AmazonS3(faults)/corrupt.parquet"],
    );
    let (out, _) = clvsql_env(
        Some(&endpoint),
        &["-c", "SELECT * FROM 's3://faults/absent.parquet'"],
        limit,
    );
    assert_error(
        &out,
        &["cannot open s3://faults/absent.parquet: no such object or prefix"],
    );
    let (out, _) = clvsql_env(
        Some(&endpoint),
        &["-c", "SELECT * FROM 's3://no-such-bucket/x.parquet'"],
        limit,
    );
    assert_error(&out, &["no-such-bucket"]);

    // The server stops while a query is reading: one partition at a time,
    // one row per batch, so the scan is still on its first objects when the
    // first GET arrives and the server is stopped. The query fails within
    // the retry budget (2 retries in 10 s) instead of hanging.
    assert_ok(&clvsql(
        &moto,
        &[
            "-c",
            &format!(
                "COPY ({CDNOW}) TO 's3://faults/many/' STORED AS PARQUET PARTITIONED BY (cds)"
            ),
        ],
    ));
    let reader = std::thread::spawn({
        let endpoint = endpoint.clone();
        move || {
            clvsql_env(
                Some(&endpoint),
                &[
                    "-c",
                    "SET datafusion.execution.target_partitions = 1",
                    "-c",
                    "SET datafusion.execution.batch_size = 1",
                    "-c",
                    "CREATE EXTERNAL TABLE many (customer_id BIGINT, order_date DATE, amount DOUBLE, cds INT) \
                     STORED AS PARQUET PARTITIONED BY (cds) LOCATION 's3://faults/many/'",
                    "-c",
                    "SELECT count(*), sum(amount) FROM many",
                ],
                Duration::from_secs(90),
            )
        }
    });
    let started = Instant::now();
    while moto.gets_of("faults/many/cds=") == 0 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    moto.stop();
    let (out, took) = reader.join().unwrap();
    assert_error(&out, &["127.0.0.1", "faults/many/cds"]);
    assert!(took < Duration::from_secs(60), "took {took:?}");

    // Nothing listens any more: connection refused, quickly.
    let (out, took) = clvsql_env(
        Some(&endpoint),
        &["-c", "SELECT * FROM 's3://faults/big/tx.parquet'"],
        limit,
    );
    assert_error(&out, &["faults/big/tx.parquet"]);
    assert!(took < Duration::from_secs(45), "took {took:?}");
}
