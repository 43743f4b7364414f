//! The BG/BB model (Fader, Hardie & Shang 2010, "Customer-Base Analysis in
//! a Discrete-Time Noncontractual Setting", Marketing Science 29(6)) for
//! discrete transaction opportunities (a yearly donation, an annual event).
//! While alive, a customer transacts at each opportunity with probability
//! p ~ Beta(α, β); before each later opportunity they drop out with
//! probability θ ~ Beta(γ, δ).
//!
//! A customer's history is x transactions in n opportunities after the
//! first, the last at opportunity t_x (all whole numbers, x <= t_x <= n).

use statrs::function::gamma::{digamma, ln_gamma};

use super::Num;
use super::histories::Histories;
use crate::parallel::sum_in_parallel;

/// The most opportunities a history or a horizon may span: the likelihood
/// and the probabilities sum over them.
pub(crate) const MAX_PERIODS: f64 = 100_000.0;

/// BG/BB parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BgBb {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub delta: f64,
}

/// A count of opportunities: a whole number from 0 to [`MAX_PERIODS`].
fn check_periods(arg: &str, value: f64) -> Result<(), String> {
    if value.fract() != 0.0 || !(0.0..=MAX_PERIODS).contains(&value) {
        return Err(format!(
            "argument {arg} must be a whole number of periods from 0 to {MAX_PERIODS} for a BG/BB model, got {}",
            Num(value)
        ));
    }
    Ok(())
}

/// Checks a history as BG/BB reads it: frequency, recency and the
/// opportunities (argument `n_arg`) whole numbers with frequency <= recency
/// <= n, and recency 0 without transactions.
pub(crate) fn check_history(x: f64, t_x: f64, n: f64, n_arg: &str) -> Result<(), String> {
    check_periods("frequency", x)?;
    check_periods("recency", t_x)?;
    check_periods(n_arg, n)?;
    if x > t_x || t_x > n || (x == 0.0 && t_x > 0.0) {
        return Err(format!(
            "arguments frequency, recency and {n_arg} must satisfy frequency <= recency <= {n_arg} (one transaction per period) and recency = 0 without transactions for a BG/BB model, got {}, {} and {}",
            Num(x),
            Num(t_x),
            Num(n)
        ));
    }
    Ok(())
}

impl BgBb {
    /// From log-parameters (α, β, γ, δ).
    pub fn from_log(log_params: &[f64]) -> Self {
        Self {
            alpha: log_params[0].exp(),
            beta: log_params[1].exp(),
            gamma: log_params[2].exp(),
            delta: log_params[3].exp(),
        }
    }

    /// ln of the two parts of the likelihood (eq. 5): alive through n, and
    /// the sum over i < n − t_x of dying after opportunity t_x + i.
    fn ln_parts(&self, x: f64, t_x: f64, n: f64) -> (f64, f64) {
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let base = ln_beta(alpha, beta) + ln_beta(gamma, delta);
        let alive = ln_beta(alpha + x, beta + n - x) + ln_beta(gamma, delta + n) - base;
        let mut sum = 0.0;
        self.dead_terms(x, t_x, n, |relative| sum += relative);
        let dead = if sum > 0.0 {
            self.ln_first_dead_term(x, t_x) + sum.ln()
        } else {
            f64::NEG_INFINITY
        };
        (alive, dead - base)
    }

    /// ln B(α + x, β + t_x − x) + ln B(γ + 1, δ + t_x): the first term of
    /// the likelihood's dead part, before its normalisation.
    fn ln_first_dead_term(&self, x: f64, t_x: f64) -> f64 {
        ln_beta(self.alpha + x, self.beta + t_x - x) + ln_beta(self.gamma + 1.0, self.delta + t_x)
    }

