//! The MBG/NBD model (`mbgnbd_fit`; math in `math::bgnbd`): BG/NBD's
//! parameters, so its struct says `model = 'mbgnbd'`.

use super::Model;
use super::purchase::PurchaseModel;
use crate::math::bgnbd::{BgNbd, Dropout};

pub(crate) const MODEL: Model<PurchaseModel> = Model {
    id: "mbgnbd",
    title: "MBG/NBD",
    fit: "mbgnbd_fit",
    params: &["r", "alpha", "a", "b"],
    build,
};

fn build(p: &[f64]) -> PurchaseModel {
    PurchaseModel::BgNbd(BgNbd::from_params(p, Dropout::AtEveryPurchase))
}
