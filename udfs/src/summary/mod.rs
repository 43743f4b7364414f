//! Data preparation: per-customer summaries from raw transactions.

pub mod rfm_summary;
