-- RFM segmentation of a transaction log, from raw transactions to a table of
-- segments. Run from the repository root:
--
--     clvsql -f sql/rfm_segments.sql
--
-- To adapt it: point the table at your own data (Parquet, CSV or NDJSON, a
-- file or a folder), rename the three columns, and set the as-of date.

-- 1. The transactions: one row per order with a customer, a date and an amount.
--    Here the CDNOW log (data/README.md): 69,659 orders of 23,570 customers.
CREATE EXTERNAL TABLE transactions
STORED AS PARQUET
LOCATION 'data/cdnow_master.parquet';

-- 2. One row per customer. rfm_summary groups orders into days ('week' and
--    'month' work too) and ignores orders after the as-of date:
--    frequency = repeat purchase days, recency = days from the first to the
--    last purchase, t = days from the first purchase to the as-of date.
CREATE VIEW customers AS
SELECT customer_id,
       rfm_summary(order_date, amount, as_of => DATE '1998-06-30', unit => 'day') AS s
FROM transactions
GROUP BY customer_id;

-- 3. Quintile scores 1-5 over all customers. Recency for scoring is the time
--    since the last purchase (t - recency): the most recent score 5. Equal
--    values always get equal scores. Use OVER (PARTITION BY region) to score
--    within groups, or a fourth argument for another number of bins.
CREATE VIEW scored AS
SELECT customer_id,
       s['t'] - s['recency']  AS days_since_last_purchase,
       s['frequency'] + 1     AS purchase_days,
       s['total_spend']       AS total_spend,
       rfm_score(s['t'] - s['recency'], s['frequency'], s['total_spend']) OVER () AS score
FROM customers;

-- 4. Named segments from the R and F scores with the default 10-segment map.
--    segment_of(score, 'rfm') uses M as well; a custom scheme is a string of
--    rules such as 'VIP: r >= 4, f >= 4, m 5; Others: *'.
CREATE VIEW segmented AS
SELECT *, segment_of(score) AS segment
FROM scored;

-- 5. The segments: size (drawn with bar(), the largest segment full
--    width), share, spend and how long since they last bought. Spend is
--    summed in cents (DECIMAL), exactly: a sum of doubles depends on the
--    order its parts arrive in, and one rounded to whole dollars could
--    differ in its last digit between runs.
SELECT segment,
       count(*)                                              AS customers,
       bar(count(*), 0, max(count(*)) OVER (), 20)           AS size,
       round(100.0 * count(*) / sum(count(*)) OVER (), 1)    AS pct,
       round(avg(CAST(total_spend AS DECIMAL(18, 2))), 2)   AS avg_spend,
       CAST(round(sum(CAST(total_spend AS DECIMAL(18, 2)))) AS BIGINT) AS total_spend,
       round(avg(purchase_days), 1)                          AS avg_purchase_days,
       round(avg(days_since_last_purchase), 0)               AS avg_days_since_last
FROM segmented
GROUP BY segment
ORDER BY avg_spend DESC;

-- 6. What each segment means and the action usually taken for it, from
--    segment_info, which lists a scheme's segments and rules.
SELECT info['segment'] AS segment, count(customer_id) AS customers, info['action'] AS action
FROM (SELECT unnest(segment_info('rf')) AS info) AS segments
LEFT JOIN segmented ON segmented.segment = info['segment']
GROUP BY info['segment'], info['action']
ORDER BY customers DESC;
