//! The Pareto/NBD model (`pareto_nbd_fit`; math in `math::pareto_nbd`).

use super::Model;
use super::purchase::PurchaseModel;
use crate::math::pareto_nbd::ParetoNbd;

pub(crate) const MODEL: Model<PurchaseModel> = Model {
    id: "pareto_nbd",
    title: "Pareto/NBD",
    fit: "pareto_nbd_fit",
    params: &["r", "alpha", "s", "beta"],
    build,
};

fn build(p: &[f64]) -> PurchaseModel {
    PurchaseModel::ParetoNbd(ParetoNbd {
        r: p[0],
        alpha: p[1],
        s: p[2],
        beta: p[3],
    })
}
