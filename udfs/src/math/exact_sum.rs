//! Order-independent sums of money amounts.
//!
//! A floating-point sum depends on the order of its terms, and DataFusion
//! adds a customer's transactions in whatever order its partitions deliver
//! them. Two customers with the same purchases could then get monetary values
//! a few ulps apart, and a quantile score could split them. Adding amounts as
//! fixed-point integers with 64 fractional bits makes every sum exact and so
//! independent of order: amounts of 2^-12 (0.00024) and more convert without
//! rounding, and sums stay exact up to 2^63 (9.2e18).

/// Fractional bits of the fixed-point representation (resolution 2^-64).
const FRACTION_BITS: i32 = 64;
/// Largest accepted magnitude of one amount: 1e15 (a quadrillion), far above
/// any order value, far below the 2^63 an `i128` with 64 fractional bits holds.
pub(crate) const MAX_AMOUNT: f64 = 1e15;

/// A fixed-point sum of amounts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExactSum(pub(crate) i128);

/// A sum that overflowed. It absorbs every later term, so an overflow is
/// never undone by terms of the other sign (a saturated sum would be).
const OVERFLOWED: ExactSum = ExactSum(i128::MIN);

impl ExactSum {
    /// The fixed-point value of `amount`, or `None` when it is not finite or
    /// exceeds [`MAX_AMOUNT`]. Rounds only amounts below 2^-12.
    pub(crate) fn of(amount: f64) -> Option<ExactSum> {
        if !amount.is_finite() || amount.abs() > MAX_AMOUNT {
            return None;
        }
        let scaled = (amount * (FRACTION_BITS as f64).exp2()).round();
        Some(ExactSum(scaled as i128))
    }

    /// Adds two sums; an overflow on the way stays one (see
    /// [`ExactSum::to_f64`]).
    pub(crate) fn add(self, other: ExactSum) -> ExactSum {
        self.combine(other, i128::checked_add)
    }

    pub(crate) fn sub(self, other: ExactSum) -> ExactSum {
        self.combine(other, i128::checked_sub)
    }

    fn combine(self, other: ExactSum, op: fn(i128, i128) -> Option<i128>) -> ExactSum {
        if self == OVERFLOWED || other == OVERFLOWED {
            return OVERFLOWED;
        }
        op(self.0, other.0).map_or(OVERFLOWED, ExactSum)
    }

    /// The sum, correctly rounded, or `None` when a sum overflowed.
    pub(crate) fn to_f64(self) -> Option<f64> {
        if self == OVERFLOWED {
            return None;
        }
        Some(self.0 as f64 / (FRACTION_BITS as f64).exp2())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_do_not_depend_on_order() {
        let amounts = [0.1, 0.2, 0.3, 1e9, -1e9, 29.33, 1.0 / 3.0];
        let forward = amounts
            .iter()
            .fold(ExactSum::default(), |s, &a| s.add(ExactSum::of(a).unwrap()));
        let backward = amounts
            .iter()
            .rev()
            .fold(ExactSum::default(), |s, &a| s.add(ExactSum::of(a).unwrap()));
        assert_eq!(forward, backward);
        // Floating point gives different answers for the two orders here.
        let f: f64 = amounts.iter().sum();
        let b: f64 = amounts.iter().rev().sum();
        assert_ne!(f, b);
        assert!((forward.to_f64().unwrap() - (0.6 + 29.33 + 1.0 / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn amounts_round_trip() {
        for a in [0.0, 11.77, -5.25, 1258.46, 1e15, -1e15] {
            assert_eq!(ExactSum::of(a).unwrap().to_f64(), Some(a));
        }
        assert_eq!(ExactSum::of(f64::NAN), None);
        assert_eq!(ExactSum::of(f64::INFINITY), None);
        assert_eq!(ExactSum::of(2e15), None);
    }

    #[test]
    fn overflow_is_reported() {
        let big = ExactSum::of(MAX_AMOUNT).unwrap();
        let sum = (0..10_000).fold(ExactSum::default(), |s, _| s.add(big));
        assert_eq!(sum.to_f64(), None);
        // Terms of the other sign after an overflow do not undo it.
        assert_eq!(sum.sub(big).to_f64(), None);
        assert_eq!(sum.add(ExactSum::of(-MAX_AMOUNT).unwrap()).to_f64(), None);
        assert_eq!(ExactSum::default().add(sum).to_f64(), None);
    }
}
