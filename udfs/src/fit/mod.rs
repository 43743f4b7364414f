//! Aggregates that fit probabilistic models by maximum likelihood.

pub mod bgnbd_fit;
pub mod gamma_gamma_fit;
pub mod pareto_nbd_fit;
pub(crate) mod patterns;

use datafusion_common::{Result, exec_err};

use crate::common::{check_history, named};
use crate::math::histories::{Histories, available_threads};
use crate::math::optimize::{Fitted, maximize_likelihood};

/// The arguments of the purchase-count fits.
pub(crate) const HISTORY_PARAMS: [&str; 4] = ["frequency", "recency", "t", "penalizer"];

/// Fits a purchase-count model with `mean_log_likelihood` (over
/// histories, log-parameters and threads) on distinct histories.
pub(crate) fn fit_histories(
    function: &str,
    rows: Vec<([f64; 3], f64)>,
    penalizer: f64,
    mean_log_likelihood: impl Fn(&Histories, &[f64], usize) -> Result<(f64, Vec<f64>), String>,
) -> Result<Option<Fitted>> {
    if rows.iter().all(|(row, _)| row[0] == 0.0) {
        return exec_err!(
            "{function}: no customer has a repeat purchase (every frequency is 0), so the model cannot be fitted"
        );
    }
    let histories = Histories::new(
        rows.into_iter()
            .map(|([x, t_x, t], n)| (x, t_x, t, n))
            .collect(),
    );
    let threads = available_threads();
    let objective = |log_params: &[f64]| {
        mean_log_likelihood(&histories, log_params, threads)
            .unwrap_or_else(|_| (f64::NAN, vec![f64::NAN; log_params.len()]))
    };
    let fitted = named(
        function,
        maximize_likelihood(objective, 4, penalizer, histories.customers()),
    )?;
    Ok(Some(fitted))
}

/// The row check of the purchase-count fits.
pub(crate) fn history_row(function: &str, [x, t_x, t]: &[f64; 3]) -> Result<bool> {
    check_history(function, *x, *t_x, *t)?;
    Ok(true)
}
