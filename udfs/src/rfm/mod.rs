//! RFM scoring and segmentation.

pub mod rfm_score;
mod schemes;
pub mod segment_info;
pub mod segment_of;
