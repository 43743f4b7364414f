//! Stopping a running query at once, work included.
//!
//! Dropping a query's future (as Ctrl-C in the REPL does) stops its tokio
//! tasks only when they next yield, and an operator that finds its input
//! always ready never yields: an aggregate over a nested-loop join of
//! in-memory inputs kept both cores busy for seconds after Ctrl-C, until
//! the join had finished its probe batch. [`Cancellation::wrap`] puts a
//! check between every operator of a physical plan: once the query is
//! cancelled, the next batch any operator asks its input for is an error,
//! so every pipeline stops within one batch.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::analyze::AnalyzeExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::Stream;

/// The message of a cancelled query.
pub const CANCELLED: &str = "query cancelled";

/// A flag that cancels the queries whose plans [`Cancellation::wrap`]
/// checked it.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels: every wrapped operator fails its next batch.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `plan` with a check of this flag on the output of each operator.
    /// `EXPLAIN ANALYZE` plans stay as they are, so their text shows only
    /// DataFusion's operators.
    pub fn wrap(&self, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        if plan.downcast_ref::<AnalyzeExec>().is_some() {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            Ok(Transformed::yes(Arc::new(CancellableExec {
                inner: node,
                cancellation: self.clone(),
            }) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }
}

/// An operator whose output stops when its query is cancelled.
#[derive(Debug)]
struct CancellableExec {
    inner: Arc<dyn ExecutionPlan>,
    cancellation: Cancellation,
}

impl DisplayAs for CancellableExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.fmt_as(t, f)
    }
}

impl ExecutionPlan for CancellableExec {
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// Inspection by downcasting sees the wrapped operator.
    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.inner.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inner.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(CancellableExec {
            inner: Arc::clone(&self.inner).replace_children(children, options)?,
            cancellation: self.cancellation.clone(),
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
        self.inner.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if self.cancellation.is_cancelled() {
            return Err(DataFusionError::Execution(CANCELLED.to_string()));
        }
        Ok(Box::pin(CancellableStream {
            inner: self.inner.execute(partition, context)?,
            cancellation: self.cancellation.clone(),
        }))
    }
}

struct CancellableStream {
    inner: SendableRecordBatchStream,
    cancellation: Cancellation,
}

impl Stream for CancellableStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.cancellation.is_cancelled() {
            return Poll::Ready(Some(Err(DataFusionError::Execution(CANCELLED.to_string()))));
        }
        self.inner.as_mut().poll_next(cx)
    }
}

impl RecordBatchStream for CancellableStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn a_cancelled_plan_stops_and_says_so() {
        let ctx = SessionContext::new();
        let df = ctx
            .sql("SELECT count(*) AS n FROM generate_series(1, 100000) AS t(x) WHERE x % 3 = 0")
            .await
            .unwrap();
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await.unwrap();
        let cancellation = Cancellation::new();
        let wrapped = cancellation.wrap(Arc::clone(&plan)).unwrap();
        // Unchanged until cancelled: the same answer and the same plan text.
        let batches = collect(Arc::clone(&wrapped), Arc::clone(&task))
            .await
            .unwrap();
        assert_eq!(
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string(),
            "+-------+\n| n     |\n+-------+\n| 33333 |\n+-------+"
        );
        let shown = |plan: &Arc<dyn ExecutionPlan>| {
            datafusion::physical_plan::displayable(plan.as_ref())
                .indent(false)
                .to_string()
        };
        assert_eq!(shown(&wrapped), shown(&plan));
        cancellation.cancel();
        let error = collect(wrapped, task).await.unwrap_err();
        assert!(error.to_string().contains(CANCELLED), "{error}");
    }
}