    /// Calls `each(relative)` for the terms i < n − t_x of the
    /// likelihood's dead part, B(α + x, β + t_x − x + i) B(γ + 1, δ + t_x +
    /// i), relative to the first: each follows from the one before by two
    /// ratios, so a term costs a few operations, not four ln Γ.
    fn dead_terms(&self, x: f64, t_x: f64, n: f64, mut each: impl FnMut(f64)) {
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let mut relative = 1.0;
        let mut i = 0.0;
        while i < n - t_x {
            each(relative);
            relative *= (beta + t_x - x + i) / (alpha + beta + t_x + i) * (delta + t_x + i)
                / (gamma + delta + t_x + i + 1.0);
            i += 1.0;
        }
    }

    /// ln L(x, t_x, n).
    fn ln_likelihood(&self, x: f64, t_x: f64, n: f64) -> f64 {
        let (alive, dead) = self.ln_parts(x, t_x, n);
        log_add(alive, dead)
    }

    /// P(alive at opportunity n | x, t_x, n) (lifetimes'
    /// `conditional_probability_alive` with no periods ahead).
    pub fn p_alive(&self, x: f64, t_x: f64, n: f64) -> Result<f64, String> {
        check_history(x, t_x, n, "t")?;
        let (alive, dead) = self.ln_parts(x, t_x, n);
        Ok(1.0 / (1.0 + (dead - alive).exp()))
    }

    /// 1 − P(alive), computed directly so that small values keep their digits.
    pub fn churn_prob(&self, x: f64, t_x: f64, n: f64) -> Result<f64, String> {
        check_history(x, t_x, n, "t")?;
        let (alive, dead) = self.ln_parts(x, t_x, n);
        Ok(1.0 / (1.0 + (alive - dead).exp()))
    }

    /// E[X(n, n + m) | x, t_x, n]: the transactions expected over the next m
    /// opportunities (eq. 13). Its factor δ / (γ − 1) [Γ(1+δ+n) / Γ(γ+δ+n)
    /// − Γ(1+δ+n+m) / Γ(γ+δ+n+m)] is analytic in γ, 0/0 at γ = 1: there the
    /// mean of its values at γ = 1 ± h is within O(h²) of the limit.
    pub fn expected_purchases(&self, x: f64, t_x: f64, n: f64, m: f64) -> Result<f64, String> {
        check_history(x, t_x, n, "t")?;
        check_periods("horizon", m)?;
        const H: f64 = 1e-4;
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let survival_sum = |gamma: f64| {
            // Γ(γ+δ)/Γ(1+δ) · δ/(γ−1) · e^a (1 − e^(b−a)).
            let a = ln_gamma(1.0 + delta + n) - ln_gamma(gamma + delta + n);
            let b = ln_gamma(1.0 + delta + n + m) - ln_gamma(gamma + delta + n + m);
            let scale = ln_gamma(gamma + delta) - ln_gamma(1.0 + delta) + a;
            delta / (gamma - 1.0) * scale.exp() * -(b - a).exp_m1()
        };
        let survival = if (gamma - 1.0).abs() < H {
            (survival_sum(1.0 - H) + survival_sum(1.0 + H)) / 2.0
        } else {
            survival_sum(gamma)
        };
        let ln_rate = ln_beta(alpha + x + 1.0, beta + n - x) - ln_beta(alpha, beta);
        Ok((ln_rate - self.ln_likelihood(x, t_x, n)).exp() * survival)
    }

    /// P(X(n) = k) for a new customer: k transactions in the first n
    /// opportunities after the first (eq. 7).
    pub fn prob_purchases(&self, k: f64, n: f64) -> Result<f64, String> {
        check_periods("horizon", n)?;
        if k > n {
            return Ok(0.0);
        }
        let Self {
            alpha,
            beta,
            gamma,
            delta,
        } = *self;
        let ln_choose =
            |n: f64, k: f64| ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0);
        let base = ln_beta(alpha, beta) + ln_beta(gamma, delta);
        let mut total =
            ln_choose(n, k) + ln_beta(alpha + k, beta + n - k) + ln_beta(gamma, delta + n);
        let mut i = k;
        while i < n {
            total = log_add(
                total,
                ln_choose(i, k)
                    + ln_beta(alpha + k, beta + i - k)
                    + ln_beta(gamma + 1.0, delta + i),
            );
            i += 1.0;
        }
        Ok((total - base).exp().clamp(0.0, 1.0))
    }
}

