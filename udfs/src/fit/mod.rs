//! Aggregates that fit probabilistic models by maximum likelihood.

/// What every fit shares, for a struct `$func` declared with its
/// `#[user_doc]`: `new`, the argument checks of `$inputs` (a
/// [`patterns::FitInputs`], all numbers), the struct of `$model` (a
/// [`crate::models::Model`]) as its result, and a
/// [`patterns::PatternAccumulator`] that checks rows with `$check` and fits
/// with `$fit`. Defined before the `mod`s below, which see it by textual scope.
macro_rules! fit_function {
    ($func:ident, model: $model:expr, inputs: $inputs:expr, check: $check:expr, fit: $fit:expr) => {
        impl Default for $func {
            fn default() -> Self {
                Self::new()
            }
        }

        impl $func {
            pub fn new() -> Self {
                use $crate::common::Listed;
                Self {
                    signature: $crate::common::signature(
                        $inputs.params,
                        &[&[Listed::Float; $inputs.params.len()]],
                    ),
                }
            }
        }

        impl datafusion_expr::AggregateUDFImpl for $func {
            fn name(&self) -> &str {
                $model.fit
            }

            fn signature(&self) -> &datafusion_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[arrow::datatypes::DataType],
            ) -> datafusion_common::Result<Vec<arrow::datatypes::DataType>> {
                $crate::common::lenient(arg_types, |types| $inputs.coerce(types))
            }

            fn return_type(
                &self,
                arg_types: &[arrow::datatypes::DataType],
            ) -> datafusion_common::Result<arrow::datatypes::DataType> {
                $inputs.coerce(arg_types)?;
                Ok(arrow::datatypes::DataType::Struct(
                    $crate::models::output_fields(&$model),
                ))
            }

            fn state_fields(
                &self,
                args: datafusion_expr::function::StateFieldsArgs,
            ) -> datafusion_common::Result<Vec<arrow::datatypes::FieldRef>> {
                $crate::common::refuse_distinct($model.fit, args.is_distinct)?;
                Ok($inputs.state_fields(&args))
            }

            fn accumulator(
                &self,
                _args: datafusion_expr::function::AccumulatorArgs,
            ) -> datafusion_common::Result<Box<dyn datafusion_expr::Accumulator>> {
                Ok(Box::new($crate::fit::patterns::PatternAccumulator::new(
                    &$model, &$inputs, $check, $fit,
                )))
            }

            fn documentation(&self) -> Option<&datafusion_expr::Documentation> {
                self.doc()
            }
        }
    };
}

pub mod bgbb_fit;
pub mod bgnbd_fit;
pub mod gamma_gamma_fit;
pub mod mbgnbd_fit;
pub mod pareto_nbd_fit;
pub(crate) mod patterns;
pub mod sbg_fit;

use datafusion_common::{Result, exec_err};

use crate::common::{check_history, named};
use crate::math::bgnbd::{self, Dropout};
use crate::math::histories::Histories;
use crate::math::optimize::{Fitted, maximize_likelihood};
use crate::parallel::available_threads;
use patterns::Row;

/// The arguments of the purchase-count fits.
pub(crate) const HISTORY_PARAMS: [&str; 4] = ["frequency", "recency", "t", "penalizer"];

/// Fits a purchase-count model with parameters `model` by
/// `mean_log_likelihood` (over histories, log-parameters and threads) on
/// distinct histories, from the parameters `start` gives for them.
pub(crate) fn fit_histories(
    function: &str,
    model: &[&str],
    rows: Vec<([f64; 3], f64)>,
    penalizer: f64,
    start: impl Fn(&Histories) -> Vec<f64>,
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
        maximize_likelihood(
            objective,
            model,
            penalizer,
            histories.customers(),
            &start(&histories),
        ),
    )?;
    Ok(Some(fitted))
}

/// Fits BG/NBD or MBG/NBD (as `dropout` says) with parameters `model`.
pub(crate) fn fit_bgnbd(
    function: &str,
    model: &[&str],
    rows: Vec<([f64; 3], f64)>,
    penalizer: f64,
    dropout: Dropout,
) -> Result<Option<Fitted>> {
    let start = |_: &Histories| vec![1.0; 4];
    fit_histories(function, model, rows, penalizer, start, |h, p, threads| {
        Ok(bgnbd::mean_log_likelihood(h, p, dropout, threads))
    })
}

/// The row check of the purchase-count fits.
pub(crate) fn history_row(function: &str, [x, t_x, t]: &[f64; 3]) -> Result<Row> {
    check_history(function, *x, *t_x, *t)?;
    Ok(Row::Fit)
}
