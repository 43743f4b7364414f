//! The BG/NBD model (`bgnbd_fit`; math in `math::bgnbd`).

use super::Model;
use super::purchase::PurchaseModel;
use crate::math::bgnbd::{BgNbd, Dropout};

pub(crate) const MODEL: Model<PurchaseModel> = Model {
    id: "bgnbd",
    title: "BG/NBD",
    fit: "bgnbd_fit",
    params: &["r", "alpha", "a", "b"],
    build,
};

fn build(p: &[f64]) -> PurchaseModel {
    PurchaseModel::BgNbd(BgNbd::from_params(p, Dropout::AfterRepeatPurchases))
}
