//! clvsql's physical planning: scoring's `customers CROSS JOIN models` keeps
//! the one-row models in memory and streams the customers in whole batches
//! (DataFusion alone emits one batch per customer when it cannot tell the
//! sizes apart).

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::physical_plan::joins::CrossJoinExec;
use datafusion::physical_plan::{ExecutionPlan, collect};
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
    assert!(batches.len() <= 4, "{} batches", batches.len());
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
