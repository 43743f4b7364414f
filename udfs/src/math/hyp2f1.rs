//! The Gauss hypergeometric function 2F1(a, b; c; z) for 0 <= z < 1, where
//! the BTYD models need it: BG/NBD's conditional expectation (Fader, Hardie &
//! Lee 2005, eq. 10) and Pareto/NBD's likelihood (Fader & Hardie 2005, note 009,
//! eq. 19-20).
//!
//! There z is a ratio of times in [0, 1) and a, b, c grow with the customer's
//! frequency, into the thousands. The defining series
//! Σ_k (a)_k (b)_k / ((c)_k k!) z^k then has terms far beyond f64's range
//! (ln 2F1(5000.2, 5002.4; 10001.2; 0.9) ≈ 4186), so it is summed with a
//! running scale and returned as a logarithm. All terms share one sign once
//! k > -c, so the sum has no cancellation in the cases the models reach; the
//! price is O(a·z/(1−z)) terms, a few thousand at the extremes tested below.
//! No maintained Rust crate offers 2F1 (statrs, puruspe and special do not).

use super::Num;

/// ln |2F1(a, b; c; z)|, its sign, and d ln|2F1| / d(a, b, c, z).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hyp2f1 {
    pub ln_abs: f64,
    pub sign: f64,
    pub d_ln: [f64; 4],
}

/// Terms that may be summed before the series is declared not to converge.
const MAX_TERMS: usize = 1_000_000;
/// Rescale the running sum beyond this magnitude.
const RESCALE_ABOVE: f64 = 1e200;

/// 2F1(a, b; c; z) for 0 <= z < 1, without derivatives (`d_ln` is zero);
/// errors name the parameters when c is a pole (0, -1, -2, ...) or the
/// series needs more than a million terms (about 10 ms).
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<Hyp2f1, String> {
    series::<false>(a, b, c, z)
}

/// [`hyp2f1`] with d ln|2F1| / d(a, b, c, z), for likelihood gradients.
pub(crate) fn hyp2f1_with_gradient(a: f64, b: f64, c: f64, z: f64) -> Result<Hyp2f1, String> {
    series::<true>(a, b, c, z)
}

fn series<const GRADIENT: bool>(a: f64, b: f64, c: f64, z: f64) -> Result<Hyp2f1, String> {
    if !(0.0..1.0).contains(&z) || ![a, b, c].iter().all(|p| p.is_finite()) {
        return Err(format!(
            "{} is outside 0 <= z < 1 or not finite",
            shown(a, b, c, z)
        ));
    }
    if c <= 0.0 && c == c.floor() {
        return Err(format!("{} has a pole at c = {c}", shown(a, b, c, z)));
    }
    // 2F1 = 1 at z = 0, where the series' first ratio could be ∞ · 0.
    if z == 0.0 {
        return Ok(Hyp2f1 {
            ln_abs: 0.0,
            sign: 1.0,
            d_ln: [0.0, 0.0, 0.0, a * b / c],
        });
    }
    // Running sums of the terms t_k and of t_k times the derivatives of
    // ln t_k: Σ_{j<k} 1/(a+j), Σ_{j<k} 1/(b+j), −Σ_{j<k} 1/(c+j), k/z.
    let (mut term, mut sum) = (1.0_f64, 1.0_f64);
    let (mut dla, mut dlb, mut dlc) = (0.0, 0.0, 0.0);
    let (mut sum_a, mut sum_b, mut sum_c, mut sum_kz) = (0.0, 0.0, 0.0, 0.0);
    let mut ln_scale = 0.0;
    // t_{k+1} / t_k, carried from one term to the next.
    let mut ratio = a * b / c * z;
    for k in 0..MAX_TERMS {
        let kf = k as f64;
        term *= ratio;
        sum += term;
        if !sum.is_finite() {
            return Err(format!(
                "{} overflows: its parameters are too large",
                shown(a, b, c, z)
            ));
        }
        if GRADIENT {
            dla += 1.0 / (a + kf);
            dlb += 1.0 / (b + kf);
            dlc -= 1.0 / (c + kf);
            sum_a += term * dla;
            sum_b += term * dlb;
            sum_c += term * dlc;
            sum_kz += term * (kf + 1.0);
        }
        if sum.abs() > RESCALE_ABOVE {
            term /= RESCALE_ABOVE;
            sum /= RESCALE_ABOVE;
            sum_a /= RESCALE_ABOVE;
            sum_b /= RESCALE_ABOVE;
            sum_c /= RESCALE_ABOVE;
            sum_kz /= RESCALE_ABOVE;
            ln_scale += RESCALE_ABOVE.ln();
        }
        // Once the ratios stop growing, they fall or rise towards z, so the
        // rest of the series is at most |t_k| q / (1 − q) with q the larger of
        // the next ratio and z; the derivative sums' tails carry at most a
        // factor k / (1 − q) more.
        // (Multiplied out: divisions are most of a term's time, and the
        // series is most of a Pareto/NBD fit's.)
        let next = (a + kf + 1.0) * (b + kf + 1.0) / ((c + kf + 1.0) * (kf + 2.0)) * z;
        let q = next.abs().max(z);
        let past_peak = q < 1.0 && next.abs() <= ratio.abs().max(z);
        let tail_bound = 1e-17 * sum.abs() * (1.0 - q) * (1.0 - q);
        if term == 0.0 || (past_peak && term.abs() * q * (kf + 2.0) <= tail_bound) {
            if sum == 0.0 {
                return Err(format!("{} is zero", shown(a, b, c, z)));
            }
            return Ok(Hyp2f1 {
                ln_abs: sum.abs().ln() + ln_scale,
                sign: sum.signum(),
                d_ln: [sum_a / sum, sum_b / sum, sum_c / sum, sum_kz / z / sum],
            });
        }
        ratio = next;
    }
    Err(format!(
        "{} did not converge in {MAX_TERMS} terms",
        shown(a, b, c, z)
    ))
}

