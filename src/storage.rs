//! Object stores: `s3://` (and `gs://`, `az://`) locations in queries,
//! `CREATE EXTERNAL TABLE` and `COPY TO`.
//!
//! Stores are made when a location first needs one: from the standard
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`,
//! `AWS_SKIP_SIGNATURE`, and the `GOOGLE_*` / `AZURE_*` equivalents), or from
//! a table's `OPTIONS ('aws.access_key_id' '...', 'aws.endpoint' '...')`,
//! which override the environment for that bucket. Every request has bounded
//! time: connecting 5 s, a request 30 s, at most 2 retries within 10 s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{
    DynamicFileCatalog, Session, TableProvider, TableProviderFactory, UrlTableFactory,
};
use datafusion::common::{GetExt, Statistics};
use datafusion::datasource::dynamic_file::DynamicListTableFactory;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::{FileFormat, FileFormatFactory, FileMeta};
use datafusion::datasource::listing::{ListingTableConfig, ListingTableConfigExt, ListingTableUrl};
use datafusion::datasource::physical_plan::{FileScanConfig, FileSinkConfig, FileSource};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::CreateExternalTable;
use datafusion::physical_expr::{LexOrdering, LexRequirement};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_session::SessionStore;
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::{BackoffConfig, ClientOptions, ObjectMeta, ObjectStore, RetryConfig};
use url::Url;

use crate::local_store::LocalStore;

/// Table options this module reads: `aws.<key>` for the keys of
/// `AmazonS3ConfigKey` (access_key_id, secret_access_key, session_token,
/// region, endpoint, allow_http, skip_signature, ...).
const AWS_PREFIX: &str = "aws.";

/// Table option keys whose values are secret.
const SECRET_KEYS: [&str; 4] = [
    "aws.secret_access_key",
    "aws.session_token",
    "aws.token",
    "aws.access_key_id",
];

fn client_options() -> ClientOptions {
    ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(30))
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
    }
}

fn store_error(url: &Url, e: object_store::Error) -> DataFusionError {
    DataFusionError::External(format!("cannot open object store for {url}: {e}").into())
}

/// `(key, value)` of the environment variables starting with `prefix`,
/// keys in lower case (`AWS_ALLOW_HTTP` is `aws_allow_http`), as the
/// builders' `from_env` read them.
fn env_config(prefix: &str) -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(key, _)| key.starts_with(prefix))
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect()
}

/// An S3 store for the bucket of `url`: clvsql's timeouts, then the
/// environment, then `options` (`aws.*` keys, prefix included) on top.
pub fn s3_store(url: &Url, options: &HashMap<String, String>) -> Result<Arc<dyn ObjectStore>> {
    let bucket = url
        .host_str()
        .ok_or_else(|| DataFusionError::Plan(format!("{url} has no bucket name")))?;
    let mut builder = AmazonS3Builder::new()
        .with_client_options(client_options())
        .with_retry(retry_config())
        .with_bucket_name(bucket);
    for (key, value) in env_config("AWS_") {
        if let Ok(config) = key.parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(config, value);
        }
    }
    for (key, value) in options {
        let Some(name) = key.strip_prefix(AWS_PREFIX) else {
            continue;
        };
        let config: AmazonS3ConfigKey = name
            .parse()
            .map_err(|_| DataFusionError::Plan(format!("unknown S3 option '{key}' for {url}")))?;
        builder = builder.with_config(config, value);
    }
    let store = builder.build().map_err(|e| store_error(url, e))?;
    Ok(Arc::new(store))
}

/// A store for `url` from the environment alone, for the schemes clvsql
/// knows; `None` for others.
fn store_from_env(url: &Url) -> Option<Result<Arc<dyn ObjectStore>>> {
    let store: Result<Arc<dyn ObjectStore>> = match url.scheme() {
        "s3" | "s3a" => s3_store(url, &HashMap::new()),
        "gs" | "gcs" => {
            let mut builder = GoogleCloudStorageBuilder::new()
                .with_client_options(client_options())
                .with_retry(retry_config());
            for (key, value) in env_config("GOOGLE_") {
                if let Ok(config) = key.parse::<GoogleConfigKey>() {
                    builder = builder.with_config(config, value);
                }
            }
            builder
                .with_url(url.as_str())
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                .map_err(|e| store_error(url, e))
        }
        "az" | "abfs" | "abfss" => {
            let mut builder = MicrosoftAzureBuilder::new()
                .with_client_options(client_options())
                .with_retry(retry_config());
            for (key, value) in env_config("AZURE_") {
                if let Ok(config) = key.parse::<AzureConfigKey>() {
                    builder = builder.with_config(config, value);
                }
            }
            builder
                .with_url(url.as_str())
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
                .map_err(|e| store_error(url, e))
        }
        _ => return None,
    };
    Some(store)
}

/// The object store registry of a clvsql session: DataFusion's, plus
/// stores made from the environment the first time a bucket is used.
#[derive(Debug)]
pub struct CloudStoreRegistry {
    inner: DefaultObjectStoreRegistry,
    /// Registered stores by `scheme://bucket`, with how they were made.
    registered: Mutex<BTreeMap<String, &'static str>>,
}

