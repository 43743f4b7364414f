//! The sBG model of contract renewals (`sbg_fit`; math in `math::sbg`).

use super::Model;
use crate::math::sbg::Sbg;

pub(crate) const MODEL: Model<Sbg> = Model {
    id: "sbg",
    title: "sBG",
    fit: "sbg_fit",
    params: &["alpha", "beta"],
    build,
};

/// The retention models a scorer accepts.
pub(crate) const MODELS: [&Model<Sbg>; 1] = [&MODEL];

fn build(p: &[f64]) -> Sbg {
    Sbg {
        alpha: p[0],
        beta: p[1],
    }
}
