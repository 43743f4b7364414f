//! Criterion benches of clvsql's functions through SQL, over a million
//! generated transactions: `cargo bench --bench functions`.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::arrow::array::{Date32Array, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use tokio::runtime::Runtime;

const TRANSACTIONS: usize = 1_000_000;
const CUSTOMERS: u64 = 250_000;
const BATCH: usize = 8192;

/// A deterministic transaction log: customers, days in 2023-2024, amounts.
fn transactions() -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Int64, false),
        Field::new("order_date", DataType::Date32, false),
        Field::new("amount", DataType::Float64, false),
    ]));
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*: fast and reproducible.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let first_day = 19_358; // 2023-01-01
    (0..TRANSACTIONS.div_ceil(BATCH))
        .map(|b| {
            let rows = BATCH.min(TRANSACTIONS - b * BATCH);
            let mut ids = Vec::with_capacity(rows);
            let mut days = Vec::with_capacity(rows);
            let mut amounts = Vec::with_capacity(rows);
            for _ in 0..rows {
                ids.push((next() % CUSTOMERS) as i64);
                days.push(first_day + (next() % 730) as i32);
                amounts.push((next() % 20_000) as f64 / 100.0);
            }
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from(ids)),
                    Arc::new(Date32Array::from(days)),
                    Arc::new(Float64Array::from(amounts)),
                ],
            )
            .expect("valid batch")
        })
        .collect()
}

fn context(rt: &Runtime) -> SessionContext {
    let ctx = clvsql::session_context().expect("context");
    let batches = transactions();
    let table = MemTable::try_new(batches[0].schema(), vec![batches]).expect("table");
    ctx.register_table("tx", Arc::new(table)).expect("register");
    rt.block_on(async {
        ctx.sql(
            "CREATE TABLE summary AS SELECT customer_id, \
             rfm_summary(order_date, amount, DATE '2024-12-31') AS s FROM tx GROUP BY customer_id",
        )
        .await?
        .collect()
        .await
    })
    .expect("summary table");
    ctx
}

fn run(rt: &Runtime, ctx: &SessionContext, sql: &str) -> usize {
    rt.block_on(async { ctx.sql(sql).await?.collect().await })
        .expect("query runs")
        .iter()
        .map(|b| b.num_rows())
        .sum()
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().expect("tokio runtime");
    let ctx = context(&rt);
    let mut group = c.benchmark_group("1M transactions");
    group.sample_size(10);
    group.bench_function("rfm_summary day GROUP BY customer", |b| {
        b.iter(|| {
            run(
                &rt,
                &ctx,
                "SELECT customer_id, rfm_summary(order_date, amount, DATE '2024-12-31') FROM tx GROUP BY customer_id",
            )
        })
    });
    group.bench_function("rfm_summary week GROUP BY customer", |b| {
        b.iter(|| {
            run(
                &rt,
                &ctx,
                "SELECT customer_id, rfm_summary(order_date, amount, DATE '2024-12-31', 'week') FROM tx GROUP BY customer_id",
            )
        })
    });
    group.bench_function("rfm_score over 1M rows", |b| {
        b.iter(|| {
            run(
                &rt,
                &ctx,
                "SELECT sum(s['r'] + s['f'] + s['m']) FROM (SELECT rfm_score(order_date - DATE '2023-01-01', customer_id % 17, amount) OVER () AS s FROM tx)",
            )
        })
    });
    group.bench_function("rfm_score + segment_of over 250k customers", |b| {
        b.iter(|| {
            run(
                &rt,
                &ctx,
                "SELECT count(DISTINCT segment) FROM (SELECT segment_of(rfm_score(s['t'] - s['recency'], s['frequency'], s['monetary_value']) OVER ()) AS segment FROM summary)",
            )
        })
    });
    group.finish();
}

criterion_group!(clvsql_benches, benches);
criterion_main!(clvsql_benches);
