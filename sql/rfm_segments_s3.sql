-- The RFM segmentation of sql/rfm_segments.sql, over transactions in S3.
--
-- Expects the standard AWS environment, for example:
--
--     export AWS_ACCESS_KEY_ID=...  AWS_SECRET_ACCESS_KEY=...  AWS_REGION=eu-west-1
--     # an S3-compatible server instead of AWS (MinIO, moto, ...):
--     export AWS_ENDPOINT_URL=http://127.0.0.1:9000  AWS_ALLOW_HTTP=true
--     # a public bucket, no credentials:
--     export AWS_SKIP_SIGNATURE=true
--
-- and the CDNOW log (or your own) under s3://clvsql-example/cdnow/, e.g. put there with
--
--     clvsql -c "COPY (SELECT * FROM 'data/cdnow_master.parquet') TO 's3://clvsql-example/cdnow/cdnow_master.parquet'"
--
-- Run: clvsql -f sql/rfm_segments_s3.sql
-- Credentials can also be given per table instead of the environment:
--     ... LOCATION 's3://bucket/prefix/' OPTIONS ('aws.access_key_id' '...', 'aws.secret_access_key' '...',
--                                              'aws.region' '...', 'aws.endpoint' '...')

-- Every Parquet object under the prefix is part of the table; with a
-- year=/month= layout add PARTITIONED BY (year, month) and filter on them to
-- read only the matching objects.
CREATE EXTERNAL TABLE transactions
STORED AS PARQUET
LOCATION 's3://clvsql-example/cdnow/';

CREATE VIEW customers AS
SELECT customer_id,
       rfm_summary(order_date, amount, as_of => DATE '1998-06-30', unit => 'day') AS s
FROM transactions
GROUP BY customer_id;

CREATE VIEW segmented AS
SELECT customer_id,
       s['total_spend'] AS total_spend,
       segment_of(rfm_score(s['t'] - s['recency'], s['frequency'], s['total_spend']) OVER ()) AS segment
FROM customers;

SELECT segment,
       count(*)                   AS customers,
       round(avg(total_spend), 2) AS avg_spend
FROM segmented
GROUP BY segment
ORDER BY avg_spend DESC;

-- Results can go back to the lake:
-- COPY (SELECT * FROM segmented) TO 's3://clvsql-example/segments/' STORED AS PARQUET;
