//! `clvsql --db DIR`: the tables an analyst builds, kept across sessions.
//!
//! - `CREATE TABLE name ...` (with or without `AS`) writes the table to
//!   `DIR/name/` as Parquet and from then on reads it from there, so later
//!   `INSERT INTO name` statements add files to the same folder;
//! - `CREATE VIEW` and `CREATE EXTERNAL TABLE` keep their statement in
//!   `DIR/name.sql` (an external table whose `OPTIONS` hold credentials is
//!   not kept: secrets are not written to disk);
//! - `DROP TABLE` and `DROP VIEW` remove what was kept.
//!
//! On start, every `DIR/name/` folder is registered as table `name` and
//! the definitions run again. Only names in the default schema are kept,
//! and only names that are plain file names (no `/`, `\\`, not starting
//! with `.`). One clvsql at a time uses a folder (a lock on `DIR/.lock`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalUnit};
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;

use clvsql::cancel::{CANCELLED, Cancellation};
use datafusion::sql::sqlparser::ast::{ObjectName, ObjectType, Statement as SqlStatement};

/// What a statement changes in the kept tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A table now in memory, to write out.
    Table(String),
    /// A view or external table, kept as its statement.
    Definition(String),
    /// Names dropped.
    Dropped(Vec<String>),
    /// An external table with credentials in its options: not kept.
    Secret(String),
    /// A name that cannot be kept, and why.
    Unkept(String, &'static str),
}

/// The one-part name of `name` as the catalog holds it (unquoted names in
/// lower case), if it is one.
fn simple(name: &ObjectName) -> Option<String> {
    match name.0.as_slice() {
        [part] => part.as_ident().map(|i| match i.quote_style {
            Some(_) => i.value.clone(),
            None => i.value.to_lowercase(),
        }),
        _ => None,
    }
}

/// Why `name` cannot name a file in the folder, if it cannot.
fn unfit(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
        Some("only names that are plain file names (no '/', '\\', not starting with '.') are")
    } else {
        None
    }
}

/// What `statement` changes, if anything.
pub fn change(statement: &Statement) -> Option<Change> {
    let named = |name: &ObjectName, change: fn(String) -> Change| {
        Some(match simple(name) {
            Some(simple) => match unfit(&simple) {
                Some(why) => Change::Unkept(simple, why),
                None => change(simple),
            },
            None => Change::Unkept(name.to_string(), "only tables of the default schema are"),
        })
    };
    match statement {
        Statement::Statement(statement) => match statement.as_ref() {
            SqlStatement::CreateTable(create) => named(&create.name, Change::Table),
            SqlStatement::CreateView(view) => named(&view.name, Change::Definition),
            SqlStatement::Drop {
                object_type: ObjectType::Table | ObjectType::View,
                names,
                ..
            } => Some(Change::Dropped(
                names
                    .iter()
                    .filter_map(simple)
                    .filter(|name| unfit(name).is_none())
                    .collect(),
            )),
            _ => None,
        },
        Statement::CreateExternalTable(table) => {
            let secret = table.options.iter().any(|(key, _)| {
                let key = key.to_ascii_lowercase();
                ["secret", "token", "password"].iter().any(|k| key.contains(k))
                    // Service account and storage account keys; not key ids.
                    || (key.contains("key") && !key.contains("key_id"))
            });
            if secret {
                Some(Change::Secret(table.name.to_string()))
            } else {
                named(&table.name, Change::Definition)
            }
        }
        _ => None,
    }
}

/// Whether Parquet cannot store values of `data_type` (arrow's writer has
/// no encoding for month-day-nanosecond intervals, DataFusion's INTERVAL).
fn unstorable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Interval(IntervalUnit::MonthDayNano) => true,
        DataType::Struct(fields) => fields.iter().any(|f| unstorable(f.data_type())),
        DataType::List(field)
        | DataType::LargeList(field)
        | DataType::FixedSizeList(field, _)
        | DataType::Map(field, _) => unstorable(field.data_type()),
        _ => false,
    }
}

/// A folder of kept tables.
pub struct Db {
    dir: PathBuf,
    /// Holds the folder's lock while open.
    _lock: std::fs::File,
}

fn io_error(what: String) -> impl FnOnce(std::io::Error) -> DataFusionError {
    move |e| DataFusionError::Execution(format!("--db: {what}: {e}"))
}

