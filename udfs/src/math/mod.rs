//! Pure numeric code: no Arrow, no SQL. Each file is tested against
//! independent references.

pub(crate) mod bgnbd;
pub(crate) mod calendar;
pub(crate) mod discounting;
pub(crate) mod dual;
pub(crate) mod exact_sum;
pub(crate) mod gamma_gamma;
pub(crate) mod histories;
pub(crate) mod hyp2f1;
pub(crate) mod optimize;
pub(crate) mod pareto_nbd;
pub(crate) mod textbook_clv;
