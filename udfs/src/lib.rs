//! clvsql's SQL functions: customer summaries, RFM scores and segments,
//! customer lifetime value, for any Apache DataFusion session.
//!
//! Register them with a `SessionContext` (`register_all(&mut ctx)?`), a
//! `SessionState`, or any other function registry:
//!
//! ```
//! use datafusion_expr::registry::{FunctionRegistry, MemoryFunctionRegistry};
//!
//! let mut registry = MemoryFunctionRegistry::new();
//! clvsql_udfs::register_all(&mut registry)?;
//! assert!(registry.udaf("rfm_summary").is_ok());
//! assert!(registry.udwf("rfm_score").is_ok());
//! assert!(registry.udf("segment_of").is_ok() && registry.udf("clv_simple").is_ok());
//! # Ok::<(), datafusion_common::DataFusionError>(())
//! ```

use std::sync::Arc;

use datafusion_common::Result;
use datafusion_expr::registry::FunctionRegistry;
use datafusion_expr::{AggregateUDF, Documentation, ScalarUDF, Signature, WindowUDF};

pub mod clv;
mod common;
pub mod display;
pub mod docs;
pub mod fit;
mod math;
mod models;
#[cfg(feature = "sql")]
pub mod named_args;
mod parallel;
pub mod rfm;
pub mod score;
pub mod summary;

common::make_function!(
    AggregateUDF,
    summary::rfm_summary::RfmSummaryFunc,
    rfm_summary_udaf
);
common::make_function!(
    AggregateUDF,
    summary::rfm_holdout::RfmHoldoutFunc,
    rfm_holdout_udaf
);
common::make_function!(AggregateUDF, fit::bgnbd_fit::BgNbdFitFunc, bgnbd_fit_udaf);
common::make_function!(
    AggregateUDF,
    fit::mbgnbd_fit::MbgNbdFitFunc,
    mbgnbd_fit_udaf
);
common::make_function!(AggregateUDF, fit::bgbb_fit::BgBbFitFunc, bgbb_fit_udaf);
common::make_function!(AggregateUDF, fit::sbg_fit::SbgFitFunc, sbg_fit_udaf);
common::make_function!(
    ScalarUDF,
    score::sbg_survival::SbgSurvivalFunc,
    sbg_survival_udf
);
common::make_function!(
    ScalarUDF,
    score::sbg_retention::SbgRetentionFunc,
    sbg_retention_udf
);
common::make_function!(ScalarUDF, score::sbg_dert::SbgDertFunc, sbg_dert_udf);
common::make_function!(
    AggregateUDF,
    fit::pareto_nbd_fit::ParetoNbdFitFunc,
    pareto_nbd_fit_udaf
);
common::make_function!(
    AggregateUDF,
    fit::gamma_gamma_fit::GammaGammaFitFunc,
    gamma_gamma_fit_udaf
);
common::make_function!(WindowUDF, rfm::rfm_score::RfmScoreFunc, rfm_score_udwf);
common::make_function!(ScalarUDF, rfm::segment_of::SegmentOfFunc, segment_of_udf);
common::make_function!(
    ScalarUDF,
    rfm::segment_info::SegmentInfoFunc,
    segment_info_udf
);
common::make_function!(ScalarUDF, display::bar::BarFunc, bar_udf);
common::make_function!(ScalarUDF, clv::clv_simple::ClvSimpleFunc, clv_simple_udf);
common::make_function!(ScalarUDF, score::p_alive::PAliveFunc, p_alive_udf);
common::make_function!(ScalarUDF, score::churn_prob::ChurnProbFunc, churn_prob_udf);
common::make_function!(
    ScalarUDF,
    score::expected_purchases::ExpectedPurchasesFunc,
    expected_purchases_udf
);
common::make_function!(
    ScalarUDF,
    score::prob_purchases::ProbPurchasesFunc,
    prob_purchases_udf
);
common::make_function!(
    ScalarUDF,
    score::expected_spend::ExpectedSpendFunc,
    expected_spend_udf
);
common::make_function!(ScalarUDF, score::clv::ClvFunc, clv_udf);
common::make_function!(
    ScalarUDF,
    score::expected_purchases_interval::ExpectedPurchasesIntervalFunc,
    expected_purchases_interval_udf
);
common::make_function!(
    ScalarUDF,
    score::clv_interval::ClvIntervalFunc,
    clv_interval_udf
);

/// Every scalar function of this crate.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        segment_of_udf(),
        segment_info_udf(),
        clv_simple_udf(),
        p_alive_udf(),
        churn_prob_udf(),
        expected_purchases_udf(),
        prob_purchases_udf(),
        expected_spend_udf(),
        clv_udf(),
        expected_purchases_interval_udf(),
        clv_interval_udf(),
        sbg_survival_udf(),
        sbg_retention_udf(),
        sbg_dert_udf(),
        bar_udf(),
    ]
}

/// Every aggregate function of this crate.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        rfm_summary_udaf(),
        rfm_holdout_udaf(),
        bgnbd_fit_udaf(),
        mbgnbd_fit_udaf(),
        pareto_nbd_fit_udaf(),
        bgbb_fit_udaf(),
        sbg_fit_udaf(),
        gamma_gamma_fit_udaf(),
    ]
}