/// ln B(a, b), NaN or infinite (never a panic, as statrs's `ln_beta`)
/// where a parameter underflowed to 0 during a fit's line search.
fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(e^a + e^b).
fn log_add(a: f64, b: f64) -> f64 {
    let (high, low) = if a > b { (a, b) } else { (b, a) };
    if low == f64::NEG_INFINITY {
        high
    } else {
        high + (low - high).exp().ln_1p()
    }
}

/// ∂/∂(α, β, γ, δ) of ln B(α + u, β + v) + ln B(γ + g, δ + w) for shifts
/// (u, v) of α and β and (g, w) of γ and δ.
fn d_ln_betas(m: &BgBb, u: f64, v: f64, g: f64, w: f64) -> [f64; 4] {
    let ab = digamma(m.alpha + m.beta + u + v);
    let gd = digamma(m.gamma + m.delta + g + w);
    [
        digamma(m.alpha + u) - ab,
        digamma(m.beta + v) - ab,
        digamma(m.gamma + g) - gd,
        digamma(m.delta + w) - gd,
    ]
}

/// Digamma at z, z + 1, z + 2, ... by ψ(z + 1) = ψ(z) + 1/z.
struct DigammaSteps {
    z: f64,
    value: f64,
}

impl DigammaSteps {
    fn from(z: f64) -> Self {
        Self {
            z,
            value: digamma(z),
        }
    }

    fn step(&mut self) {
        self.value += 1.0 / self.z;
        self.z += 1.0;
    }
}

