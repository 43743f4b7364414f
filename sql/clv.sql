-- Customer lifetime value with probabilistic models, from raw transactions to
-- CLV by segment and the valuable customers most at risk. Run from the
-- repository root:
--
--     clvsql -f sql/clv.sql
--
-- Units: everything below is in days (rfm_summary's 'day' unit), so the
-- model's alpha is in days, the horizon is 365 days and the discount rate is
-- per day, converted from an annual 10%.

-- 1. The transactions (data/README.md): 69,659 CDNOW orders, 23,570 customers.
CREATE EXTERNAL TABLE transactions
STORED AS PARQUET
LOCATION 'data/cdnow_master.parquet';

-- 2. One row per customer as of the end of the data. Orders of $0 (a few in
--    CDNOW) are left out: the spend model needs purchases worth something.
--    A table, not a view: the fits and the scores below read it, and a view
--    would be computed again for each.
CREATE TABLE customers AS
SELECT customer_id, s['frequency'] AS frequency, s['recency'] AS recency, s['t'] AS t,
       s['monetary_value'] AS monetary_value, s['total_spend'] AS total_spend
FROM (SELECT customer_id,
             rfm_summary(order_date, amount, DATE '1998-06-30', 'day') FILTER (WHERE amount > 0) AS s
      FROM transactions GROUP BY customer_id)
WHERE s IS NOT NULL;

-- 3. The models, fitted once: purchases (BG/NBD) and spend per purchase
--    (Gamma-Gamma, on repeat buyers). Each is one row holding a struct.
CREATE TABLE models AS
SELECT bgnbd_fit(frequency, recency, t) AS purchases,
       gamma_gamma_fit(frequency, monetary_value) AS spend
FROM customers;

SELECT round(purchases['r'], 4) AS r, round(purchases['alpha'], 2) AS alpha_days,
       round(purchases['a'], 4) AS a, round(purchases['b'], 4) AS b,
       purchases['converged'] AS bgnbd_converged,
       round(spend['p'], 3) AS p, round(spend['q'], 3) AS q, round(spend['v'], 3) AS v,
       spend['customers'] AS repeat_buyers
FROM models;

-- 4. Per customer: the chance they are still active, the purchases expected
--    in the next year, the one-year CLV at 10% a year, and their RFM segment.
CREATE TABLE scored AS
SELECT c.customer_id, c.total_spend,
       p_alive(frequency, recency, t, purchases)                        AS p_alive,
       churn_prob(frequency, recency, t, purchases)                     AS churn_prob,
       expected_purchases(frequency, recency, t, 365, purchases)        AS purchases_next_year,
       clv(frequency, recency, t, monetary_value, purchases, spend,
           horizon => 365, discount_rate => power(1.10, 1.0 / 365) - 1) AS clv_next_year,
       segment_of(rfm_score(t - recency, frequency, total_spend) OVER ()) AS segment
FROM customers c CROSS JOIN models;

-- 5. CLV by segment.
SELECT segment,
       count(*)                             AS customers,
       round(avg(p_alive), 3)               AS avg_p_alive,
       round(avg(purchases_next_year), 3)   AS avg_purchases_next_year,
       round(avg(clv_next_year), 2)         AS avg_clv,
       round(sum(clv_next_year), 0)         AS total_clv
FROM scored
GROUP BY segment
ORDER BY total_clv DESC;

-- 6. The most valuable customers at risk: churn probability above 50%,
--    ranked by what they would still be worth.
SELECT customer_id, segment, round(total_spend, 2) AS spent_so_far,
       round(churn_prob, 3) AS churn_prob, round(clv_next_year, 2) AS clv_next_year
FROM scored
WHERE churn_prob > 0.5
ORDER BY clv_next_year DESC
LIMIT 10;