impl Default for CloudStoreRegistry {
    fn default() -> Self {
        let inner = DefaultObjectStoreRegistry::new();
        let local = Url::parse("file://").expect("a valid URL");
        inner.register_store(&local, Arc::new(LocalStore::new()));
        Self {
            inner,
            registered: Mutex::default(),
        }
    }
}

impl CloudStoreRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stores in use: `(scheme://bucket, origin)`.
    pub fn stores(&self) -> Vec<(String, &'static str)> {
        let registered = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        registered
            .iter()
            .map(|(url, origin)| (url.clone(), *origin))
            .collect()
    }

    fn record(&self, url: &Url, origin: &'static str) {
        let key = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
        self.registered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, origin);
    }
}

impl ObjectStoreRegistry for CloudStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        if url.scheme() != "file" {
            self.record(url, "registered (table options or API)");
        }
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.inner.get_store(url) {
            Ok(store) => Ok(store),
            Err(not_found) => match store_from_env(url) {
                Some(store) => {
                    let store = store?;
                    self.inner.register_store(url, Arc::clone(&store));
                    self.record(url, "environment");
                    Ok(store)
                }
                None => Err(not_found),
            },
        }
    }
}

/// Wraps a table factory: a `CREATE EXTERNAL TABLE` on `s3://` with `aws.*`
/// options registers a store for its bucket made from those options; the
/// other options go on to the wrapped factory. A client of a cluster
/// (`for_cluster`) refuses them: the store would be this process's, while
/// the cluster's processes read the data.
#[derive(Debug)]
pub struct CloudTableFactory {
    inner: Arc<dyn TableProviderFactory>,
    for_cluster: bool,
}

impl CloudTableFactory {
    pub fn new(inner: Arc<dyn TableProviderFactory>, for_cluster: bool) -> Self {
        Self { inner, for_cluster }
    }
}

