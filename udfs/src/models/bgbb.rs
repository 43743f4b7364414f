//! The BG/BB model (`bgbb_fit`; math in `math::bgbb`).

use super::Model;
use super::purchase::PurchaseModel;
use crate::math::bgbb::BgBb;

pub(crate) const MODEL: Model<PurchaseModel> = Model {
    id: "bgbb",
    title: "BG/BB",
    fit: "bgbb_fit",
    params: &["alpha", "beta", "gamma", "delta"],
    build,
};

fn build(p: &[f64]) -> PurchaseModel {
    PurchaseModel::BgBb(BgBb {
        alpha: p[0],
        beta: p[1],
        gamma: p[2],
        delta: p[3],
    })
}
