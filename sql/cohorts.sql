-- Cohorts and retention: customers grouped by the month of their first
-- purchase, and how many of each cohort buy again, month by month, and what
-- they spend. The first measure of whether segmentation and retention
-- campaigns work. Run from the repository root:
--
--     clvsql -f sql/cohorts.sql
--
-- To adapt it: point the table at your own data and rename the three
-- columns; date_trunc('week', ...) and a week count make weekly cohorts.

CREATE EXTERNAL TABLE transactions
STORED AS PARQUET
LOCATION 'data/cdnow_master.parquet';

-- 1. Each order with its customer's cohort (the month of the first
--    purchase) and the calendar months since that first purchase (0 = the
--    month it was in).
CREATE VIEW orders AS
SELECT customer_id,
       amount,
       CAST(date_trunc('month', first_order) AS DATE) AS cohort,
       CAST((date_part('year', order_date) - date_part('year', first_order)) * 12
            + date_part('month', order_date) - date_part('month', first_order) AS INT) AS month
FROM (SELECT *, min(order_date) OVER (PARTITION BY customer_id) AS first_order
      FROM transactions);

-- 2. Per cohort and month: customers who bought, the share of the cohort
--    they are (retention) and the revenue, also per customer of the cohort.
CREATE VIEW retention AS
SELECT cohort,
       month,
       count(DISTINCT customer_id) AS active,
       max(size) AS customers,
       count(DISTINCT customer_id) * 1.0 / max(size) AS retention,
       sum(amount) AS revenue,
       sum(amount) / max(size) AS revenue_per_customer
FROM (SELECT *, count(DISTINCT customer_id) OVER (PARTITION BY cohort) AS size FROM orders)
GROUP BY cohort, month;

-- 3. The cohort table: one row per cohort, the percentage of it buying in
--    months 1, 2, 3, 6, 12 after the first purchase's month.
SELECT cohort,
       max(customers)                                            AS customers,
       round(100 * sum(retention) FILTER (WHERE month = 1), 1)   AS m1_pct,
       round(100 * sum(retention) FILTER (WHERE month = 2), 1)   AS m2_pct,
       round(100 * sum(retention) FILTER (WHERE month = 3), 1)   AS m3_pct,
       round(100 * sum(retention) FILTER (WHERE month = 6), 1)   AS m6_pct,
       round(100 * sum(retention) FILTER (WHERE month = 12), 1)  AS m12_pct
FROM retention
GROUP BY cohort
ORDER BY cohort;

-- 4. The retention curve of all cohorts together, drawn with bar(): the
--    share of customers buying in each month after the first purchase's.
SELECT month,
       sum(active)                                        AS active,
       round(100.0 * sum(active) / sum(customers), 1)     AS pct,
       bar(100.0 * sum(active) / sum(customers), 0, 15, 30) AS "0-15 %"
FROM retention
WHERE month >= 1
GROUP BY month
ORDER BY month;

-- 5. Revenue per cohort: per customer of the cohort, in the first month and
--    cumulated to 3, 6, 12 months and to the end of the log.
SELECT cohort,
       round(sum(revenue_per_customer) FILTER (WHERE month = 0), 2)   AS first_month,
       round(sum(revenue_per_customer) FILTER (WHERE month <= 3), 2)  AS to_m3,
       round(sum(revenue_per_customer) FILTER (WHERE month <= 6), 2)  AS to_m6,
       round(sum(revenue_per_customer) FILTER (WHERE month <= 12), 2) AS to_m12,
       round(sum(revenue_per_customer), 2)                            AS to_date
FROM retention
GROUP BY cohort
ORDER BY cohort;

-- 6. The same as a chart: each cohort's revenue per customer to date.
SELECT cohort, round(sum(revenue_per_customer), 2) AS revenue_per_customer
FROM retention
GROUP BY cohort
ORDER BY cohort;
\chart
