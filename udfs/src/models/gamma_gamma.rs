//! The Gamma-Gamma spend model (`gamma_gamma_fit`; math in
//! `math::gamma_gamma`).

use super::Model;
use crate::math::gamma_gamma::GammaGamma;

pub(crate) const MODEL: Model<GammaGamma> = Model {
    id: "gamma_gamma",
    title: "Gamma-Gamma",
    fit: "gamma_gamma_fit",
    params: &["p", "q", "v"],
    build,
};

/// The spend models a scorer accepts.
pub(crate) const MODELS: [&Model<GammaGamma>; 1] = [&MODEL];

fn build(p: &[f64]) -> GammaGamma {
    GammaGamma {
        p: p[0],
        q: p[1],
        v: p[2],
    }
}
