//! Customer lifetime value.

pub mod clv_simple;
