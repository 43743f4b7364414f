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

    // The models on the 250k customers' day-grain summaries of the same log.
    let mut group = c.benchmark_group("250k customer summaries");
    group.sample_size(10);
    let fit = |name: &str, args: &str| {
        format!(
            "SELECT {name}({args})['converged'] FROM summary WHERE (s['frequency'] = 0 OR s['monetary_value'] > 0)"
        )
    };
    let history = "s['frequency'], s['recency'], s['t']";
    for (name, args) in [
        ("bgnbd_fit", history),
        ("gamma_gamma_fit", "s['frequency'], s['monetary_value']"),
    ] {
        let sql = fit(name, args);
        group.bench_function(name, |b| b.iter(|| run(&rt, &ctx, &sql)));
    }
    // Pareto/NBD's likelihood costs two 2F1 per history: a tenth of them.
    let sql = format!(
        "{} AND customer_id % 10 = 0",
        fit("pareto_nbd_fit", history)
    );
    group.bench_function("pareto_nbd_fit, 25k customers", |b| {
        b.iter(|| run(&rt, &ctx, &sql))
    });
    const BGNBD: &str = "named_struct('r', 0.25, 'alpha', 20.0, 'a', 0.8, 'b', 2.5)";
    const PARETO: &str = "named_struct('r', 0.55, 'alpha', 10.6, 's', 0.61, 'beta', 11.7)";
    const SPEND: &str = "named_struct('p', 6.0, 'q', 4.0, 'v', 15.0)";
    for (name, call) in [
        ("p_alive BG/NBD", format!("p_alive({history}, {BGNBD})")),
        (
            "p_alive Pareto/NBD",
            format!("p_alive({history}, {PARETO})"),
        ),
        (
            "expected_purchases BG/NBD 365 days",
            format!("expected_purchases({history}, 365, {BGNBD})"),
        ),
        (
            "expected_spend",
            format!("expected_spend(s['frequency'], s['monetary_value'], {SPEND})"),
        ),
        (
            "clv BG/NBD 365 days continuous",
            format!("clv({history}, s['monetary_value'], {BGNBD}, {SPEND}, 365, 0.0003)"),
        ),
    ] {
        let sql = format!(
            "SELECT sum({call}) FROM summary WHERE s['frequency'] = 0 OR s['monetary_value'] > 0"
        );
        group.bench_function(name, |b| b.iter(|| run(&rt, &ctx, &sql)));
    }
    group.finish();
}

criterion_group!(clvsql_benches, benches);
criterion_main!(clvsql_benches);
