//! The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987), in the forms
//! of Fader & Hardie's notes: 009 (likelihood, eq. 18-20; P(alive); the
//! conditional expectation) and 028 (the purchase-count distribution). While
//! alive a customer buys at Poisson rate λ ~ Gamma(r, α); their lifetime is
//! exponential with rate μ ~ Gamma(s, β).
//!
//! The likelihood runs through 2F1 and a difference of two terms; it is
//! written once on [`Dual`] numbers, which give its exact gradient.

use datafusion_common::HashMap;
use statrs::function::beta::ln_beta;
use statrs::function::gamma::ln_gamma;

use super::Num;
use super::dual::Dual;
use super::histories::Histories;
use super::hyp2f1::hyp2f1;
use crate::parallel::sum_in_parallel;

/// The largest purchase count `prob_purchases` takes: a sum of n + 1 terms,
/// each a 2F1, so about a second at this bound.
pub(crate) const MAX_PROB_PURCHASES_N: f64 = 10_000.0;

/// Pareto/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// ln A_0 of note 009 (eq. 19-20):
/// A_0 = 2F1(r+s+x, b'; r+s+x+1; |α−β| / (max + t_x)) / (max + t_x)^(r+s+x) − (same at T),
/// with max = max(α, β) and b' = r + x when α < β, else s + 1. −∞ when t_x = T.
fn ln_a0<const N: usize>(
    params: [Dual<N>; 4],
    x: f64,
    t_x: f64,
    t: f64,
) -> Result<Dual<N>, String> {
    if t_x == t {
        return Ok(Dual::constant(f64::NEG_INFINITY));
    }
    Ok(a0_term(params, x, t_x)?.log_sub_exp(a0_term(params, x, t)?))
}

/// The term of ln A_0 at one age (t_x or T):
/// ln 2F1(r+s+x, b'; r+s+x+1; |α−β| / (max + age)) − (r+s+x) ln(max + age).
/// It depends on x and the age alone, so customers share it.
fn a0_term<const N: usize>(
    [r, alpha, s, beta]: [Dual<N>; 4],
    x: f64,
    age: f64,
) -> Result<Dual<N>, String> {
    let (max, min, b) = if alpha.v < beta.v {
        (beta, alpha, r + x)
    } else {
        (alpha, beta, s + 1.0)
    };
    let rsx = r + s + x;
    let q = max + age;
    Ok(Dual::ln_hyp2f1(rsx, b, rsx + 1.0, (max - min) / q)? - rsx * q.ln())
}

/// ln of the odds of being alive against having died within (t_x, T]:
/// ln[(r+s+x)/s] − (r+x) ln(α+T) − s ln(β+T) − ln A_0.
fn log_odds_alive<const N: usize>(
    params: [Dual<N>; 4],
    x: f64,
    t_x: f64,
    t: f64,
) -> Result<Dual<N>, String> {
    let [r, alpha, s, beta] = params;
    let ln_a0 = ln_a0(params, x, t_x, t)?;
    Ok((r + s + x).ln() - s.ln() - (r + x) * (alpha + t).ln() - s * (beta + t).ln() - ln_a0)
}

/// One customer's log-likelihood (eq. 18):
/// ln Γ(r+x) − ln Γ(r) + r ln α + s ln β
/// + ln[(α+T)^−(r+x) (β+T)^−s + s/(r+s+x) A_0].
///
/// [`mean_log_likelihood`] computes it with the terms that customers share.
fn log_likelihood<const N: usize>(
    params: [Dual<N>; 4],
    x: f64,
    t_x: f64,
    t: f64,
) -> Result<Dual<N>, String> {
    let ln_a0 = ln_a0(params, x, t_x, t)?;
    let [r, alpha, s, beta] = params;
    let a1 = (r + x).ln_gamma() - r.ln_gamma() + r * alpha.ln() + s * beta.ln();
    let alive = -(r + x) * (alpha + t).ln() - s * (beta + t).ln();
    let died = s.ln() + ln_a0 - (r + s + x).ln();
    Ok(a1 + alive.log_add_exp(died))
}

impl ParetoNbd {
    fn duals(&self) -> [Dual<0>; 4] {
        [self.r, self.alpha, self.s, self.beta].map(Dual::constant)
    }