/// The mean log-likelihood per customer of `histories` (x, t_x, n) and its
/// gradient with respect to the log-parameters (ln α, ln β, ln γ, ln δ),
/// over up to `threads` threads.
pub(crate) fn mean_log_likelihood(
    histories: &Histories,
    log_params: &[f64],
    threads: usize,
) -> (f64, Vec<f64>) {
    let m = BgBb::from_log(log_params);
    let h = histories;
    let base = d_ln_betas(&m, 0.0, 0.0, 0.0, 0.0);
    let base_ln = ln_beta(m.alpha, m.beta) + ln_beta(m.gamma, m.delta);
    let sums = sum_in_parallel::<5>(h.len(), threads, |range| {
        let mut acc = [0.0; 5];
        for i in range {
            let (x, t_x, n, count) = (h.x[i], h.t_x[i], h.t[i], h.count[i]);
            let (alive, dead) = m.ln_parts(x, t_x, n);
            let ll = log_add(alive, dead);
            acc[0] += count * ll;
            // Each term's share of L times its log-derivative.
            let mut add = |share: f64, d: [f64; 4]| {
                for k in 0..4 {
                    acc[k + 1] += count * share * (d[k] - base[k]);
                }
            };
            add((alive - ll).exp(), d_ln_betas(&m, x, n - x, 0.0, n));
            // The dead terms' derivatives, ψ's stepped along with them.
            let first = (m.ln_first_dead_term(x, t_x) - base_ln - ll).exp();
            let d_alpha = digamma(m.alpha + x);
            let d_gamma = digamma(m.gamma + 1.0);
            let mut ab = DigammaSteps::from(m.alpha + m.beta + t_x);
            let mut b = DigammaSteps::from(m.beta + t_x - x);
            let mut gd = DigammaSteps::from(m.gamma + m.delta + t_x + 1.0);
            let mut d = DigammaSteps::from(m.delta + t_x);
            m.dead_terms(x, t_x, n, |relative| {
                add(
                    first * relative,
                    [
                        d_alpha - ab.value,
                        b.value - ab.value,
                        d_gamma - gd.value,
                        d.value - gd.value,
                    ],
                );
                for steps in [&mut ab, &mut b, &mut gd, &mut d] {
                    steps.step();
                }
            });
        }
        acc
    });
    let customers = h.customers();
    let params = [m.alpha, m.beta, m.gamma, m.delta];
    let gradient = (0..4)
        .map(|k| sums[k + 1] * params[k] / customers)
        .collect();
    (sums[0] / customers, gradient)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::check;

    /// The paper's estimates on the donation data (Fader, Hardie & Shang
    /// 2010, Table 2).
    const PAPER: BgBb = BgBb {
        alpha: 1.204,
        beta: 0.750,
        gamma: 0.657,
        delta: 2.783,
    };

    #[test]
    fn purchase_probabilities_sum_to_one_with_the_expected_mean() {
        let n = 10.0;
        let (mut total, mut mean) = (0.0, 0.0);
        for k in 0..=10 {
            let p = PAPER.prob_purchases(k as f64, n).unwrap();
            total += p;
            mean += k as f64 * p;
        }
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        // A new customer is x = t_x = n = 0 at their first opportunity.
        let expected = PAPER.expected_purchases(0.0, 0.0, 0.0, n).unwrap();
        assert!((mean - expected).abs() < 1e-12, "{mean} vs {expected}");
    }

    #[test]
    fn expected_purchases_are_the_sum_of_each_periods_chance() {
        // E[X(n, n+m)] = Σ_k P(alive at n+k, transact) computed term by term.
        let (x, t_x, n) = (3.0, 4.0, 6.0);
        let ll = PAPER.ln_likelihood(x, t_x, n);
        let rate =
            ln_beta(PAPER.alpha + x + 1.0, PAPER.beta + n - x) - ln_beta(PAPER.alpha, PAPER.beta);
        let direct: f64 = (1..=5)
            .map(|k| {
                let alive = ln_beta(PAPER.gamma, PAPER.delta + n + k as f64)
                    - ln_beta(PAPER.gamma, PAPER.delta);
                (rate + alive - ll).exp()
            })
            .sum();
        let closed = PAPER.expected_purchases(x, t_x, n, 5.0).unwrap();
        assert!((closed - direct).abs() < 1e-12, "{closed} vs {direct}");
        // γ = 1 is the limit of its neighbours.
        let at = |gamma| {
            BgBb { gamma, ..PAPER }
                .expected_purchases(x, t_x, n, 5.0)
                .unwrap()
        };
        assert!((at(1.0) - (at(1.0 - 1e-3) + at(1.0 + 1e-3)) / 2.0).abs() < 1e-6);
    }

    #[test]
    fn histories_must_fit_the_periods() {
        assert!(
            PAPER
                .p_alive(2.0, 1.0, 6.0)
                .unwrap_err()
                .contains("frequency <= recency <= t")
        );
        assert!(
            PAPER
                .p_alive(0.0, 1.0, 6.0)
                .unwrap_err()
                .contains("recency = 0 without")
        );
        assert!(
            PAPER
                .p_alive(1.0, 1.5, 6.0)
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            PAPER
                .expected_purchases(1.0, 1.0, 6.0, 1e9)
                .unwrap_err()
                .contains("horizon")
        );
    }

    #[test]
    fn gradient_matches_central_differences() {
        let h = Histories::new(vec![
            (0.0, 0.0, 6.0, 3464.0),
            (1.0, 2.0, 6.0, 277.0),
            (3.0, 5.0, 6.0, 100.0),
            (6.0, 6.0, 6.0, 1203.0),
        ]);
        check::gradient_matches_central_differences(
            |p| mean_log_likelihood(&h, p, 1),
            &[0.2, -0.3, -0.4, 1.0],
        );
    }
}