impl Db {
    /// Opens (and makes, if need be) the folder `dir`.
    pub fn open(dir: &Path) -> Result<Db> {
        std::fs::create_dir_all(dir).map_err(io_error(format!("cannot make {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io_error(format!("cannot open {}", dir.display())))?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error(format!("cannot open {}", lock_path.display())))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                DataFusionError::Execution(format!(
                    "--db: {} is in use by another clvsql; one session at a time keeps tables there",
                    dir.display()
                ))
            },
        )?;
        Ok(Db { dir, _lock: lock })
    }

    fn table_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn definition(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.sql"))
    }

    /// Registers the kept tables and runs the kept definitions; returns
    /// warnings for those that could not be restored.
    pub async fn restore(&self, ctx: &SessionContext) -> Result<Vec<String>> {
        let mut warnings = vec![];
        let mut definitions = vec![];
        let entries = std::fs::read_dir(&self.dir)
            .map_err(io_error(format!("cannot read {}", self.dir.display())))?;
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if let Err(e) = self.register(ctx, &name).await {
                    warnings.push(format!("table {name} not restored: {e}"));
                }
            } else if let Some(view) = name.strip_suffix(".sql") {
                let text = std::fs::read_to_string(&path)
                    .map_err(io_error(format!("cannot read {}", path.display())))?;
                definitions.push((view.to_string(), text));
            }
        }
        // Definitions may use each other: run them until none succeeds.
        loop {
            let mut failed = vec![];
            let before = definitions.len();
            for (name, text) in definitions {
                if let Err(e) = clvsql::statement::run(ctx, &text).await {
                    failed.push((name, text, e));
                }
            }
            if failed.is_empty() || failed.len() == before {
                for (name, _, e) in failed {
                    warnings.push(format!(
                        "{name} not restored: {}",
                        clvsql::script::one_line(&e.to_string())
                    ));
                }
                break;
            }
            definitions = failed.into_iter().map(|(n, t, _)| (n, t)).collect();
        }
        Ok(warnings)
    }

    /// Registers `DIR/name/` as table `name`.
    async fn register(&self, ctx: &SessionContext, name: &str) -> Result<()> {
        let url = ListingTableUrl::parse(format!("{}/", self.table_dir(name).display()))?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await?;
        ctx.deregister_table(TableReference::bare(name))?;
        ctx.register_table(
            TableReference::bare(name),
            Arc::new(ListingTable::try_new(config)?),
        )?;
        Ok(())
    }

    /// Forgets what DataFusion cached of the folder's files: a table
    /// written again under the same name lists other files.
    fn forget_listings(ctx: &SessionContext) {
        let caches = &ctx.runtime_env().cache_manager;
        if let Some(cache) = caches.get_list_files_cache() {
            cache.clear();
        }
        if let Some(cache) = caches.get_file_statistic_cache() {
            cache.clear();
        }
        caches.get_file_metadata_cache().clear();
    }

    /// Writes `table` as `folder/part-0.parquet`.
    async fn write(
        &self,
        ctx: &SessionContext,
        table: TableReference,
        folder: &Path,
        cancellation: &Cancellation,
    ) -> Result<()> {
        let df = ctx.table(table).await?;
        let schema = df.schema().inner().clone();
        if let Some(field) = schema.fields().iter().find(|f| unstorable(f.data_type())) {
            return Err(DataFusionError::Execution(format!(
                "Parquet cannot store column {} of type {}",
                field.name(),
                field.data_type()
            )));
        }
        let batches = df.collect().await?;
        let _ = std::fs::remove_dir_all(folder);
        std::fs::create_dir_all(folder)
            .map_err(io_error(format!("cannot make {}", folder.display())))?;
        let file = folder.join("part-0.parquet");
        let out = std::fs::File::create(&file)
            .map_err(io_error(format!("cannot write {}", file.display())))?;
        let mut writer = ArrowWriter::try_new(out, schema, None)?;
        for batch in &batches {
            if cancellation.is_cancelled() {
                return Err(DataFusionError::Execution(CANCELLED.to_string()));
            }
            writer.write(batch)?;
        }
        writer.close()?;
        Ok(())
    }

    /// Keeps what `change`, which `sql` made, did; returns a note for what
    /// is not kept.
    pub async fn keep(
        &self,
        ctx: &SessionContext,
        change: &Change,
        sql: &str,
        cancellation: &Cancellation,
    ) -> Result<Option<String>> {
        match change {
            Change::Table(name) => {
                let table = TableReference::bare(name.as_str());
                // `CREATE TABLE IF NOT EXISTS` over a kept table or a view
                // made nothing new: only a table in memory is written out.
                let made = ctx.table_provider(table.clone()).await?;
                if made.downcast_ref::<MemTable>().is_none() {
                    return Ok(None);
                }
                let staging = self.dir.join(format!(".{name}.new"));
                let written = self.write(ctx, table, &staging, cancellation).await;
                if let Err(e) = written {
                    let _ = std::fs::remove_dir_all(&staging);
                    return Err(DataFusionError::Execution(format!(
                        "table {name} was made, but is not kept in --db: {}",
                        clvsql::script::one_line(&e.message())
                    )));
                }
                let target = self.table_dir(name);
                if target.exists() {
                    std::fs::remove_dir_all(&target)
                        .map_err(io_error(format!("cannot replace {}", target.display())))?;
                }
                std::fs::rename(&staging, &target)
                    .map_err(io_error(format!("cannot write {}", target.display())))?;
                // A table replacing a kept view (CREATE OR REPLACE TABLE).
                let definition = self.definition(name);
                if definition.is_file() {
                    std::fs::remove_file(&definition)
                        .map_err(io_error(format!("cannot remove {}", definition.display())))?;
                }
                Self::forget_listings(ctx);
                self.register(ctx, name).await?;
                Ok(None)
            }
            Change::Definition(name) => {
                // A view replacing a kept table (CREATE OR REPLACE VIEW).
                let table = self.table_dir(name);
                if table.is_dir() {
                    std::fs::remove_dir_all(&table)
                        .map_err(io_error(format!("cannot remove {}", table.display())))?;
                    Self::forget_listings(ctx);
                }
                let path = self.definition(name);
                std::fs::write(&path, sql)
                    .map_err(io_error(format!("cannot write {}", path.display())))?;
                Ok(None)
            }
            Change::Dropped(names) => {
                for name in names {
                    let table = self.table_dir(name);
                    if table.is_dir() {
                        std::fs::remove_dir_all(&table)
                            .map_err(io_error(format!("cannot remove {}", table.display())))?;
                    }
                    let definition = self.definition(name);
                    if definition.is_file() {
                        std::fs::remove_file(&definition)
                            .map_err(io_error(format!("cannot remove {}", definition.display())))?;
                    }
                }
                Ok(None)
            }
            Change::Secret(name) => Ok(Some(format!(
                "{name} is not kept in --db: its OPTIONS hold credentials; create it from ~/.clvsqlrc or use AWS_* variables"
            ))),
            Change::Unkept(name, why) => {
                Ok(Some(format!("{name} is not kept in --db: {why} kept")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(sql: &str) -> Option<Change> {
        let ctx = SessionContext::new();
        let mut statements = clvsql::statement::parse(&ctx, sql).unwrap();
        change(&statements.remove(0))
    }

    #[test]
    fn statements_that_change_kept_tables() {
        assert_eq!(
            changed("CREATE TABLE t AS SELECT 1"),
            Some(Change::Table("t".to_string()))
        );
        assert_eq!(
            changed("CREATE OR REPLACE VIEW v AS SELECT 1"),
            Some(Change::Definition("v".to_string()))
        );
        assert_eq!(
            changed("DROP TABLE IF EXISTS a, s.b"),
            Some(Change::Dropped(vec!["a".to_string()]))
        );
        assert!(matches!(
            changed("CREATE TABLE s.t AS SELECT 1"),
            Some(Change::Unkept(name, _)) if name == "s.t"
        ));
        assert_eq!(
            changed("CREATE TABLE Sales AS SELECT 1"),
            Some(Change::Table("sales".to_string()))
        );
        assert_eq!(
            changed("CREATE VIEW \"MyView\" AS SELECT 1"),
            Some(Change::Definition("MyView".to_string()))
        );
        for name in ["\"../x\"", "\".\"", "\"\"", "\".hidden\"", "\"a/b\""] {
            assert!(
                matches!(
                    changed(&format!("CREATE TABLE {name} AS SELECT 1")),
                    Some(Change::Unkept(..))
                ),
                "{name}"
            );
            assert_eq!(
                changed(&format!("DROP TABLE IF EXISTS {name}")),
                Some(Change::Dropped(vec![])),
                "{name}"
            );
        }
        assert_eq!(
            changed(
                "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION 's3://b/x/' OPTIONS ('aws.secret_access_key' 'k')"
            ),
            Some(Change::Secret("x".to_string()))
        );
        assert_eq!(changed("SELECT 1"), None);
        assert_eq!(changed("INSERT INTO t VALUES (1)"), None);
    }
}
