//! clvsql's physical planning: scoring's `customers CROSS JOIN models` keeps
//! the one-row models in memory and streams the customers in whole batches
//! (DataFusion alone emits one batch per customer when it cannot tell the
//! sizes apart); a summary per customer shuffles the transactions and
//! aggregates once.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::joins::CrossJoinExec;
use datafusion::physical_plan::windows::WindowAggExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, collect};
use datafusion::prelude::SessionContext;

const CUSTOMERS: &str = "CREATE VIEW customers AS
SELECT customer_id, s['frequency'] AS frequency
FROM (SELECT customer_id, rfm_summary(order_date, amount, DATE '1997-09-30') AS s
      FROM 'data/cdnow_sample.parquet' GROUP BY customer_id)";

/// The columns of the side the cross join of `plan` keeps in memory.
fn build_side(plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<String>> {
    let mut columns = vec![];
    plan.apply(|node| {
        if let Some(join) = node.downcast_ref::<CrossJoinExec>() {
            let schema = join.left().schema();
            columns = schema.fields().iter().map(|f| f.name().clone()).collect();
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(columns)
}

async fn scoring_plan(ctx: &SessionContext) -> Result<Arc<dyn ExecutionPlan>> {
    ctx.sql(CUSTOMERS).await?;
    ctx.sql("CREATE TABLE models AS SELECT 0.5 AS m").await?;
    ctx.sql("SELECT customer_id, frequency, m FROM customers CROSS JOIN models")
        .await?
        .create_physical_plan()
        .await
}

#[tokio::test]
async fn a_one_row_table_is_the_cross_join_build_side() -> Result<()> {
    let ctx = clvsql::session_context()?;
    let plan = scoring_plan(&ctx).await?;
    assert_eq!(build_side(&plan)?, ["m"]);
    let batches = collect(plan, ctx.task_ctx()).await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2357);
    // One batch per partition of the customers' summary (16, see
    // `a_summary_fans_out_unless_its_partitioning_is_relied_on`), not one
    // per customer.
    assert!(batches.len() <= 16, "{} batches", batches.len());
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["customer_id", "frequency", "m"]);
    Ok(())
}

#[tokio::test]
async fn without_join_reordering_the_customers_stay_the_build_side() -> Result<()> {
    let ctx = clvsql::session_context()?;
    ctx.sql("SET datafusion.optimizer.join_reordering = false")
        .await?;
    let plan = scoring_plan(&ctx).await?;
    assert_eq!(build_side(&plan)?, ["customer_id", "frequency"]);
    Ok(())
}

/// The input the whole-population window of `plan` keeps in memory: its
/// columns that hold data (a one-row side's are NULL placeholders).
fn window_input(plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<String>> {
    let mut columns = vec![];
    plan.apply(|node| {
        if let Some(window) = node.downcast_ref::<WindowAggExec>() {
            let schema = window.input().schema();
            columns = schema
                .fields()
                .iter()
                .filter(|f| f.data_type() != &DataType::Null)
                .map(|f| f.name().clone())
                .collect();
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(columns)
}

#[tokio::test]
async fn a_whole_population_window_keeps_the_customers_without_the_models() -> Result<()> {
    // The pipeline's shape: models as wide structs, the window on customers.
    let segmenting = "SELECT customer_id, segment_of(rfm_score(frequency, frequency, frequency) \
                      OVER ()) AS segment, model, frequency \
                      FROM customers CROSS JOIN models ORDER BY customer_id";
    let models = "CREATE TABLE models AS SELECT named_struct('a', 1.5, 'b', 'wide') AS model";
    let ctx = clvsql::session_context()?;
    ctx.sql(CUSTOMERS).await?;
    ctx.sql(models).await?;
    let df = ctx.sql(segmenting).await?;
    let plan = df.clone().create_physical_plan().await?;
    let kept = window_input(&plan)?;
    assert!(kept.contains(&"frequency".to_string()), "{kept:?}");
    assert!(!kept.contains(&"model".to_string()), "{kept:?}");
    let ours = pretty_format_batches(&df.collect().await?)?.to_string();
    // The same rows as DataFusion's own plan, which keeps the models in
    // the window.
    let mut state = SessionContext::new().state();
    clvsql::clvsql_udfs::register_all(&mut state)?;
    let plain = SessionContext::new_with_state(state).enable_url_table();
    plain.sql(CUSTOMERS).await?;
    plain.sql(models).await?;
    let df = plain.sql(segmenting).await?;
    let theirs_plan = df.clone().create_physical_plan().await?;
    assert!(window_input(&theirs_plan)?.contains(&"model".to_string()));
    let theirs = pretty_format_batches(&df.collect().await?)?.to_string();
    assert_eq!(ours.lines().count(), 2357 + 4);
    assert_eq!(ours, theirs);
    Ok(())
}

/// The aggregations in `plan` that compute `function`: their modes and
/// the number of partitions of their input.
fn aggregations(
    plan: &Arc<dyn ExecutionPlan>,
    function: &str,
) -> Result<Vec<(AggregateMode, usize)>> {
    let mut found = vec![];
    plan.apply(|node| {
        if let Some(aggregate) = node.downcast_ref::<AggregateExec>()
            && aggregate
                .aggr_expr()
                .iter()
                .any(|a| a.fun().name() == function)
        {
            let partitions = aggregate.input().output_partitioning().partition_count();
            found.push((*aggregate.mode(), partitions));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// The modes of the aggregations in `plan` that compute `function`.
fn aggregate_modes(plan: &Arc<dyn ExecutionPlan>, function: &str) -> Result<Vec<AggregateMode>> {
    Ok(aggregations(plan, function)?
        .into_iter()
        .map(|(mode, _)| mode)
        .collect())
}

/// The partition counts of the inputs of those aggregations.
fn summary_partitions(plan: &Arc<dyn ExecutionPlan>, function: &str) -> Result<Vec<usize>> {
    Ok(aggregations(plan, function)?
        .into_iter()
        .map(|(_, n)| n)
        .collect())
}

#[tokio::test]
async fn a_summary_per_customer_is_aggregated_in_one_step() -> Result<()> {
    let summary = "SELECT customer_id, rfm_summary(order_date, amount, DATE '1997-09-30') AS s, \
                   count(*) AS orders \
                   FROM 'data/cdnow_sample.parquet' GROUP BY customer_id ORDER BY customer_id";
    let spend = "SELECT customer_id, sum(amount) FROM 'data/cdnow_sample.parquet' \
                 GROUP BY customer_id";
    let partitions = "SET datafusion.execution.target_partitions = 4";
    let ctx = clvsql::session_context()?;
    ctx.sql(partitions).await?;
    let df = ctx.sql(summary).await?;
    let plan = df.clone().create_physical_plan().await?;
    // The transactions are shuffled by customer, not partial states.
    assert_eq!(
        aggregate_modes(&plan, "rfm_summary")?,
        [AggregateMode::SinglePartitioned]
    );
    let ours = pretty_format_batches(&df.collect().await?)?.to_string();
    // Other aggregations keep DataFusion's two steps.
    let plan = ctx.sql(spend).await?.create_physical_plan().await?;
    assert_eq!(
        aggregate_modes(&plan, "sum")?,
        [AggregateMode::FinalPartitioned, AggregateMode::Partial]
    );
    // The same rows as DataFusion's own two-step plan.
    let mut state = SessionContext::new().state();
    clvsql::clvsql_udfs::register_all(&mut state)?;
    let plain = SessionContext::new_with_state(state).enable_url_table();
    plain.sql(partitions).await?;
    let df = plain.sql(summary).await?;
    let theirs_plan = df.clone().create_physical_plan().await?;
    assert_eq!(
        aggregate_modes(&theirs_plan, "rfm_summary")?,
        [AggregateMode::FinalPartitioned, AggregateMode::Partial]
    );
    let theirs = pretty_format_batches(&df.collect().await?)?.to_string();
    assert_eq!(ours.lines().count(), 2357 + 4);
    assert_eq!(ours, theirs);
    Ok(())
}

#[tokio::test]
async fn a_summary_fans_out_unless_its_partitioning_is_relied_on() -> Result<()> {
    let summary = "SELECT customer_id, rfm_summary(order_date, amount, DATE '1997-09-30') AS s \
                   FROM 'data/cdnow_sample.parquet' GROUP BY customer_id";
    let ctx = clvsql::session_context()?;
    ctx.sql("SET datafusion.execution.target_partitions = 4")
        .await?;
    // Nothing above relies on its partitioning: 16 partitions.
    let plan = ctx.sql(summary).await?.create_physical_plan().await?;
    assert_eq!(summary_partitions(&plan, "rfm_summary")?, [16]);
    // A join partitioned on the customer relies on it: the planned 4, the
    // same as the other side's.
    ctx.sql("SET datafusion.optimizer.hash_join_single_partition_threshold = 0")
        .await?;
    ctx.sql("SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 0")
        .await?;
    let joined = format!(
        "SELECT count(*), sum(s['frequency']), round(sum(spend), 2) FROM ({summary}) a JOIN \
         (SELECT customer_id, sum(amount) AS spend FROM 'data/cdnow_sample.parquet' \
          GROUP BY customer_id) b USING (customer_id)"
    );
    let df = ctx.sql(&joined).await?;
    let plan = df.clone().create_physical_plan().await?;
    assert_eq!(summary_partitions(&plan, "rfm_summary")?, [4]);
    let ours = pretty_format_batches(&df.collect().await?)?.to_string();
    let plain = SessionContext::new().enable_url_table();
    let mut state = plain.state();
    clvsql::clvsql_udfs::register_all(&mut state)?;
    let plain = SessionContext::new_with_state(state).enable_url_table();
    let theirs = plain.sql(&joined).await?.collect().await?;
    assert_eq!(ours, pretty_format_batches(&theirs)?.to_string());
    Ok(())
}