#[async_trait]
impl TableProviderFactory for CloudTableFactory {
    async fn create(
        &self,
        state: &dyn Session,
        cmd: &CreateExternalTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let (aws, rest): (HashMap<String, String>, HashMap<String, String>) = cmd
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .partition(|(k, _)| k.starts_with(AWS_PREFIX));
        let naming =
            |e: DataFusionError| e.context(format!("cannot open {}", cmd.locations.join(", ")));
        if aws.is_empty() {
            return self.inner.create(state, cmd).await.map_err(naming);
        }
        if self.for_cluster {
            let mut names: Vec<&String> = aws.keys().collect();
            names.sort();
            return Err(DataFusionError::Plan(format!(
                "OPTIONS {} would give credentials to this clvsql only: on a cluster the scheduler and every executor read s3:// with their own (AWS_* in their environment)",
                names
                    .iter()
                    .map(|n| format!("'{n}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for location in &cmd.locations {
            let url = Url::parse(location)
                .map_err(|e| DataFusionError::Plan(format!("{location} is not a URL: {e}")))?;
            if !matches!(url.scheme(), "s3" | "s3a") {
                return Err(DataFusionError::Plan(format!(
                    "aws.* options need an s3:// location, got {location}"
                )));
            }
            state
                .runtime_env()
                .register_object_store(&url, s3_store(&url, &aws)?);
        }
        let mut without_secrets = cmd.clone();
        without_secrets.options = rest;
        self.inner
            .create(state, &without_secrets)
            .await
            .map_err(naming)
    }
}

/// A Parquet (or other) file format whose errors in reading a file's
/// metadata name the file: DataFusion 55 reports a corrupt footer as
/// "Invalid Parquet file. Corrupt footer" without saying which object.
#[derive(Debug)]
pub struct NamedErrorsFormatFactory {
    inner: Arc<dyn FileFormatFactory>,
}

impl NamedErrorsFormatFactory {
    pub fn new(inner: Arc<dyn FileFormatFactory>) -> Self {
        Self { inner }
    }
}

impl GetExt for NamedErrorsFormatFactory {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }
}

impl FileFormatFactory for NamedErrorsFormatFactory {
    fn create(
        &self,
        state: &dyn Session,
        options: &HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(Arc::new(NamedErrorsFormat {
            inner: self.inner.create(state, options)?,
        }))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(NamedErrorsFormat {
            inner: self.inner.default(),
        })
    }
}

#[derive(Debug)]
struct NamedErrorsFormat {
    inner: Arc<dyn FileFormat>,
}

/// `error` with the objects being read, as `store/path` (`AmazonS3(lake)/tx.parquet`).
fn naming(
    error: DataFusionError,
    store: &Arc<dyn ObjectStore>,
    objects: &[ObjectMeta],
) -> DataFusionError {
    let mut names: Vec<String> = objects
        .iter()
        .take(3)
        .map(|o| format!("{store}/{}", o.location))
        .collect();
    if objects.len() > 3 {
        names.push(format!("and {} more", objects.len() - 3));
    }
    error.context(format!("reading {}", names.join(", ")))
}

#[async_trait]
impl FileFormat for NamedErrorsFormat {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> Result<String> {
        self.inner.get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.inner.compression_type()
    }

    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        let error = match self.inner.infer_schema(state, store, objects).await {
            Ok(schema) => return Ok(schema),
            Err(error) => error,
        };
        // Name the file at fault, not the first few of the table.
        if objects.len() > 1 {
            for object in objects {
                let one = std::slice::from_ref(object);
                if let Err(error) = self.inner.infer_schema(state, store, one).await {
                    return Err(naming(error, store, one));
                }
            }
        }
        Err(naming(error, store, objects))
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Statistics> {
        self.inner
            .infer_stats(state, store, table_schema, object)
            .await
            .map_err(|e| naming(e, store, std::slice::from_ref(object)))
    }

    async fn infer_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<Option<LexOrdering>> {
        self.inner
            .infer_ordering(state, store, table_schema, object)
            .await
            .map_err(|e| naming(e, store, std::slice::from_ref(object)))
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> Result<FileMeta> {
        self.inner
            .infer_stats_and_ordering(state, store, table_schema, object)
            .await
            .map_err(|e| naming(e, store, std::slice::from_ref(object)))
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.create_physical_plan(state, conf).await
    }

    async fn create_writer_physical_plan(
        &self,
        input: Arc<dyn ExecutionPlan>,
        state: &dyn Session,
        conf: FileSinkConfig,
        order_requirements: Option<LexRequirement>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner
            .create_writer_physical_plan(input, state, conf, order_requirements)
            .await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        self.inner.file_source(table_schema)
    }
}

/// Tables named by URL (`SELECT * FROM 's3://lake/tx.parquet'`), as
/// DataFusion's `enable_url_table`, except that a URL that cannot be opened
/// reports why (access denied, no such bucket, connection refused) instead
/// of "table not found".
#[derive(Debug)]
pub struct UrlTables {
    inner: DynamicListTableFactory,
}

impl UrlTables {
    /// `ctx` with URL tables enabled.
    pub fn enable(ctx: SessionContext) -> SessionContext {
        let factory = Arc::new(UrlTables {
            inner: DynamicListTableFactory::new(SessionStore::new()),
        });
        let catalogs = Arc::new(DynamicFileCatalog::new(
            Arc::clone(ctx.state().catalog_list()),
            Arc::clone(&factory) as Arc<dyn UrlTableFactory>,
        ));
        let session_id = ctx.session_id();
        let ctx: SessionContext = ctx
            .into_state_builder()
            .with_session_id(session_id)
            .with_catalog_list(catalogs)
            .build()
            .into();
        factory
            .inner
            .session_store()
            .with_state(ctx.state_weak_ref());
        ctx
    }

    /// The session's state, while the session lives.
    fn state(&self) -> Option<SessionState> {
        let session = self.inner.session_store().get_session().upgrade()?;
        session
            .read()
            .as_any()
            .downcast_ref::<SessionState>()
            .cloned()
    }
}

/// Whether a table name is meant as a file or folder (a URL, a path, or a
/// name with a file format's extension) rather than a table that does not
/// exist.
fn names_a_file(name: &str) -> bool {
    const FORMATS: [&str; 6] = [".parquet", ".csv", ".json", ".ndjson", ".arrow", ".avro"];
    let lower = name.to_ascii_lowercase();
    name.contains("://")
        || name.contains('/')
        || FORMATS
            .iter()
            .any(|ext| lower.ends_with(ext) || lower.contains(&format!("{ext}.")))
}

/// Checks that every file of a folder is of one format (extension and
/// compression): DataFusion takes the format of the first file it lists
/// and silently skips the others. Names starting with `_` or `.` are
/// metadata, not data.
async fn check_one_format(
    state: &SessionState,
    table_url: &ListingTableUrl,
    name: &str,
) -> Result<()> {
    let store = state.runtime_env().object_store(table_url)?;
    let mut files = table_url.list_all_files(state, store.as_ref(), "").await?;
    let mut first: Option<(String, (String, Option<String>))> = None;
    while let Some(file) = files.next().await {
        let location = file?.location.to_string();
        // Named within the folder.
        let path = location
            .strip_prefix(table_url.prefix().as_ref())
            .map_or(location.as_str(), |p| p.trim_start_matches('/'))
            .to_string();
        // Hadoop's and Spark's metadata (`_SUCCESS`, `.part-0.crc`).
        let file_name = path.rsplit('/').next().unwrap_or_default();
        if file_name.starts_with(['_', '.']) {
            continue;
        }
        let format =
            ListingTableConfig::infer_file_extension_and_compression_type(&path).map_err(|e| {
                DataFusionError::Plan(format!(
                    "cannot open {name}: cannot tell the format of {path} ({})",
                    e.message()
                ))
            })?;
        match &first {
            None => first = Some((path, format)),
            Some((first_path, first_format)) if *first_format != format => {
                return Err(DataFusionError::Plan(format!(
                    "cannot open {name}: {path} is not of the format of {first_path} ({} beside {}); a folder read as one table must hold files of one format: move the other files out, or read one file",
                    format_name(&format),
                    format_name(first_format)
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn format_name((extension, compression): &(String, Option<String>)) -> String {
    match compression {
        Some(compression) => format!("{extension}.{compression}"),
        None => extension.clone(),
    }
}

#[async_trait]
impl UrlTableFactory for UrlTables {
    async fn try_new(&self, url: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // Plain names stay "table not found".
        if !names_a_file(url) {
            return self.inner.try_new(url).await;
        }
        let Some(state) = self.state() else {
            return self.inner.try_new(url).await;
        };
        let table_url =
            ListingTableUrl::parse(url).map_err(|e| e.context(format!("cannot open {url}")))?;
        if table_url.is_collection() {
            check_one_format(&state, &table_url, url)
                .await
                .map_err(|e| named_open_error(url, e))?;
        }
        if let Some(table) = self.inner.try_new(url).await? {
            return Ok(Some(table));
        }
        // DataFusion says "table not found" whatever the cause: find it.
        let config = ListingTableConfig::new(table_url)
            .infer_options(&state)
            .await
            .map_err(|e| named_open_error(url, e))?;
        match config.infer_schema(&state).await {
            Err(e) => Err(named_open_error(url, e)),
            Ok(_) => Ok(None),
        }
    }
}

/// An error opening the table `url`, worded for its user.
fn named_open_error(url: &str, e: DataFusionError) -> DataFusionError {
    if matches!(&e, DataFusionError::Plan(m) if m.starts_with("cannot open")) {
        return e;
    }
    let text = e.to_string();
    // DataFusion words an empty listing as an internal error.
    if text.contains("No files for table")
        || text.contains("not found") && text.contains("Object at location")
    {
        let what = if url.contains("://") {
            "object or prefix"
        } else {
            "file or folder"
        };
        return DataFusionError::Plan(format!("cannot open {url}: no such {what}"));
    }
    e.context(format!("cannot open {url}"))
}

/// `text` with the values of secret options (`'aws.secret_access_key' '...'`)
/// replaced by `***`, for history files and logs.
pub fn redact_secrets(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    // Byte ranges of the secret values, in order of position.
    let mut secrets: Vec<(usize, usize)> = vec![];
    for key in SECRET_KEYS {
        let quoted = format!("'{key}'");
        let mut from = 0;
        while let Some(found) = lower[from..].find(&quoted) {
            let after_key = from + found + quoted.len();
            from = after_key;
            let rest = &text[after_key..];
            let value_start =
                after_key + rest.len() - rest.trim_start_matches([' ', '\t', '\n', '=']).len();
            if text[value_start..].starts_with('\'')
                && let Some(len) = text[value_start + 1..].find('\'')
            {
                secrets.push((value_start + 1, value_start + 1 + len));
            }
        }
    }
    secrets.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (start, end) in secrets {
        if start >= copied {
            out.push_str(&text[copied..start]);
            out.push_str("***");
            copied = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let sql = "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/t' \
                   OPTIONS ('AWS.ACCESS_KEY_ID' 'AKIA1', 'aws.secret_access_key' 'very secret', 'aws.region' 'us-east-1')";
        let redacted = redact_secrets(sql);
        assert!(
            !redacted.contains("very secret") && !redacted.contains("AKIA1"),
            "{redacted}"
        );
        assert!(
            redacted.contains("'aws.secret_access_key' '***'"),
            "{redacted}"
        );
        assert!(redacted.contains("'aws.region' 'us-east-1'"), "{redacted}");
        assert_eq!(redact_secrets("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn unknown_options_are_errors() {
        let url = Url::parse("s3://bucket/x").unwrap();
        let options = HashMap::from([("aws.colour".to_string(), "blue".to_string())]);
        let err = s3_store(&url, &options).unwrap_err();
        assert!(
            err.to_string().contains("unknown S3 option 'aws.colour'"),
            "{err}"
        );
    }
}