/// Every window function of this crate.
pub fn window_functions() -> Vec<Arc<WindowUDF>> {
    vec![rfm_score_udwf()]
}

/// The parameters of a function's summary form, which takes a struct first
/// in place of the columns it holds: a customer summary (`rfm_summary`'s or
/// `rfm_holdout`'s), as in `p_alive(summary, model)` beside
/// `p_alive(frequency, recency, t, model)`, or for `segment_of` the scores
/// of `rfm_score`. `None` for a function without one.
#[cfg(feature = "sql")]
pub(crate) fn summary_form(function: &str) -> Option<&'static [&'static str]> {
    const FIT: &[&str] = &["summary", "penalizer"];
    Some(match function {
        "bgnbd_fit" | "mbgnbd_fit" | "pareto_nbd_fit" | "bgbb_fit" | "gamma_gamma_fit" => FIT,
        "p_alive" | "churn_prob" => &score::HISTORY_SUMMARY,
        "expected_purchases" => &score::expected_purchases::SUMMARY,
        "expected_spend" => &score::expected_spend::SUMMARY,
        "clv" => &score::clv::SUMMARY,
        "expected_purchases_interval" => &score::expected_purchases_interval::SUMMARY,
        "clv_interval" => &score::clv_interval::SUMMARY,
        "rfm_score" => &rfm::rfm_score::SUMMARY,
        "segment_of" => &rfm::segment_of::SUMMARY,
        _ => return None,
    })
}

/// One of this crate's functions, of any kind.
#[derive(Debug, Clone)]
pub enum Function {
    Scalar(Arc<ScalarUDF>),
    Aggregate(Arc<AggregateUDF>),
    Window(Arc<WindowUDF>),
}

impl Function {
    /// The function's SQL name.
    pub fn name(&self) -> &str {
        match self {
            Self::Scalar(f) => f.name(),
            Self::Aggregate(f) => f.name(),
            Self::Window(f) => f.name(),
        }
    }

    /// The function's signature, with its parameter names.
    pub fn signature(&self) -> &Signature {
        match self {
            Self::Scalar(f) => f.signature(),
            Self::Aggregate(f) => f.signature(),
            Self::Window(f) => f.signature(),
        }
    }

    /// The function's documentation (every function has one).
    pub fn documentation(&self) -> Option<&Documentation> {
        match self {
            Self::Scalar(f) => f.documentation(),
            Self::Aggregate(f) => f.documentation(),
            Self::Window(f) => f.documentation(),
        }
    }
}

/// Every function of this crate: scalar, aggregate, then window functions.
pub fn all_functions() -> Vec<Function> {
    let scalar = scalar_functions().into_iter().map(Function::Scalar);
    let aggregate = aggregate_functions().into_iter().map(Function::Aggregate);
    let window = window_functions().into_iter().map(Function::Window);
    scalar.chain(aggregate).chain(window).collect()
}

/// Registers every function of this crate with `registry` (a
/// `SessionContext`, a `SessionState`, ...).
pub fn register_all(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for function in all_functions() {
        match function {
            Function::Scalar(f) => registry.register_udf(f).map(drop)?,
            Function::Aggregate(f) => registry.register_udaf(f).map(drop)?,
            Function::Window(f) => registry.register_udwf(f).map(drop)?,
        }
    }
    Ok(())
}

/// Builders of the functions as `Expr`s, for DataFrame users.
pub mod expr_fn {
    use datafusion_expr::{Expr, lit};

    /// `rfm_summary(order_ts, amount, as_of, unit)` as an aggregate expression.
    pub fn rfm_summary(order_ts: Expr, amount: Expr, as_of: Expr, unit: &str) -> Expr {
        super::rfm_summary_udaf().call(vec![order_ts, amount, as_of, lit(unit)])
    }

    /// `rfm_score(recency, frequency, monetary, bins)`; add a window with
    /// `ExprFunctionExt::partition_by(..).build()` or use it as is over the
    /// whole input.
    pub fn rfm_score(recency: Expr, frequency: Expr, monetary: Expr, bins: i64) -> Expr {
        super::rfm_score_udwf().call(vec![recency, frequency, monetary, lit(bins)])
    }

    /// `segment_of(scores, scheme)` where `scores` is an `rfm_score` struct.
    pub fn segment_of(scores: Expr, scheme: &str) -> Expr {
        super::segment_of_udf().call(vec![scores, lit(scheme)])
    }

    /// `clv_simple(avg_order_value, purchase_frequency, lifespan, margin, discount_rate)`.
    pub fn clv_simple(
        avg_order_value: Expr,
        purchase_frequency: Expr,
        lifespan: Expr,
        margin: Expr,
        discount_rate: Expr,
    ) -> Expr {
        super::clv_simple_udf().call(vec![
            avg_order_value,
            purchase_frequency,
            lifespan,
            margin,
            discount_rate,
        ])
    }
}
