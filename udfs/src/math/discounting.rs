//! The present value of expected purchases over a horizon, from their
//! cumulative expectation E(τ) (purchases expected in the next τ time units).
//!
//! Continuously, at rate δ = ln(1 + d) per unit:
//! PV = ∫_0^H e^(−δτ) dE(τ) = e^(−δH) E(H) + δ ∫_0^H e^(−δτ) E(τ) dτ (by parts).
//! The integral is Gauss-Legendre in u = ln(1 + τ/c), with c the model's time
//! scale (BG/NBD: α + T): E has its singularity at τ = −c, which this maps
//! to u = −∞, so a few nodes reach double precision even when H ≫ c.
//!
//! In periods of length p, as lifetimes does: Σ_k [E(e_k) − E(e_{k−1})] (1 + d)^(−e_k)
//! with e_k = min(k p, H), each period's purchases discounted at its end.

use std::sync::LazyLock;

/// Nodes of the quadrature.
const NODES: usize = 16;

/// Gauss-Legendre nodes and weights on [−1, 1] (Newton on P_n).
static GAUSS_LEGENDRE: LazyLock<Vec<(f64, f64)>> = LazyLock::new(|| {
    let n = NODES;
    (1..=n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 - 0.25) / (n as f64 + 0.5)).cos();
            let mut derivative = 0.0;
            for _ in 0..100 {
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let k = k as f64;
                    (p0, p1) = (p1, ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k);
                }
                derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() < 1e-16 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * derivative * derivative))
        })
        .collect()
});

/// Present value of the purchases expected within `horizon`, discounted at
/// `discount_rate` per unit: continuously (`period` None) or per period.
pub(crate) fn present_value(
    expected: impl Fn(f64) -> Result<f64, String>,
    horizon: f64,
    discount_rate: f64,
    period: Option<f64>,
    time_scale: f64,
) -> Result<f64, String> {
    if horizon == 0.0 {
        return Ok(0.0);
    }
    if let Some(period) = period {
        let periods = (horizon / period).ceil() as u64;
        let (mut value, mut before) = (0.0, 0.0);
        for k in 1..=periods {
            let end = (k as f64 * period).min(horizon);
            let through = expected(end)?;
            value += (through - before) * (-end * discount_rate.ln_1p()).exp();
            before = through;
        }
        return Ok(value);
    }
    let delta = discount_rate.ln_1p();
    let at_horizon = (-delta * horizon).exp() * expected(horizon)?;
    if delta == 0.0 {
        return Ok(at_horizon);
    }
    let u_max = (horizon / time_scale).ln_1p();
    let mut integral = 0.0;
    for (node, weight) in GAUSS_LEGENDRE.iter() {
        let u = (node + 1.0) * u_max / 2.0;
        let tau = time_scale * u.exp_m1();
        integral += weight * (-delta * tau).exp() * expected(tau)? * time_scale * u.exp();
    }
    Ok(at_horizon + delta * integral * u_max / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::bgnbd::BgNbd;

    const PAPER: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    #[test]
    fn quadrature_integrates_polynomials_exactly() {
        let integral: f64 = GAUSS_LEGENDRE.iter().map(|(x, w)| w * x.powi(30)).sum();
        assert!((integral - 2.0 / 31.0).abs() < 1e-15);
        let weights: f64 = GAUSS_LEGENDRE.iter().map(|(_, w)| w).sum();
        assert!((weights - 2.0).abs() < 1e-14);
    }

    #[test]
    fn continuous_discounting_is_the_limit_of_short_periods() {
        // A new customer and a long-time buyer, a horizon of 10 years in weeks.
        for (x, t_x, t) in [(0.0, 0.0, 0.0), (5.0, 30.0, 38.0)] {
            let expected = |tau| PAPER.expected_purchases(x, t_x, t, tau);
            let (horizon, rate) = (520.0, 0.002);
            let continuous = present_value(expected, horizon, rate, None, PAPER.alpha + t).unwrap();
            // Periods of 1/100 week discount each at its end: the error of
            // that sum against the integral is about half a period's discount.
            let fine = present_value(expected, horizon, rate, Some(0.01), 0.0).unwrap();
            let relative = (continuous - fine).abs() / fine;
            assert!(relative < 2e-5, "{continuous} vs {fine}");
        }
    }

    #[test]
    fn undiscounted_value_is_the_expectation() {
        let expected = |tau| PAPER.expected_purchases(2.0, 30.43, 38.86, tau);
        let value = present_value(expected, 39.0, 0.0, None, 43.0).unwrap();
        assert_eq!(value, expected(39.0).unwrap());
        let periods = present_value(expected, 39.0, 0.0, Some(4.0), 43.0).unwrap();
        assert!((periods - value).abs() < 1e-12);
    }
}
