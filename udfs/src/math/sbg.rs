//! The shifted-beta-geometric (sBG) model of contract renewals (Fader &
//! Hardie 2007, "How to Project Customer Retention", Journal of Interactive
//! Marketing 21(1); the discounted residual lifetime from Fader & Hardie
//! 2010, "Customer-Base Valuation in a Contractual Setting: The Perils of
//! Ignoring Heterogeneity", Marketing Science 29(1)). At each renewal point a
//! customer cancels with probability θ ~ Beta(α, β), the same for them at
//! every point.
//!
//! A customer's lifetime T is the number of periods they stay (T >= 1):
//! P(T = t) = B(α + 1, β + t − 1) / B(α, β) and S(t) = P(T > t) =
//! B(α, β + t) / B(α, β). Their tenure is T for a customer lost, or the
//! periods observed so far for one still active (T > tenure).

use statrs::function::gamma::{digamma, ln_gamma};

use super::Num;
use super::hyp2f1::hyp2f1;

/// sBG parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sbg {
    pub alpha: f64,
    pub beta: f64,
}

/// ln B(a, b), without statrs's panic where a fit's line search sent a
/// parameter to 0.
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// A number of periods: finite and >= 0 (whole where `whole`).
fn check_periods(arg: &str, value: f64, whole: bool) -> Result<(), String> {
    if !value.is_finite() || value < 0.0 || (whole && value.fract() != 0.0) {
        return Err(format!(
            "argument {arg} must be a {}number of periods >= 0, got {}",
            if whole { "whole " } else { "" },
            Num(value)
        ));
    }
    Ok(())
}

impl Sbg {
    /// S(t): the share of a cohort still active after t periods.
    pub fn survival(&self, t: f64) -> Result<f64, String> {
        check_periods("t", t, true)?;
        Ok((ln_beta(self.alpha, self.beta + t) - ln_beta(self.alpha, self.beta)).exp())
    }

    /// r_t = S(t) / S(t − 1) = (β + t − 1) / (α + β + t − 1), t >= 1: the
    /// share of those active after t − 1 periods who renew at the t-th.
    pub fn retention(&self, t: f64) -> Result<f64, String> {
        check_periods("t", t, true)?;
        if t < 1.0 {
            return Err(format!(
                "argument t must be a whole number of periods >= 1 (the first renewal), got {}",
                Num(t)
            ));
        }
        Ok((self.beta + (t - 1.0)) / (self.alpha + self.beta + (t - 1.0)))
    }

    /// The discounted expected residual lifetime of a customer active after
    /// `tenure` periods, counted in payments: Σ_{k>=1} P(T > tenure + k | T >
    /// tenure) / (1 + d)^(k − 1), the next renewal undiscounted (Fader &
    /// Hardie 2010, eq. 6 with n − 1 = tenure):
    /// (β + n) / (α + β + n) · 2F1(1, β + n + 1; α + β + n + 1; 1 / (1 + d)).
    /// With d = 0 it is the expected number of future renewals, (β + n) /
    /// (α − 1), finite only for α > 1.
    pub fn dert(&self, tenure: f64, discount_rate: f64) -> Result<f64, String> {
        check_periods("tenure", tenure, true)?;
        if !discount_rate.is_finite() || discount_rate < 0.0 {
            return Err(format!(
                "argument discount_rate must be a finite number >= 0, got {}",
                Num(discount_rate)
            ));
        }
        let Self { alpha, beta } = *self;
        let first = (beta + tenure) / (alpha + beta + tenure);
        if discount_rate == 0.0 {
            if alpha <= 1.0 {
                return Err(format!(
                    "the model's alpha = {} is not above 1, so the expected number of renewals is infinite without discounting: give a discount_rate > 0",
                    Num(alpha)
                ));
            }
            return Ok((beta + tenure) / (alpha - 1.0));
        }
        let x = 1.0 / (1.0 + discount_rate);
        let f = hyp2f1(1.0, beta + tenure + 1.0, alpha + beta + tenure + 1.0, x).map_err(|e| {
            format!(
                "{e}: the discount_rate {} is too small for a series in finite time; use a larger one",
                Num(discount_rate)
            )
        })?;
        Ok(first * f.sign * f.ln_abs.exp())
    }
}

