-- Which purchase model to trust: fit BG/NBD, MBG/NBD and Pareto/NBD on a
-- calibration period, predict the holdout period that follows, and compare
-- with what customers actually did. Run from the repository root:
--
--     clvsql -f sql/validate.sql
--
-- CDNOW (data/README.md): calibration from the first order to 1997-09-30,
-- holdout 1997-10-01 to 1998-06-30 (39 weeks). Units: weeks (rfm_holdout's
-- 'day' periods / 7, as the BG/NBD paper counts them), so the horizon is the
-- holdout's length in weeks.

CREATE EXTERNAL TABLE transactions
STORED AS PARQUET
LOCATION 'data/cdnow_master.parquet';

-- 1. Per customer, one pass: the calibration summary and the holdout outcome.
CREATE TABLE split AS
SELECT customer_id,
       h['frequency_cal'] AS frequency, h['recency_cal'] / 7 AS recency, h['t_cal'] / 7 AS t,
       h['frequency_holdout'] AS holdout_purchases, h['duration_holdout'] / 7 AS holdout_weeks
FROM (SELECT customer_id, rfm_holdout(order_date, amount, DATE '1997-09-30', DATE '1998-06-30') AS h
      FROM transactions GROUP BY customer_id)
WHERE h IS NOT NULL;

-- 2. The three models, fitted on the calibration period only.
CREATE TABLE fits AS
SELECT bgnbd_fit(frequency, recency, t) AS bg,
       mbgnbd_fit(frequency, recency, t) AS mbg,
       pareto_nbd_fit(frequency, recency, t) AS pnbd
FROM split;

-- 3. How well each fits the calibration data: log-likelihood, AIC and BIC
--    (lower is better), and whether the fit converged.
SELECT model, round(ll, 1) AS log_likelihood, round(aic, 1) AS aic, round(bic, 1) AS bic, converged
FROM (SELECT 'BG/NBD' AS model, bg['log_likelihood'] AS ll, bg['aic'] AS aic, bg['bic'] AS bic, bg['converged'] AS converged FROM fits
      UNION ALL
      SELECT 'MBG/NBD', mbg['log_likelihood'], mbg['aic'], mbg['bic'], mbg['converged'] FROM fits
      UNION ALL
      SELECT 'Pareto/NBD', pnbd['log_likelihood'], pnbd['aic'], pnbd['bic'], pnbd['converged'] FROM fits)
ORDER BY aic;

-- 4. Predicted and actual holdout purchases per customer.
CREATE TABLE predicted AS
SELECT frequency, holdout_purchases,
       expected_purchases(frequency, recency, t, holdout_weeks, bg) AS bg,
       expected_purchases(frequency, recency, t, holdout_weeks, mbg) AS mbg,
       expected_purchases(frequency, recency, t, holdout_weeks, pnbd) AS pnbd
FROM split CROSS JOIN fits;

-- 5. Mean holdout purchases by calibration frequency (0 ... 7+): actual
--    against each model's prediction (the BG/NBD paper's Figure 4).
SELECT CASE WHEN frequency >= 7 THEN '7+' ELSE CAST(frequency AS VARCHAR) END AS repeat_purchases_cal,
       count(*) AS customers,
       round(avg(holdout_purchases), 3) AS actual,
       round(avg(bg), 3) AS bg_nbd, round(avg(mbg), 3) AS mbg_nbd, round(avg(pnbd), 3) AS pareto_nbd
FROM predicted
GROUP BY 1
ORDER BY min(frequency);

-- 6. Over all customers: total purchases and the mean absolute error per
--    customer (lower is better).
SELECT sum(holdout_purchases) AS actual,
       round(sum(bg), 0) AS bg_nbd, round(sum(mbg), 0) AS mbg_nbd, round(sum(pnbd), 0) AS pareto_nbd,
       round(avg(abs(bg - holdout_purchases)), 4) AS bg_nbd_mae,
       round(avg(abs(mbg - holdout_purchases)), 4) AS mbg_nbd_mae,
       round(avg(abs(pnbd - holdout_purchases)), 4) AS pareto_nbd_mae
FROM predicted;
