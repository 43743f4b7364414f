//! Running SQL from the REPL, `-c`, `-f` and `\i`: splitting text into
//! statements and backslash commands, executing, printing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use tokio::signal::unix::{Signal, SignalKind, signal};

use clvsql::cancel::{CANCELLED, Cancellation};
use clvsql::script::{Item, items_located, one_line};
use clvsql::storage::CloudStoreRegistry;

use crate::command::{self, Action};
use crate::print::PrintOptions;

/// An error as the CLI prints it, on one line: `FILE:LINE: message` for
/// an error in a file.
pub fn error_text(error: &DataFusionError) -> String {
    if let DataFusionError::Context(location, inner) = error
        && location
            .rsplit_once(':')
            .is_some_and(|(_, line)| line.parse::<usize>().is_ok())
    {
        return format!("{location}: {}", error_text(inner));
    }
    one_line(&error.to_string())
}

/// Where statements come from.
#[derive(Debug, Clone)]
pub enum Source {
    Command(String),
    File(PathBuf),
}

/// How long Ctrl-C waits for a cancelled query's work to stop before the
/// prompt comes back anyway.
const CANCEL_WAIT: Duration = Duration::from_millis(500);

/// How deep `\i` files may include each other.
const MAX_INCLUDE_DEPTH: usize = 16;

/// SIGINT as a stream, set up on first use: from then on Ctrl-C cancels
/// the running statement instead of ending the process (and a SIGINT that
/// the shell set to be ignored, as for a background job, is heard again).
fn interrupts(slot: &mut Option<Signal>) -> Result<&mut Signal> {
    if slot.is_none() {
        let stream = signal(SignalKind::interrupt())
            .map_err(|e| DataFusionError::Execution(format!("cannot handle Ctrl-C: {e}")))?;
        *slot = Some(stream);
    }
    Ok(slot.as_mut().expect("set above"))
}

/// Standard output that notes when its reader has gone (a broken pipe),
/// which the writers of some formats report only as text.
struct PipeWatch<W> {
    inner: W,
    closed: bool,
}

impl<W: std::io::Write> std::io::Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.watch(|w| w.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.watch(|w| w.flush())
    }
}

impl<W> PipeWatch<W> {
    fn watch<T>(&mut self, op: impl FnOnce(&mut W) -> std::io::Result<T>) -> std::io::Result<T> {
        let result = op(&mut self.inner);
        if let Err(e) = &result
            && e.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.closed = true;
        }
        result
    }
}

/// A SQL session with its print settings.
pub struct Session {
    pub ctx: SessionContext,
    pub print: PrintOptions,
    /// The session's object stores, for `\stores`.
    pub stores: Arc<CloudStoreRegistry>,
    /// The Ballista scheduler statements run on (`--remote`), if any.
    pub remote: Option<String>,
    /// Set by `\q`.
    pub quit: bool,
    /// Where created tables are kept (`--db`).
    pub db: Option<Arc<crate::db::Db>>,
    /// The last result with columns, for `\chart` (held until the next
    /// one, as it was for printing).
    pub last: Option<(SchemaRef, Vec<RecordBatch>)>,
    /// Ctrl-C while a statement runs, once a statement listens for it.
    interrupts: Option<Signal>,
    /// Files being run, the outermost first (`-f`, then `\i` inside it).
    files: Vec<PathBuf>,
    /// The runtime statements run on (always set; taken when dropped).
    compute: Option<tokio::runtime::Runtime>,
}

/// The stack of the threads that plan and run statements: DataFusion
/// recurses over expressions, and one nested
/// `clvsql::statement::MAX_EXPRESSION_DEPTH` deep needs more than the 2 MiB
/// default (in debug builds). Only the pages used are ever committed.
const STACK_SIZE: usize = 64 << 20;

/// The runtime statements run on, apart from the thread that reads input
/// and hears Ctrl-C: a signal reaches tokio through its I/O driver, which a
/// multi-threaded runtime polls only from an idle worker, so with every
/// worker computing Ctrl-C went unheard.
pub fn compute_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(STACK_SIZE)
        .build()
}

impl Drop for Session {
    /// Does not wait for the runtime's threads: a computation that Ctrl-C
    /// cancelled may still be finishing the batch it is in.
    fn drop(&mut self) {
        if let Some(runtime) = self.compute.take() {
            runtime.shutdown_background();
        }
    }
}

/// Output that stops, a chunk at a time, once `stop` is set (Ctrl-C while
/// a large result prints).
struct Stoppable<W> {
    inner: W,
    stop: Arc<AtomicBool>,
}

