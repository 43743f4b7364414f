//! Memory DataFusion's operators hold without telling the memory pool.
//!
//! DataFusion 55's `WindowAggExec` (a window whose partition must be
//! complete before its first row is scored, as in `rfm_score(...) OVER ()`)
//! keeps every input batch until its output is consumed, and concatenates
//! them into one more copy to compute the window, without a reservation: a
//! `-m` limit could not see the largest memory of a segmentation (2.7 GB
//! of a 5M-customer pipeline run with `-m 500M`). [`account_windows`] makes
//! each such window reserve what it keeps, twice each input batch's size,
//! so that under a limit it either fits or fails at once with "Resources
//! exhausted" naming the operator, before it has used the memory.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::analyze::AnalyzeExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::windows::WindowAggExec;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::{Stream, StreamExt};

/// `plan` with every `WindowAggExec` reserving the memory of what it keeps.
/// `EXPLAIN ANALYZE` plans stay as they are.
pub fn account_windows(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if plan.downcast_ref::<AnalyzeExec>().is_some() {
        return Ok(plan);
    }
    plan.transform_up(|node| {
        if node.downcast_ref::<WindowAggExec>().is_none() {
            return Ok(Transformed::no(node));
        }
        Ok(Transformed::yes(
            Arc::new(AccountedWindowExec { window: node }) as Arc<dyn ExecutionPlan>,
        ))
    })
    .data()
}

type SharedReservation = Arc<Mutex<MemoryReservation>>;

/// A `WindowAggExec` whose input batches are reserved on their way in and
/// released when its output stream ends.
#[derive(Debug)]
struct AccountedWindowExec {
    window: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for AccountedWindowExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.window.fmt_as(t, f)
    }
}

impl ExecutionPlan for AccountedWindowExec {
    fn name(&self) -> &str {
        self.window.name()
    }

    /// Inspection by downcasting sees the window.
    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.window.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.window.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.window.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.window.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(AccountedWindowExec {
            window: Arc::clone(&self.window).replace_children(children, options)?,
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.window.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let reservation = Arc::new(Mutex::new(
            MemoryConsumer::new(format!("WindowAggExec[{partition}]"))
                .register(context.memory_pool()),
        ));
        let children = self
            .window
            .children()
            .into_iter()
            .map(|input| {
                Arc::new(ReservingExec {
                    input: Arc::clone(input),
                    reservation: Arc::clone(&reservation),
                }) as Arc<dyn ExecutionPlan>
            })
            .collect();
        let window = Arc::clone(&self.window).replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep),
        )?;
        let batch_size = context.session_config().batch_size();
        Ok(Box::pin(HoldingStream {
            inner: window.execute(partition, context)?,
            batch_size,
            pending: None,
            _reservation: reservation,
        }))
    }
}

/// The window's output in batches of the session's batch size, holding the
/// reservation until it is dropped (the window frees its batches only then).
///
/// The window emits a partition as one batch; a 5M-customer batch joined to
/// one-row models repeated the models' structs 5M times at once (1.5 GB).
struct HoldingStream {
    inner: SendableRecordBatchStream,
    batch_size: usize,
    /// The rest of the window's last batch, from the given row.
    pending: Option<(RecordBatch, usize)>,
    _reservation: SharedReservation,
}

impl Stream for HoldingStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (batch, from) = match self.pending.take() {
            Some(pending) => pending,
            None => match ready!(self.inner.poll_next_unpin(cx)) {
                Some(Ok(batch)) => (batch, 0),
                other => return Poll::Ready(other),
            },
        };
        let length = self.batch_size.max(1).min(batch.num_rows() - from);
        // A copy, not a slice: operators downstream count a batch's memory
        // by its buffers, and a slice's buffers are the whole window's (a
        // repartition after the window counted 687 MB for a few slices).
        let rows = UInt64Array::from_iter_values((from..from + length).map(|i| i as u64));
        let part = take_record_batch(&batch, &rows);
        if from + length < batch.num_rows() {
            self.pending = Some((batch, from + length));
        }
        Poll::Ready(Some(part.map_err(Into::into)))
    }
}

impl RecordBatchStream for HoldingStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

/// The window's input, reserving each batch's rows twice (the batch and its
/// part of the concatenated copy) before handing it on.
#[derive(Debug)]
struct ReservingExec {
    input: Arc<dyn ExecutionPlan>,
    reservation: SharedReservation,
}

impl DisplayAs for ReservingExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.input.fmt_as(t, f)
    }
}

impl ExecutionPlan for ReservingExec {
    fn name(&self) -> &str {
        self.input.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(ReservingExec {
            input: children.swap_remove(0),
            reservation: Arc::clone(&self.reservation),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let reservation = Arc::clone(&self.reservation);
        let reserved = input.map(move |batch| {
            let batch = batch?;
            let reservation = reservation.lock().unwrap_or_else(|e| e.into_inner());
            reservation.try_grow(2 * rows_size(&batch)?)?;
            Ok(batch)
        });
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, reserved),
        ))
    }
}

/// The memory of `batch`'s rows. Not its buffers' (`get_array_memory_size`):
/// an aggregation's output in a table is slices of one batch, and counting
/// the whole of it for each slice made a 5M-customer window "need" 8 GB.
fn rows_size(batch: &RecordBatch) -> Result<usize> {
    let mut size = 0;
    for column in batch.columns() {
        size += column.to_data().get_slice_memory_size()?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_plan::collect;

    /// A whole-table window over 200,000 rows of two BIGINT columns keeps
    /// 3.2 MB, reserved twice.
    const WINDOW: &str = "SELECT sum(a) OVER () AS s, b FROM \
        (SELECT value AS a, value * 2 AS b FROM generate_series(1, 200000))";

    async fn run(limit: usize) -> Result<Vec<RecordBatch>> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(limit, 1.0)
            .build_arc()?;
        let ctx = crate::session_context_with(crate::session_config(), runtime)?;
        let df = ctx.sql(WINDOW).await?;
        let task = Arc::new(df.task_ctx());
        let plan = account_windows(df.create_physical_plan().await?)?;
        collect(plan, task).await
    }

    #[tokio::test]
    async fn a_window_reserves_what_it_keeps() {
        let error = run(4 << 20).await.unwrap_err().to_string();
        assert!(error.contains("Resources exhausted"), "{error}");
        assert!(error.contains("WindowAggExec[0]"), "{error}");
        let batches = run(64 << 20).await.unwrap();
        let rows: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
        assert_eq!(rows.iter().sum::<usize>(), 200_000);
        // In batches of the session's size, not as one.
        assert!(rows.iter().all(|&n| n <= 8192), "{rows:?}");
    }

    #[test]
    fn a_slice_counts_its_rows_only() {
        let column: datafusion::arrow::array::ArrayRef = Arc::new(
            datafusion::arrow::array::Int64Array::from_iter_values(0..1_000_000),
        );
        let batch = RecordBatch::try_from_iter([("a", column)]).unwrap();
        assert_eq!(rows_size(&batch.slice(10, 1000)).unwrap(), 8000);
        assert_eq!(rows_size(&batch).unwrap(), 8_000_000);
    }
}
