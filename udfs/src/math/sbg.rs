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

/// The most periods survival is computed over (one term each).
pub(crate) const MAX_PERIODS: f64 = 100_000.0;

/// A number of periods: a whole number from `least` to [`MAX_PERIODS`].
fn check_periods(arg: &str, value: f64, least: f64) -> Result<(), String> {
    if !(least..=MAX_PERIODS).contains(&value) || value.fract() != 0.0 {
        return Err(format!(
            "argument {arg} must be a whole number of periods from {least} to {MAX_PERIODS}, got {}",
            Num(value)
        ));
    }
    Ok(())
}

impl Sbg {
    /// S(t): the share of a cohort still active after t periods, the
    /// product of the retention rates, summed as logs: exact also where
    /// ln Γ differences cancel (large t or parameters).
    pub fn survival(&self, t: f64) -> Result<f64, String> {
        check_periods("t", t, 0.0)?;
        let mut ln = 0.0;
        let mut j = 1.0;
        while j <= t {
            ln += (-self.churn(j)).ln_1p();
            j += 1.0;
        }
        Ok(ln.exp())
    }

    /// 1 − r_t = α / (α + β + t − 1), as 1 / (1 + (β + t − 1) / α), which
    /// does not overflow for parameters near the top of f64.
    fn churn(&self, t: f64) -> f64 {
        1.0 / (1.0 + (self.beta + (t - 1.0)) / self.alpha)
    }

    /// r_t = S(t) / S(t − 1) = (β + t − 1) / (α + β + t − 1), t >= 1: the
    /// share of those active after t − 1 periods who renew at the t-th.
    pub fn retention(&self, t: f64) -> Result<f64, String> {
        check_periods("t", t, 1.0)?;
        Ok(1.0 / (1.0 + self.alpha / (self.beta + (t - 1.0))))
    }

    /// The discounted expected residual lifetime of a customer active after
    /// `tenure` periods, counted in payments: Σ_{k>=1} P(T > tenure + k | T >
    /// tenure) / (1 + d)^(k − 1), the next renewal undiscounted (Fader &
    /// Hardie 2010, eq. 6 with n − 1 = tenure):
    /// (β + n) / (α + β + n) · 2F1(1, β + n + 1; α + β + n + 1; 1 / (1 + d)).
    /// With d = 0 it is the expected number of future renewals, (β + n) /
    /// (α − 1), finite only for α > 1.
    pub fn dert(&self, tenure: f64, discount_rate: f64) -> Result<f64, String> {
        check_periods("tenure", tenure, 0.0)?;
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
                "{e}: no result in bounded time for discount_rate {} with this model (its series needs more terms the smaller the rate, below about 1e-4, and the larger beta)",
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
        // Σ_k S(n + k) / S(n) (1 + d)^−(k − 1): the retention rates
        // multiplied along.
        let direct = |model: &Sbg, tenure: f64, d: f64, terms: usize| {
            let (mut ratio, mut sum) = (1.0, 0.0);
            for k in 1..terms {
                ratio *= model.retention(tenure + k as f64).unwrap();
                sum += ratio / (1.0 + d).powi(k as i32 - 1);
            }
            sum
        };
        let closed = REGULAR.dert(3.0, 0.1).unwrap();
        let sum = direct(&REGULAR, 3.0, 0.1, 5000);
        assert!((closed - sum).abs() < 1e-9, "{closed} vs {sum}");
        // Without discounting: finite for alpha > 1 only.
        let heavy = Sbg {
            alpha: 3.0,
            beta: 4.0,
        };
        assert!((heavy.dert(2.0, 0.0).unwrap() - direct(&heavy, 2.0, 0.0, 99_000)).abs() < 1e-6);
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