    /// P(alive | x, t_x, T) (note 009, eq. 15).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> Result<f64, String> {
        let odds = log_odds_alive(self.duals(), x, t_x, t)?.v;
        Ok(1.0 / (1.0 + (-odds).exp()))
    }

    /// 1 − P(alive), computed directly so that small values keep their digits.
    pub fn churn_prob(&self, x: f64, t_x: f64, t: f64) -> Result<f64, String> {
        let odds = log_odds_alive(self.duals(), x, t_x, t)?.v;
        Ok(1.0 / (1.0 + odds.exp()))
    }

    /// E[X(T, T + horizon) | x, t_x, T] (note 009, eq. 22): P(alive) times
    /// [`Self::expected_purchases_if_alive`].
    pub fn expected_purchases(
        &self,
        x: f64,
        t_x: f64,
        t: f64,
        horizon: f64,
    ) -> Result<f64, String> {
        Ok(self.p_alive(x, t_x, t)? * self.expected_purchases_if_alive(x, t, horizon))
    }

    /// The purchases expected over the next `horizon` from a customer alive
    /// at T: (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^(s−1)], whose
    /// bracket over (s − 1) tends to ln((β+T+t)/(β+T)) at s = 1.
    pub fn expected_purchases_if_alive(&self, x: f64, t: f64, horizon: f64) -> f64 {
        let Self { r, alpha, s, beta } = *self;
        let ln_ratio = -(horizon / (beta + t)).ln_1p();
        let survival_integral = if s == 1.0 {
            -ln_ratio
        } else {
            -((s - 1.0) * ln_ratio).exp_m1() / (s - 1.0)
        };
        (r + x) * (beta + t) / (alpha + t) * survival_integral
    }

    /// P(X(horizon) = n) for a new customer: note 028's eq. 16 at x = t_x =
    /// T = 0 (where the likelihood is 1); an error for n beyond
    /// [`MAX_PROB_PURCHASES_N`].
    pub fn prob_purchases(&self, n: f64, horizon: f64) -> Result<f64, String> {
        let Self { r, alpha, s, beta } = *self;
        if n > MAX_PROB_PURCHASES_N {
            return Err(format!(
                "argument n must be at most {MAX_PROB_PURCHASES_N} for a Pareto/NBD model (its probability is a sum of n + 1 terms), got {}",
                Num(n)
            ));
        }
        if horizon == 0.0 {
            return Ok(if n == 0.0 { 1.0 } else { 0.0 });
        }
        let (max, min, p) = if alpha < beta {
            (beta, alpha, r + n)
        } else {
            (alpha, beta, s + 1.0)
        };
        let prior = r * alpha.ln() + s * beta.ln() - ln_gamma(r);
        let ln_b1 =
            ln_gamma(r + n) + prior - (r + n) * (alpha + horizon).ln() - s * (beta + horizon).ln();
        let beta_fn = ln_beta(r + n, s + 1.0) - ln_gamma(s);
        let ln_b2 = prior
            + ln_gamma(r + s)
            + beta_fn
            + hyp2f1(r + s, p, r + s + n + 1.0, (max - min) / max)?.ln_abs
            - (r + s) * max.ln();
        let mut b3 = 0.0;
        for i in 0..=(n as u64) {
            let i = i as f64;
            let ln_b3 = prior
                + ln_gamma(r + s + i)
                + beta_fn
                + hyp2f1(r + s + i, p, r + s + n + 1.0, (max - min) / (max + horizon))?.ln_abs
                - (r + s + i) * (max + horizon).ln();
            b3 += (i * horizon.ln() - ln_gamma(i + 1.0) + ln_b3).exp();
        }
        let first = (n * horizon.ln() - ln_gamma(n + 1.0) + ln_b1).exp();
        // The last two terms cancel in the far tail: rounding below zero is
        // 0, and above one 1.
        Ok((first + ln_b2.exp() - b3).clamp(0.0, 1.0))
    }
}