fn shown(a: f64, b: f64, c: f64, z: f64) -> String {
    format!("2F1({}, {}; {}; {})", Num(a), Num(b), Num(c), Num(z))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ln|2F1| and its sign from mpmath at 50 digits
    /// (tests/reference/hyp2f1_values.py), including the extremes real data
    /// reaches: frequency in the thousands and horizons far beyond the age.
    const MPMATH: [(f64, f64, f64, f64, f64, f64); 7] = [
        (0.5, 1.5, 2.5, 0.3, 0.1026130407541255, 1.0),
        (2.24, 4.43, 2.2, 0.5, 3.1166380809827245, 1.0),
        (1000.24, 1002.4, 2002.2, 0.25, 138.89119280544017, 1.0),
        (5000.2, 5002.4, 10001.2, 0.9, 4186.044040732292, 1.0),
        (0.243, 2.426, 2.219, 0.999, 2.40663012977005, 1.0),
        (3000.5, 1.3, 3001.5, 0.97, 4.544761950884355, 1.0),
        (0.25, 2.5, -0.3, 0.6, 2.9442901695156443, -1.0),
    ];

    #[test]
    fn agrees_with_mpmath_to_1e_12() {
        for (a, b, c, z, ln_abs, sign) in MPMATH {
            let f = hyp2f1(a, b, c, z).unwrap();
            assert_eq!(f.sign, sign, "sign of 2F1({a}, {b}; {c}; {z})");
            let tolerance = 1e-12 * ln_abs.abs().max(1.0);
            assert!(
                (f.ln_abs - ln_abs).abs() < tolerance,
                "ln 2F1({a}, {b}; {c}; {z}) = {} vs mpmath {ln_abs}",
                f.ln_abs
            );
        }
    }

    #[test]
    fn closed_forms() {
        // 2F1(1, 1; 2; z) = −ln(1 − z) / z; 2F1(a, b; b; z) = (1 − z)^−a.
        let f = hyp2f1(1.0, 1.0, 2.0, 0.5).unwrap();
        assert!((f.ln_abs - (2.0 * 2f64.ln()).ln()).abs() < 1e-15);
        let f = hyp2f1(3.5, 2.0, 2.0, 0.75).unwrap();
        assert!((f.ln_abs - (-3.5 * 0.25f64.ln())).abs() < 1e-14);
        assert_eq!(hyp2f1(3.0, 2.0, 1.5, 0.0).unwrap().ln_abs, 0.0);
        // A polynomial: 2F1(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1)).
        let f = hyp2f1(-2.0, 3.0, 4.0, 0.5).unwrap();
        assert!((f.ln_abs.exp() - (1.0 - 0.75 + 12.0 * 0.25 / 20.0)).abs() < 1e-15);
    }

    #[test]
    fn gradient_matches_central_differences() {
        for (a, b, c, z, _, _) in MPMATH {
            let f = hyp2f1_with_gradient(a, b, c, z).unwrap();
            for i in 0..4 {
                let mut p = [a, b, c, z];
                let h = 1e-6 * p[i].abs().max(1e-3);
                p[i] += h;
                let up = hyp2f1(p[0], p[1], p[2], p[3]).unwrap().ln_abs;
                p[i] -= 2.0 * h;
                let down = hyp2f1(p[0], p[1], p[2], p[3]).unwrap().ln_abs;
                let numeric = (up - down) / (2.0 * h);
                assert!(
                    (f.d_ln[i] - numeric).abs() < 1e-5 * numeric.abs().max(1.0),
                    "d/d{i} of 2F1({a}, {b}; {c}; {z}): {} vs {numeric}",
                    f.d_ln[i]
                );
            }
        }
    }

    #[test]
    fn rejects_poles_and_z_outside_the_unit_interval() {
        assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).unwrap_err().contains("pole"));
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, 2.0, -0.1).is_err());
        assert!(hyp2f1(f64::NAN, 1.0, 2.0, 0.1).is_err());
    }
}
