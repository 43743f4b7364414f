-- Subscriptions: retention by cohort, churn rates, projected survival and
-- the value of each subscriber, with the sBG model of contract renewals
-- (Fader & Hardie 2007). Run from the repository root:
--
--     clvsql -f sql/subscriptions.sql
--
-- The data (data/README.md): 6,000 subscribers of a monthly service, two
-- plans, signing up from January 2023 to June 2025, observed to the end of
-- 2025. Periods are months: a subscriber renews (or cancels) on the 1st.

CREATE EXTERNAL TABLE subscriptions
STORED AS CSV
LOCATION 'data/subscriptions.csv'
OPTIONS ('format.has_header' 'true');

-- 1. One row per subscriber: tenure in months and whether they are lost.
--    For a subscriber who cancelled, tenure is the months they paid; for one
--    still subscribed, the renewals so far (they are right-censored: the
--    model knows only that they stay longer).
CREATE TABLE subscribers AS
SELECT subscriber_id, plan, monthly_fee, started_on,
       cancelled_on IS NOT NULL AS churned,
       (date_part('year', coalesce(cancelled_on, DATE '2025-12-31')) * 12
          + date_part('month', coalesce(cancelled_on, DATE '2025-12-31')))
         - (date_part('year', started_on) * 12 + date_part('month', started_on)) AS tenure,
       (2025 * 12 + 12) - (date_part('year', started_on) * 12 + date_part('month', started_on)) AS observed
FROM subscriptions;

-- 2. Retention by sign-up quarter: the share still subscribed after 1, 3, 6
--    and 12 months (blank where the cohort is too young to tell).
--    A subscriber is still there after k months if they have not cancelled
--    or cancelled later.
SELECT plan, CAST(date_trunc('quarter', started_on) AS DATE) AS cohort, count(*) AS subscribers,
       round(avg(CASE WHEN observed >= 1 THEN CAST(NOT churned OR tenure > 1 AS DOUBLE) END), 3) AS month_1,
       round(avg(CASE WHEN observed >= 3 THEN CAST(NOT churned OR tenure > 3 AS DOUBLE) END), 3) AS month_3,
       round(avg(CASE WHEN observed >= 6 THEN CAST(NOT churned OR tenure > 6 AS DOUBLE) END), 3) AS month_6,
       round(avg(CASE WHEN observed >= 12 THEN CAST(NOT churned OR tenure > 12 AS DOUBLE) END), 3) AS month_12
FROM subscribers
GROUP BY plan, cohort
ORDER BY plan, cohort;

-- 3. The model per plan, fitted on every cohort at once (each subscriber
--    counts with the months observed).
CREATE TABLE models AS
SELECT plan, sbg_fit(tenure, churned) AS m FROM subscribers GROUP BY plan;

SELECT plan, round(m['alpha'], 3) AS alpha, round(m['se']['alpha'], 3) AS alpha_se,
       round(m['beta'], 3) AS beta, round(m['se']['beta'], 3) AS beta_se,
       m['customers'] AS subscribers, m['converged'] AS converged
FROM models ORDER BY plan;

-- 4. Churn rate by month of tenure: those most likely to cancel leave first,
--    so the churn rate falls; a single churn rate overstates it for loyal
--    subscribers and understates it for new ones.
SELECT plan, t AS renewal,
       round(1 - sbg_retention(t, m), 3) AS churn_rate,
       round(sbg_survival(t, m), 3) AS still_subscribed
FROM models CROSS JOIN (VALUES (1), (2), (3), (6), (12), (24), (36)) AS r(t)
ORDER BY plan, t;

-- 5. The model's survival curve against what happened to the oldest
--    cohorts (the 600 subscribers per plan of the first half of 2023, all
--    observed 30 months or more). Younger cohorts, most of the data, show
--    the first months only: the model carries what they show further out.
SELECT s.plan, t AS month,
       round(avg(CAST(NOT churned OR tenure > t AS DOUBLE)), 3) AS actual,
       round(max(sbg_survival(t, m)), 3) AS model
FROM subscribers s JOIN models USING (plan) CROSS JOIN (VALUES (1), (6), (12), (18), (24), (30)) AS r(t)
WHERE started_on < DATE '2023-07-01'
GROUP BY s.plan, t
ORDER BY s.plan, t;

-- 6. What each active subscriber is still worth: the discounted expected
--    residual payments (sbg_dert, at 10% a year as a monthly rate) times the
--    monthly fee. Long-standing subscribers are worth more: they are the
--    least likely to cancel.
CREATE TABLE valued AS
SELECT subscriber_id, plan, tenure,
       monthly_fee * sbg_dert(tenure, m, discount_rate => power(1.10, 1.0 / 12) - 1) AS residual_value
FROM subscribers JOIN models USING (plan)
WHERE NOT churned;

SELECT plan, count(*) AS active, round(avg(residual_value), 2) AS avg_residual_value,
       round(sum(residual_value), 0) AS total_residual_value
FROM valued GROUP BY plan ORDER BY plan;

SELECT plan, tenure, round(min(residual_value), 2) AS residual_value
FROM valued WHERE tenure IN (6, 12, 24, 30) GROUP BY plan, tenure ORDER BY plan, tenure;