/// What [`Stoppable`] writes at a time.
const CHUNK: usize = 64 << 10;

impl<W: std::io::Write> std::io::Write for Stoppable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            // Not `ErrorKind::Interrupted`, which `write_all` retries.
            return Err(std::io::Error::other(CANCELLED));
        }
        self.inner.write(&buf[..buf.len().min(CHUNK)])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Session {
    pub fn new(
        ctx: SessionContext,
        print: PrintOptions,
        stores: Arc<CloudStoreRegistry>,
        remote: Option<String>,
        compute: tokio::runtime::Runtime,
    ) -> Self {
        Self {
            ctx,
            print,
            stores,
            remote,
            quit: false,
            db: None,
            last: None,
            interrupts: None,
            files: vec![],
            compute: Some(compute),
        }
    }

    fn compute(&self) -> &tokio::runtime::Handle {
        self.compute.as_ref().expect("set until dropped").handle()
    }

    /// Waits for `task`, which stops soon after `stop` is called; Ctrl-C
    /// calls it and gives "query cancelled". A task still busy after
    /// [`CANCEL_WAIT`] (an operator in the middle of a long batch) is left
    /// to finish on its own runtime, and later statements get a new one,
    /// so they do not queue behind it.
    async fn interruptible<T>(
        &mut self,
        mut task: tokio::task::JoinHandle<Result<T>>,
        stop: impl FnOnce(),
    ) -> Result<T> {
        let interrupts = interrupts(&mut self.interrupts)?;
        tokio::select! {
            joined = &mut task => joined.map_err(|e| {
                DataFusionError::Execution(format!("the query failed: {e}"))
            })?,
            _ = interrupts.recv() => {
                stop();
                task.abort();
                if tokio::time::timeout(CANCEL_WAIT, &mut task).await.is_err() {
                    let fresh = compute_runtime().map_err(|e| {
                        DataFusionError::Execution(format!("cannot start a runtime: {e}"))
                    })?;
                    if let Some(busy) = self.compute.replace(fresh) {
                        busy.shutdown_background();
                    }
                }
                Err(DataFusionError::Execution(CANCELLED.to_string()))
            }
        }
    }

    /// Writes a line of a command's output; a closed pipe (`clvsql ... |
    /// head`) ends the session quietly, as it does for results.
    pub fn say(&mut self, text: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                self.quit = true;
            } else {
                report!("Error: cannot write to standard output: {e}");
            }
        }
    }

    /// Runs `-c` and `-f` sources in order; stops at the first error.
    pub async fn run_sources(&mut self, sources: &[Source]) -> bool {
        for source in sources {
            let result = match source {
                Source::Command(sql) => self.run_text(sql).await,
                Source::File(path) => self.run_file(path).await,
            };
            if let Err(e) = result {
                report!("Error: {}", error_text(&e));
                return false;
            }
            if self.quit {
                break;
            }
        }
        true
    }

    pub async fn run_file(&mut self, path: &Path) -> Result<()> {
        if self.files.len() >= MAX_INCLUDE_DEPTH {
            let chain: Vec<String> = self
                .files
                .iter()
                .take(3)
                .map(|f| f.display().to_string())
                .collect();
            return Err(DataFusionError::Execution(format!(
                "cannot run {}: files include each other more than {MAX_INCLUDE_DEPTH} deep ({} -> ...)",
                path.display(),
                chain.join(" -> ")
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            DataFusionError::Execution(format!("cannot read {}: {e}", path.display()))
        })?;
        // Editors on Windows start UTF-8 files with a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        self.files.push(path.to_path_buf());
        let result = self.run_located(text, Some(path)).await;
        self.files.pop();
        result
    }

    /// Runs every statement and command of `text`; an unfinished last
    /// statement (no `;`) runs too.
    pub async fn run_text(&mut self, text: &str) -> Result<()> {
        self.run_located(text, None).await
    }

    /// [`Self::run_text`] for a script read from elsewhere than a file
    /// (`<stdin>`), whose errors start with `NAME:LINE:`.
    pub async fn run_script(&mut self, text: &str, name: &str) -> Result<()> {
        self.run_located(text, Some(Path::new(name))).await
    }

    /// [`Self::run_text`] for the text of `file`, whose errors start with
    /// `FILE:LINE:` (a file run by `\i` inside it names itself).
    async fn run_located(&mut self, text: &str, file: Option<&Path>) -> Result<()> {
        for (line, item) in items_located(text) {
            let result = self.run_item(&item).await;
            match (result, file, &item) {
                (Ok(()), _, _) => {}
                (Err(e), _, Item::Command(c)) if c.starts_with("\\i") => return Err(e),
                (Err(e), Some(file), _) => {
                    return Err(e.context(format!("{}:{line}", file.display())));
                }
                (Err(e), None, _) => return Err(e),
            }
            if self.quit {
                break;
            }
        }
        Ok(())
    }

    pub async fn run_item(&mut self, item: &Item) -> Result<()> {
        match item {
            Item::Sql(sql) => self.run_statement(sql).await,
            Item::Command(line) => match Box::pin(command::run(self, line)).await? {
                Action::Continue => Ok(()),
                Action::Quit => {
                    self.quit = true;
                    Ok(())
                }
            },
        }
    }

    /// Runs one statement as a task of the compute runtime, so that this
    /// thread stays free to hear Ctrl-C however long the statement computes
    /// without yielding, and a panic in it is an error rather than the end
    /// of the session.
    async fn run_statement(&mut self, sql: &str) -> Result<()> {
        let started = Instant::now();
        let interrupts = interrupts(&mut self.interrupts)?;
        // A Ctrl-C pressed after the previous query ended is not for this one.
        while let Ok(Some(())) = tokio::time::timeout(Duration::ZERO, interrupts.recv()).await {}
        // What the statement changes in the tables `--db` keeps.
        let change = match &self.db {
            Some(_) => clvsql::statement::parse(&self.ctx, sql)
                .ok()
                .and_then(|statements| statements.first().and_then(crate::db::change)),
            None => None,
        };
        let ctx = self.ctx.clone();
        let statement = sql.to_string();
        let cancellation = Cancellation::new();
        let query = self.compute().spawn({
            let cancellation = cancellation.clone();
            async move { clvsql::statement::run_cancellable(&ctx, &statement, &cancellation).await }
        });
        // Every operator fails its next batch once cancelled, so the work
        // stops (dropping the task alone waits for it to yield).
        let (schema, batches) = self.interruptible(query, || cancellation.cancel()).await?;
        if let (Some(db), Some(change)) = (&self.db, change) {
            let (db, ctx, sql) = (Arc::clone(db), self.ctx.clone(), sql.to_string());
            let cancellation = Cancellation::new();
            let made = match &change {
                crate::db::Change::Table(name) => Some(name.clone()),
                _ => None,
            };
            let keeping = self.compute().spawn({
                let cancellation = cancellation.clone();
                async move { db.keep(&ctx, &change, &sql, &cancellation).await }
            });
            let kept = self
                .interruptible(keeping, || cancellation.cancel())
                .await
                .map_err(|e| match made {
                    Some(name) if e.to_string().contains(CANCELLED) => {
                        DataFusionError::Execution(format!(
                            "{CANCELLED}: table {name} stays in this session but is not kept in --db"
                        ))
                    }
                    _ => e,
                })?;
            if let Some(note) = kept {
                report!("Note: {note}");
            }
        }
        // Statements without a result (CREATE, SET, ...) print nothing.
        if !schema.fields().is_empty() {
            self.last = Some((schema.clone(), batches.clone()));
            let stop = Arc::new(AtomicBool::new(false));
            let printing = self.compute().spawn_blocking({
                let (mut print, stop) = (self.print.clone(), Arc::clone(&stop));
                print.style.stop = Some(Arc::clone(&stop));
                move || {
                    let mut out = PipeWatch {
                        inner: Stoppable {
                            inner: std::io::stdout().lock(),
                            stop,
                        },
                        closed: false,
                    };
                    match print.print(&mut out, &schema, &batches) {
                        Ok(()) => Ok(false),
                        // The reader went away (`clvsql ... | head`): stop
                        // quietly, as other command-line tools do.
                        Err(_) if out.closed => Ok(true),
                        Err(e) => Err(e),
                    }
                }
            });
            let closed = self
                .interruptible(printing, || stop.store(true, Ordering::Relaxed))
                .await
                // End the line a stopped result was cut in.
                .inspect_err(|_| {
                    let _ = std::io::Write::write_all(&mut std::io::stdout(), b"\n");
                })?;
            if closed {
                self.quit = true;
                return Ok(());
            }
        }
        if self.print.timing && !self.print.quiet {
            report!("Elapsed {:.3} seconds.", started.elapsed().as_secs_f64());
        }
        Ok(())
    }
}