/// The mean log-likelihood per customer of `(tenure, churned, count)` rows
/// (eq. B3: P(T = tenure) for a customer lost, S(tenure) for one active)
/// and its gradient with respect to (ln α, ln β).
pub(crate) fn mean_log_likelihood(
    rows: &[(f64, bool, f64)],
    log_params: &[f64],
) -> (f64, Vec<f64>) {
    let (alpha, beta) = (log_params[0].exp(), log_params[1].exp());
    let (ln_b0, d_ab0) = (ln_beta(alpha, beta), digamma(alpha + beta));
    let (d_a0, d_b0) = (digamma(alpha) - d_ab0, digamma(beta) - d_ab0);
    let (mut ll, mut d_alpha, mut d_beta, mut customers) = (0.0, 0.0, 0.0, 0.0);
    for &(t, churned, count) in rows {
        // ln B(α + u, β + v) − ln B(α, β) and its derivatives.
        let (u, v) = if churned { (1.0, t - 1.0) } else { (0.0, t) };
        let d_ab = digamma(alpha + beta + u + v);
        ll += count * (ln_beta(alpha + u, beta + v) - ln_b0);
        d_alpha += count * (digamma(alpha + u) - d_ab - d_a0);
        d_beta += count * (digamma(beta + v) - d_ab - d_b0);
        customers += count;
    }
    (
        ll / customers,
        vec![d_alpha * alpha / customers, d_beta * beta / customers],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::check;

    /// The paper's estimate for its regular cohort (Fader & Hardie 2007).
    const REGULAR: Sbg = Sbg {
        alpha: 0.704,
        beta: 1.182,
    };

    #[test]
    fn survival_is_the_product_of_retention_rates() {
        let mut product = 1.0;
        for t in 1..=12 {
            product *= REGULAR.retention(t as f64).unwrap();
            let survival = REGULAR.survival(t as f64).unwrap();
            assert!(
                (survival - product).abs() < 1e-12,
                "{t}: {survival} vs {product}"
            );
        }
        assert_eq!(REGULAR.survival(0.0), Ok(1.0));
    }

    #[test]
    fn dert_is_the_discounted_sum_of_survival() {
        let (tenure, d): (f64, f64) = (3.0, 0.1);
        let s_n = REGULAR.survival(tenure).unwrap();
        let direct: f64 = (1..5000)
            .map(|k| REGULAR.survival(tenure + k as f64).unwrap() / s_n / (1.0 + d).powi(k - 1))
            .sum();
        let closed = REGULAR.dert(tenure, d).unwrap();
        assert!((closed - direct).abs() < 1e-9, "{closed} vs {direct}");
        // Without discounting: finite for alpha > 1 only.
        let heavy = Sbg {
            alpha: 3.0,
            beta: 4.0,
        };
        let direct: f64 = (1..200_000)
            .map(|k| heavy.survival(2.0 + k as f64).unwrap() / heavy.survival(2.0).unwrap())
            .sum();
        assert!((heavy.dert(2.0, 0.0).unwrap() - direct).abs() < 1e-6);
        assert!(
            REGULAR
                .dert(2.0, 0.0)
                .unwrap_err()
                .contains("alpha = 0.704")
        );
    }

    #[test]
    fn gradient_matches_central_differences() {
        let rows = [
            (1.0, true, 369.0),
            (2.0, true, 163.0),
            (7.0, true, 21.0),
            (7.0, false, 241.0),
        ];
        check::gradient_matches_central_differences(
            |p| mean_log_likelihood(&rows, p),
            &[-0.3, 0.2],
        );
    }
}
