//! Embedding clvsql's functions in a DataFusion program, with SQL and with
//! the DataFrame API: `cargo run --example embed` from the repository root.

use datafusion::error::Result;
use datafusion::functions::core::expr_ext::FieldAccessor;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{ExprFunctionExt, col, lit};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

#[tokio::main]
async fn main() -> Result<()> {
    // Any SessionContext: register the functions with one call ...
    let mut ctx = SessionContext::new();
    clvsql::clvsql_udfs::register_all(&mut ctx)?;
    // ... or take clvsql's ready one: clvsql::session_context()?

    ctx.register_parquet(
        "tx",
        "data/cdnow_master.parquet",
        ParquetReadOptions::default(),
    )
    .await?;

    // SQL.
    ctx.sql(
        "SELECT segment, count(*) AS customers
         FROM (SELECT segment_of(rfm_score(s['t'] - s['recency'], s['frequency'], s['total_spend']) OVER ()) AS segment
               FROM (SELECT rfm_summary(order_date, amount, DATE '1998-06-30') AS s FROM tx GROUP BY customer_id))
         GROUP BY segment ORDER BY customers DESC LIMIT 3",
    )
    .await?
    .show()
    .await?;

    // The DataFrame API, with the expression builders of clvsql_udfs::expr_fn.
    use clvsql::clvsql_udfs::expr_fn::{rfm_score, rfm_summary, segment_of};
    let summary = ctx.table("tx").await?.aggregate(
        vec![col("customer_id")],
        vec![rfm_summary(col("order_date"), col("amount"), lit("1998-06-30"), "week").alias("s")],
    )?;
    let scores = rfm_score(
        col("s").field("t") - col("s").field("recency"),
        col("s").field("frequency"),
        col("s").field("total_spend"),
        5,
    )
    .partition_by(vec![])
    .build()?;
    summary
        .window(vec![scores.alias("score")])?
        .select(vec![segment_of(col("score"), "rf").alias("segment")])?
        .aggregate(vec![col("segment")], vec![count(lit(1)).alias("customers")])?
        .sort(vec![col("customers").sort(false, true)])?
        .limit(0, Some(3))?
        .show()
        .await?;
    Ok(())
}
