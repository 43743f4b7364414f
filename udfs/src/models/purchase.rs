//! The purchase-count models scorers accept, behind one interface.

use super::{Model, bgbb, bgnbd, mbgnbd, pareto_nbd};
use crate::math::bgbb::BgBb;
use crate::math::bgnbd::{BgNbd, SeriesCache};
use crate::math::pareto_nbd::ParetoNbd;

/// The purchase models a scorer accepts; a struct without a `model` field
/// is the first whose fields it has.
pub(crate) const MODELS: [&Model<PurchaseModel>; 4] = [
    &bgnbd::MODEL,
    &mbgnbd::MODEL,
    &pareto_nbd::MODEL,
    &bgbb::MODEL,
];

/// A purchase-count model.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PurchaseModel {
    BgNbd(BgNbd),
    ParetoNbd(ParetoNbd),
    /// Discrete opportunities: `recency`, `t` and horizons are counts.
    BgBb(BgBb),
}

impl PurchaseModel {
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => Ok(m.p_alive(x, t_x, t)),
            Self::ParetoNbd(m) => m.p_alive(x, t_x, t),
            Self::BgBb(m) => m.p_alive(x, t_x, t),
        }
    }

    pub fn churn_prob(&self, x: f64, t_x: f64, t: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => Ok(m.churn_prob(x, t_x, t)),
            Self::ParetoNbd(m) => m.churn_prob(x, t_x, t),
            Self::BgBb(m) => m.churn_prob(x, t_x, t),
        }
    }

    /// The purchases expected over the next `horizon`; `cache` keeps series
    /// coefficients for the next customers.
    pub fn expected_purchases(
        &self,
        x: f64,
        t_x: f64,
        t: f64,
        horizon: f64,
        cache: &mut SeriesCache,
    ) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => m.expected_purchases(x, t_x, t, horizon, cache),
            Self::ParetoNbd(m) => m.expected_purchases(x, t_x, t, horizon),
            Self::BgBb(m) => m.expected_purchases(x, t_x, t, horizon),
        }
    }

    /// The purchases expected from a customer alive at age t over any
    /// horizon up to `max_horizon` (`expected_purchases` divided by
    /// `p_alive`), for many horizons at the cost of few, with the time
    /// scale of its dependence on the horizon (its singularity lies at
    /// −scale) for the quadrature of `clv`. An error for BG/BB, whose
    /// purchases come at discrete opportunities.
    pub fn purchase_curve(
        &self,
        x: f64,
        t: f64,
        max_horizon: f64,
        cache: &mut SeriesCache,
    ) -> Result<(PurchaseCurve, f64), String> {
        match self {
            Self::BgNbd(m) => Ok((
                PurchaseCurve::BgNbd(m.purchase_curve(x, t, max_horizon, cache)),
                m.alpha + t,
            )),
            Self::ParetoNbd(m) => Ok((PurchaseCurve::ParetoNbd(*m, x, t), m.beta + t)),
            Self::BgBb(_) => Err(
                "argument model is a BG/BB model, whose purchases come at discrete opportunities; clv values continuous time: multiply expected_purchases by expected_spend instead".to_string(),
            ),
        }
    }

    pub fn prob_purchases(&self, n: f64, horizon: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(m) => m.prob_purchases(n, horizon),
            Self::ParetoNbd(m) => m.prob_purchases(n, horizon),
            Self::BgBb(m) => m.prob_purchases(n, horizon),
        }
    }
}

/// See [`PurchaseModel::purchase_curve`].
pub(crate) enum PurchaseCurve {
    BgNbd(crate::math::bgnbd::PurchaseCurve),
    ParetoNbd(ParetoNbd, f64, f64),
}

impl PurchaseCurve {
    pub fn at(&self, horizon: f64) -> Result<f64, String> {
        match self {
            Self::BgNbd(curve) => curve.at(horizon),
            Self::ParetoNbd(m, x, t) => Ok(m.expected_purchases_if_alive(*x, *t, horizon)),
        }
    }

    /// The curve at each of `horizons`, into `values`.
    pub fn at_each(&self, horizons: &[f64], values: &mut [f64]) -> Result<(), String> {
        match self {
            Self::BgNbd(curve) => curve.at_each(horizons, values),
            Self::ParetoNbd(..) => {
                for (value, horizon) in values.iter_mut().zip(horizons) {
                    *value = self.at(*horizon)?;
                }
                Ok(())
            }
        }
    }
}
