//! Pure numeric code: no Arrow, no SQL. Each file is tested against
//! independent references.

pub(crate) mod bgbb;
pub(crate) mod bgnbd;
pub(crate) mod calendar;
pub(crate) mod delta;
pub(crate) mod discounting;
pub(crate) mod dual;
pub(crate) mod exact_sum;
pub(crate) mod gamma_gamma;
pub(crate) mod histories;
pub(crate) mod hyp2f1;
pub(crate) mod optimize;
pub(crate) mod pareto_nbd;
pub(crate) mod sbg;
pub(crate) mod textbook_clv;

use std::fmt;

/// A number as messages show it: short, in scientific notation when very
/// large or very small (`{}` of 1e300 writes 301 digits).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.abs();
        if magnitude.is_finite() && magnitude != 0.0 && !(1e-6..1e15).contains(&magnitude) {
            write!(f, "{:e}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Test helpers shared by the models.
#[cfg(test)]
pub(crate) mod check {
    /// Asserts that `gradient` of `f` at `at` agrees with central
    /// differences (step 1e-6) within 1e-7 in every coordinate.
    pub(crate) fn gradient_matches_central_differences(
        f: impl Fn(&[f64]) -> (f64, Vec<f64>),
        at: &[f64],
    ) {
        const STEP: f64 = 1e-6;
        let (_, gradient) = f(at);
        for i in 0..at.len() {
            let mut p = at.to_vec();
            p[i] += STEP;
            let up = f(&p).0;
            p[i] -= 2.0 * STEP;
            let down = f(&p).0;
            let numeric = (up - down) / (2.0 * STEP);
            assert!(
                (gradient[i] - numeric).abs() < 1e-7,
                "at {at:?}, coordinate {i}: {} vs {numeric}",
                gradient[i]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Num;

    #[test]
    fn numbers_in_messages_stay_short() {
        let shown = |v: f64| Num(v).to_string();
        assert_eq!(shown(1e300), "1e300");
        assert_eq!(shown(-2.5e-300), "-2.5e-300");
        assert_eq!(shown(5e-324), "5e-324");
        assert_eq!(shown(1234.5), "1234.5");
        assert_eq!(shown(0.001), "0.001");
        assert_eq!(shown(-0.0), "-0");
        assert_eq!(shown(f64::NAN), "NaN");
        assert_eq!(shown(f64::NEG_INFINITY), "-inf");
    }
}