/// The mean log-likelihood per customer of `histories` and its gradient
/// with respect to (ln r, ln α, ln s, ln β), over up to `threads` threads.
pub(crate) fn mean_log_likelihood(
    histories: &Histories,
    log_params: &[f64],
    threads: usize,
) -> Result<(f64, Vec<f64>), String> {
    let params: [Dual<4>; 4] = std::array::from_fn(|i| Dual::exp_of_input(log_params[i], i));
    let [r, alpha, s, beta] = params;
    // eq. 18's terms of the parameters alone.
    let prior = -r.ln_gamma() + r * alpha.ln() + s * beta.ln();
    let ln_s = s.ln();
    let h = histories;
    let sums = sum_in_parallel::<5>(h.len(), threads, |range| {
        let mut acc = [0.0; 5];
        // Histories are sorted by x, and customers of one x share recencies
        // and ages (whole days: 246k distinct histories of 1M customers).
        // What depends on x alone is computed when x changes; ln A_0's
        // terms (2F1 series of hundreds of terms) and the alive term once
        // per (x, age) rather than per history.
        let mut x_prev = f64::NAN;
        let (mut of_x, mut died_of_x) = (Dual::constant(0.0), Dual::constant(0.0));
        let mut a0_terms: HashMap<u32, Dual<4>> = HashMap::default();
        let mut alive_terms: HashMap<u32, Dual<4>> = HashMap::default();
        for i in range {
            let x = h.x[i];
            if x != x_prev {
                x_prev = x;
                of_x = (r + x).ln_gamma() + prior;
                died_of_x = ln_s - (r + s + x).ln();
                a0_terms.clear();
                alive_terms.clear();
            }
            let mut a0_term = |age: u32| -> Result<Dual<4>, String> {
                if let Some(term) = a0_terms.get(&age) {
                    return Ok(*term);
                }
                let term = a0_term(params, x, h.times[age as usize])?;
                a0_terms.insert(age, term);
                Ok(term)
            };
            let ln_a0 = if h.t_x[i] == h.t[i] {
                Ok(Dual::constant(f64::NEG_INFINITY))
            } else {
                a0_term(h.t_x_index[i]).and_then(|a| Ok(a.log_sub_exp(a0_term(h.t_index[i])?)))
            };
            let Ok(ln_a0) = ln_a0 else {
                return [f64::NAN; 5];
            };
            let alive = *alive_terms.entry(h.t_index[i]).or_insert_with(|| {
                let t = h.t[i];
                -(r + x) * (alpha + t).ln() - s * (beta + t).ln()
            });
            let ll = of_x + alive.log_add_exp(died_of_x + ln_a0);
            acc[0] += h.count[i] * ll.v;
            for (a, d) in acc[1..].iter_mut().zip(ll.d) {
                *a += h.count[i] * d;
            }
        }
        acc
    });
    if sums[0].is_nan() {
        // Name the first history whose likelihood fails.
        for i in 0..h.len() {
            log_likelihood(params, h.x[i], h.t_x[i], h.t[i])?;
        }
    }
    let n = h.customers();
    Ok((sums[0] / n, sums[1..].iter().map(|s| s / n).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::check;

    /// lifetimes 0.11.3's ParetoNBDFitter at these parameters
    /// (tests/reference/lifetimes_models.py prints them).
    const MODEL: ParetoNbd = ParetoNbd {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    };

    #[test]
    fn purchase_probabilities_sum_to_one_with_the_expected_mean() {
        for model in [
            MODEL,
            ParetoNbd {
                alpha: 14.0,
                beta: 9.0,
                ..MODEL
            },
        ] {
            let horizon = 39.0;
            let (mut total, mut mean) = (0.0, 0.0);
            for n in 0..400 {
                let p = model.prob_purchases(n as f64, horizon).unwrap();
                total += p;
                mean += n as f64 * p;
            }
            let expected = model.expected_purchases(0.0, 0.0, 0.0, horizon).unwrap();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
            assert!(
                (mean - expected).abs() < 1e-7 * expected,
                "{mean} vs {expected}"
            );
        }
    }

    #[test]
    fn p_alive_is_one_after_a_purchase_today_and_falls_with_silence() {
        assert_eq!(MODEL.p_alive(3.0, 30.0, 30.0).unwrap(), 1.0);
        let soon = MODEL.p_alive(3.0, 29.0, 30.0).unwrap();
        let long_ago = MODEL.p_alive(3.0, 5.0, 30.0).unwrap();
        assert!(long_ago < soon && soon < 1.0);
        let churn = MODEL.churn_prob(3.0, 5.0, 30.0).unwrap();
        assert!((churn + long_ago - 1.0).abs() < 1e-15);
    }

    #[test]
    fn gradient_matches_central_differences() {
        let h = Histories::new(vec![
            (0.0, 0.0, 38.9, 1411.0),
            (1.0, 2.3, 30.1, 300.0),
            (2.0, 30.43, 38.86, 100.0),
            (7.0, 35.0, 36.0, 20.0),
        ]);
        for at in [[-0.6, 2.36, -0.5, 2.46], [-0.6, 2.46, -0.5, 2.36]] {
            check::gradient_matches_central_differences(
                |p| mean_log_likelihood(&h, p, 1).unwrap(),
                &at,
            );
        }
    }

    /// The shared terms (per x, per (x, age)) give each customer's own
    /// likelihood: histories that share x, recencies and ages, one bought
    /// on its last day (t_x = T).
    #[test]
    fn the_mean_is_the_mean_of_each_customers_likelihood() {
        let rows = vec![
            (0.0, 0.0, 30.0, 10.0),
            (0.0, 0.0, 38.0, 5.0),
            (1.0, 2.0, 30.0, 3.0),
            (1.0, 2.0, 38.0, 2.0),
            (1.0, 30.0, 38.0, 1.0),
            (1.0, 38.0, 38.0, 1.0),
            (4.0, 30.0, 38.0, 2.0),
        ];
        let h = Histories::new(rows.clone());
        for log_params in [[-0.6, 2.36, -0.5, 2.46], [-0.6, 2.46, -0.5, 2.36]] {
            let params: [Dual<4>; 4] =
                std::array::from_fn(|i| Dual::exp_of_input(log_params[i], i));
            let (mut value, mut gradient, mut n) = (0.0, [0.0; 4], 0.0);
            for &(x, t_x, t, count) in &rows {
                let ll = log_likelihood(params, x, t_x, t).unwrap();
                value += count * ll.v;
                for (g, d) in gradient.iter_mut().zip(ll.d) {
                    *g += count * d;
                }
                n += count;
            }
            let (mean, mean_gradient) = mean_log_likelihood(&h, &log_params, 2).unwrap();
            assert!((mean - value / n).abs() < 1e-13, "{mean} vs {}", value / n);
            for (got, sum) in mean_gradient.iter().zip(gradient) {
                assert!((got - sum / n).abs() < 1e-13, "{got} vs {}", sum / n);
            }
        }
    }
}
