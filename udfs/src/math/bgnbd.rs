//! The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the
//! Easy Way", Marketing Science 24(2); derivations in Hardie's notes 004 and
//! 021). While alive, a customer buys at Poisson rate λ ~ Gamma(r, α); after
//! each purchase they drop out with probability p ~ Beta(a, b).
//!
//! A customer's history is x repeat purchases, the last at t_x, observed up
//! to age T (all in one time unit; α is in that unit too).
//!
//! The MBG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical
//! validation and comparison of models for customer base analysis", IJRM
//! 24(3)) differs in one assumption: a customer may also drop out at the
//! first purchase, so one without repeat purchases can be gone. Its formulas
//! are BG/NBD's with b + x − 1 replaced by b + x wherever the dropout odds
//! appear ([`Dropout::shift`]), as lifetimes' `ModifiedBetaGeoFitter` has them.

use datafusion_common::HashMap;
use std::rc::Rc;

use smallvec::SmallVec;
use statrs::function::beta::{checked_beta_reg, checked_ln_beta, ln_beta};
use statrs::function::gamma::{digamma, ln_gamma};

use super::Num;
use super::histories::Histories;
use super::hyp2f1::hyp2f1;
use crate::parallel::sum_in_parallel;

/// When a customer may drop out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropout {
    /// After each repeat purchase (BG/NBD): a customer without repeat
    /// purchases is alive.
    AfterRepeatPurchases,
    /// At every purchase, the first included (MBG/NBD).
    AtEveryPurchase,
}

impl Dropout {
    /// What MBG/NBD adds to b in BG/NBD's formulas: 0 or 1.
    fn shift(self) -> f64 {
        match self {
            Self::AfterRepeatPurchases => 0.0,
            Self::AtEveryPurchase => 1.0,
        }
    }
}

/// BG/NBD or MBG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub dropout: Dropout,
}

impl BgNbd {
    /// From parameters (r, α, a, b).
    pub fn from_params(params: &[f64], dropout: Dropout) -> Self {
        Self {
            r: params[0],
            alpha: params[1],
            a: params[2],
            b: params[3],
            dropout,
        }
    }

    /// From log-parameters (r, α, a, b).
    pub fn from_log(log_params: &[f64], dropout: Dropout) -> Self {
        let params: Vec<f64> = log_params.iter().map(|p| p.exp()).collect();
        Self::from_params(&params, dropout)
    }

    /// Whether a customer with x repeat purchases may have dropped out.
    fn may_be_dead(&self, x: f64) -> bool {
        x > 0.0 || self.dropout == Dropout::AtEveryPurchase
    }

    /// ln[a / (b + x − 1) · ((α + T) / (α + t_x))^(r + x)]: the log odds of
    /// having dropped out after the last purchase (note 021, eq. 2; b + x for
    /// MBG/NBD).
    fn log_odds_dead(&self, x: f64, t_x: f64, t: f64) -> f64 {
        (self.a / (self.b + (x - 1.0 + self.dropout.shift()))).ln()
            + (self.r + x) * ((self.alpha + t) / (self.alpha + t_x)).ln()
    }

    /// P(alive | x, t_x, T) (note 021, eq. 2): under BG/NBD 1 for x = 0.
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if self.may_be_dead(x) {
            1.0 / (1.0 + self.log_odds_dead(x, t_x, t).exp())
        } else {
            1.0
        }
    }

    /// 1 − P(alive), computed directly so that small values keep their digits.
    pub fn churn_prob(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if self.may_be_dead(x) {
            1.0 / (1.0 + (-self.log_odds_dead(x, t_x, t)).exp())
        } else {
            0.0
        }
    }

    /// E[X(T, T + horizon) | x, t_x, T], the expected purchases over the next
    /// `horizon` (eq. 10). With x = t_x = T = 0 it is the expectation for a
    /// new customer (eq. 9). `cache` keeps series coefficients for the next
    /// customers.
    pub fn expected_purchases(
        &self,
        x: f64,
        t_x: f64,
        t: f64,
        horizon: f64,
        cache: &mut SeriesCache,
    ) -> Result<f64, String> {
        let curve = self.purchase_curve(x, t, horizon, cache);
        Ok(curve.at(horizon)? * self.p_alive(x, t_x, t))
    }

    /// Eq. 10 without its P(alive) factor (which does not depend on the
    /// horizon) for one customer at any horizon up to `max_horizon`: the
    /// purchases expected from a customer alive at T. The series'
    /// coefficients depend on the model and x only, so `cache` shares them
    /// between customers. MBG/NBD's curve is BG/NBD's with b + 1.
    pub fn purchase_curve(
        &self,
        x: f64,
        t: f64,
        max_horizon: f64,
        cache: &mut SeriesCache,
    ) -> PurchaseCurve {
        // Eq. 10 is 0/0 at a = 1 but analytic in a: there the mean of its
        // values at a = 1 ± h is within O(h²) ≈ 1e-8 of the limit.
        const H: f64 = 1e-4;
        let curve_model = Self {
            b: self.b + self.dropout.shift(),
            dropout: Dropout::AfterRepeatPurchases,
            ..*self
        };
        let models: SmallVec<[Self; 2]> = if (self.a - 1.0).abs() < H {
            [1.0 - H, 1.0 + H]
                .into_iter()
                .map(|a| Self { a, ..curve_model })
                .collect()
        } else {
            SmallVec::from_elem(curve_model, 1)
        };
        let z_max = max_horizon / (self.alpha + t + max_horizon);
        PurchaseCurve {
            x,
            t,
            parts: models
                .into_iter()
                .map(|model| {
                    let Self { r, a, b, .. } = model;
                    let series =
                        cache.coefficients(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z_max);
                    (model, series)
                })
                .collect(),
        }
    }

    /// P(X(horizon) = n) for a new customer (eq. 8; for MBG/NBD, lifetimes'
    /// `probability_of_n_purchases_up_to_time`). The bracket of its second
    /// term is P(N >= n) for N ~ NB(r, α / (α + t)), the regularized
    /// incomplete beta I_z(n, r), exact also far in the tail. An error
    /// where statrs refuses its arguments (they overflowed).
    pub fn prob_purchases(&self, n: f64, horizon: f64) -> Result<f64, String> {
        let Self { r, alpha, a, b, .. } = *self;
        let shift = self.dropout.shift();
        if horizon == 0.0 && !self.may_be_dead(n) {
            return Ok(1.0);
        }
        if horizon == 0.0 && n > 0.0 {
            return Ok(0.0);
        }
        let z = horizon / (alpha + horizon);
        let ln_p0 = -r * (horizon / alpha).ln_1p();
        let ln_first = checked_ln_beta(a, b + n + shift).map_err(|e| e.to_string())?
            - ln_beta(a, b)
            + ln_gamma(r + n)
            - ln_gamma(r)
            - ln_gamma(n + 1.0)
            + ln_p0
            + if n == 0.0 { 0.0 } else { n * z.ln() };
        if !self.may_be_dead(n) {
            return Ok(ln_first.exp());
        }
        // b + (n − 1), not b + n − 1: that rounds to 0 for n = 1, b < 1e-16,
        // where statrs's ln_beta panics.
        let ln_second = checked_ln_beta(a + 1.0, b + (n - 1.0 + shift))
            .map_err(|e| e.to_string())?
            - ln_beta(a, b);
        let tail = if n == 0.0 {
            1.0
        } else {
            checked_beta_reg(n, r, z).map_err(|e| e.to_string())?
        };
        Ok(ln_first.exp() + ln_second.exp() * tail)
    }
}

/// The coefficients c_k (k >= 1) of a series 2F1(p, q; c; z) − 1 = Σ c_k z^k;
/// `None` at a pole or beyond 100,000 terms.
type Coefficients = Option<Rc<[f64]>>;

/// Series coefficients by (p, q, c), each with the largest z it was
/// computed for: the customers of a batch with one frequency share them.
#[derive(Debug, Default)]
pub(crate) struct SeriesCache {
    series: HashMap<[u64; 3], (f64, Coefficients)>,
}

impl SeriesCache {
    /// The coefficients of 2F1(p, q; c; z) − 1 for z up to `z_max`.
    fn coefficients(&mut self, p: f64, q: f64, c: f64, z_max: f64) -> Coefficients {
        let key = [p.to_bits(), q.to_bits(), c.to_bits()];
        match self.series.get(&key) {
            Some((covered, series)) if *covered >= z_max => series.clone(),
            _ => {
                let series = euler_coefficients(p, q, c, z_max).map(Rc::from);
                self.series.insert(key, (z_max, series.clone()));
                series
            }
        }
    }
}

/// The longest horizon of eq. 10, relative to α + T (a century in weeks
/// for a new customer of the BG/NBD paper). The series behind it converges
/// like z^k with z = τ / (α + T + τ): up to this ratio within the 100,000
/// coefficients [`euler_coefficients`] computes (about 80,000, under a
/// millisecond); beyond it the cost grows without bound as z nears 1.
pub(crate) const MAX_HORIZON_RATIO: f64 = 2000.0;

/// Horizons evaluated side by side: independent polynomial evaluations
/// overlap in the pipeline (and in SIMD lanes) where one would wait on each
/// multiply-add.
const LANES: usize = 8;

/// Eq. 10 without P(alive) for one customer over horizons up to a maximum.
///
/// P = (1 − z)^(r+x) 2F1(r+x, b+x; c; z) with c = a+b+x−1 and
/// z = τ/(α+T+τ). Euler's transformation 2F1(A, B; C; z) = (1 − z)^(C−A−B)
/// 2F1(C−A, C−B; C; z) turns it into (1 − z)^(a−1) 2F1(a+b−1−r, a−1; c; z),
/// whose upper parameters do not grow with x: a few terms even for
/// frequencies in the thousands. Its coefficients do not depend on τ, so
/// they are computed once and each horizon costs a polynomial. The direct
/// series is the fallback where that form is not positive.
#[derive(Debug, Clone)]
pub(crate) struct PurchaseCurve {
    x: f64,
    t: f64,
    /// One model, or two (a = 1 ± h) whose mean is taken near a = 1; with
    /// the coefficients of 2F1 − 1.
    parts: SmallVec<[(BgNbd, Coefficients); 2]>,
}

impl PurchaseCurve {
    pub fn at(&self, horizon: f64) -> Result<f64, String> {
        let mut value = [0.0];
        self.at_each(&[horizon], &mut value)?;
        Ok(value[0])
    }

    /// The curve at each of `horizons` (none beyond the curve's maximum),
    /// into `values`; an error for a horizon beyond [`MAX_HORIZON_RATIO`]
    /// times α + T.
    pub fn at_each(&self, horizons: &[f64], values: &mut [f64]) -> Result<(), String> {
        if let Some((model, _)) = self.parts.first() {
            let limit = MAX_HORIZON_RATIO * (model.alpha + self.t);
            if let Some(horizon) = horizons.iter().find(|h| **h > limit) {
                return Err(format!(
                    "argument horizon must be at most {MAX_HORIZON_RATIO} times the model's alpha + t (here {}) for a BG/NBD or MBG/NBD model, got {}",
                    Num(limit),
                    Num(*horizon)
                ));
            }
        }
        values.fill(0.0);
        for (model, coefficients) in &self.parts {
            for (horizons, values) in horizons.chunks(LANES).zip(values.chunks_mut(LANES)) {
                let BgNbd { alpha, .. } = *model;
                let mut z = [0.0; LANES];
                for (z, horizon) in z.iter_mut().zip(horizons) {
                    *z = horizon / (alpha + self.t + horizon);
                }
                let mut rest = [0.0; LANES];
                if let Some(coefficients) = coefficients {
                    for c in coefficients.iter().rev() {
                        for j in 0..LANES {
                            rest[j] = (rest[j] + c) * z[j];
                        }
                    }
                }
                for j in 0..horizons.len() {
                    let rest = coefficients.is_some().then_some(rest[j]);
                    values[j] += Self::eq10_if_alive(model, rest, self.x, self.t, horizons[j])?;
                }
            }
        }
        let parts = self.parts.len() as f64;
        values.iter_mut().for_each(|value| *value /= parts);
        Ok(())
    }

    /// Eq. 10 without P(alive) at one horizon, from the value of the
    /// transformed series (2F1 − 1) there when it has one.
    fn eq10_if_alive(
        model: &BgNbd,
        rest: Option<f64>,
        x: f64,
        t: f64,
        horizon: f64,
    ) -> Result<f64, String> {
        if horizon == 0.0 {
            return Ok(0.0);
        }
        let BgNbd { r, alpha, a, b, .. } = *model;
        let c = a + b + x - 1.0;
        let z = horizon / (alpha + t + horizon);
        // ln(1 − z) = ln((α + T) / (α + T + τ)).
        let ln_one_minus_z = -(horizon / (alpha + t)).ln_1p();
        if let Some(rest) = rest
            && rest > -1.0
        {
            // 1 − P = 1 − e^L (1 + rest) with L = (a−1) ln(1 − z): one
            // expm1 and no logarithm of the sum.
            let e = ((a - 1.0) * ln_one_minus_z).exp_m1();
            let value = c / (a - 1.0) * (-e - (1.0 + e) * rest);
            // For large a the polynomial's terms overflow (a = 150: rest is
            // ∞ beside e^L = 1e-229); the scaled series below does not.
            if value.is_finite() {
                return Ok(value);
            }
        }
        let f = hyp2f1(r + x, b + x, c, z)?;
        if f.sign < 0.0 {
            return Err(format!(
                "2F1({}, {}; {}; {}) is negative: the model (a = {}, b = {}) has no finite expectation here",
                Num(r + x),
                Num(b + x),
                Num(c),
                Num(z),
                Num(a),
                Num(b)
            ));
        }
        let ln_p = f.ln_abs + (r + x) * ln_one_minus_z;
        Ok(c / (a - 1.0) * -ln_p.exp_m1())
    }
}

/// The coefficients c_k (k >= 1) of 2F1(p, q; c; z) − 1 = Σ c_k z^k, as
/// many as z up to `z_max` needs (all terms beyond the first share one sign
/// once k > −p and k > −q); `None` at a pole or beyond 100,000 terms.
fn euler_coefficients(p: f64, q: f64, c: f64, z_max: f64) -> Option<Vec<f64>> {
    if c <= 0.0 && c == c.floor() {
        return None;
    }
    let mut coefficients = Vec::new();
    let (mut coefficient, mut term, mut sum) = (1.0_f64, 1.0_f64, 0.0_f64);
    let ratio_at = |k: f64| (p + k) * (q + k) / ((c + k) * (k + 1.0));
    let mut ratio = ratio_at(0.0);
    for k in 0..100_000 {
        let k = k as f64;
        coefficient *= ratio;
        coefficients.push(coefficient);
        term *= ratio * z_max;
        sum += term;
        let next = ratio_at(k + 1.0);
        let bound = (next * z_max).abs().max(z_max);
        if term == 0.0
            || (bound < 1.0
                && (next * z_max).abs() <= (ratio * z_max).abs().max(z_max)
                && term.abs() * bound / (1.0 - bound) <= 1e-17 * sum.abs())
        {
            return Some(coefficients);
        }
        ratio = next;
    }
    None
}

/// The mean log-likelihood per customer of `histories` (eq. 6 in the log-sum-
/// exp form of note 004; for MBG/NBD, lifetimes' `ModifiedBetaGeoFitter`)
/// and its gradient with respect to the log-parameters (ln r, ln α, ln a,
/// ln b), over up to `threads` threads.
pub(crate) fn mean_log_likelihood(
    histories: &Histories,
    log_params: &[f64],
    dropout: Dropout,
    threads: usize,
) -> (f64, Vec<f64>) {
    let m = BgNbd::from_log(log_params, dropout);
    let BgNbd { r, alpha, a, b, .. } = m;
    let shift = dropout.shift();
    let (ln_gamma_r, digamma_r) = (ln_gamma(r), digamma(r));
    let (ln_gamma_ab, digamma_ab) = (ln_gamma(a + b), digamma(a + b));
    let (ln_gamma_b, digamma_b) = (ln_gamma(b), digamma(b));
    let h = histories;
    // ln(α + v) and 1 / (α + v) for every distinct recency and age v.
    let ln_alpha_plus: Vec<f64> = h.times.iter().map(|v| (alpha + v).ln()).collect();
    let inv_alpha_plus: Vec<f64> = h.times.iter().map(|v| 1.0 / (alpha + v)).collect();
    let ln_alpha = alpha.ln();
    // Per history: ll, then d ll / d(r, α, a, b).
    let sums = sum_in_parallel::<5>(h.len(), threads, |range| {
        let mut acc = [0.0; 5];
        // Terms of x alone, recomputed when x changes (histories are sorted).
        let mut x_prev = f64::NAN;
        let (mut a12, mut dr_x, mut da_x, mut db_x, mut ln_a_b) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in range {
            let (x, count) = (h.x[i], h.count[i]);
            if x != x_prev {
                x_prev = x;
                // A1 + A2 of note 004: ln Γ(r+x) − ln Γ(r) + r ln α
                // + ln B(a, b+x) − ln B(a, b) (b+x+1 for MBG/NBD).
                let bx = b + x + shift;
                a12 = ln_gamma(r + x) - ln_gamma_r + r * ln_alpha + ln_gamma_ab + ln_gamma(bx)
                    - ln_gamma_b
                    - ln_gamma(a + bx);
                dr_x = digamma(r + x) - digamma_r + ln_alpha;
                da_x = digamma_ab - digamma(a + bx);
                db_x = digamma_ab + digamma(bx) - digamma_b - digamma(a + bx);
                ln_a_b = if m.may_be_dead(x) {
                    (a / (bx - 1.0)).ln()
                } else {
                    0.0
                };
            }
            // A3 = −(r+x) ln(α+T); A4 = ln(a/(b+x−1)) − (r+x) ln(α+t_x) when
            // the customer may be dead; ll = A1 + A2 + ln(e^A3 + e^A4), and w
            // is A4's share.
            let t = h.t_index[i] as usize;
            let (ln_at, inv_at) = (ln_alpha_plus[t], inv_alpha_plus[t]);
            let a3 = -(r + x) * ln_at;
            if !m.may_be_dead(x) {
                acc[0] += count * (a12 + a3);
                acc[1] += count * (dr_x - ln_at);
                acc[2] += count * (r / alpha - (r + x) * inv_at);
                acc[3] += count * da_x;
                acc[4] += count * db_x;
                continue;
            }
            let t_x = h.t_x_index[i] as usize;
            let (ln_atx, inv_atx) = (ln_alpha_plus[t_x], inv_alpha_plus[t_x]);
            // d = A4 − A3; ln(e^A3 + e^A4) = max + ln(1 + e^−|d|), whose
            // argument lies in [1, 2], where ln needs no ln_1p.
            let d = ln_a_b - (r + x) * (ln_atx - ln_at);
            let e = (-d.abs()).exp();
            let (tail, w) = if d > 0.0 {
                (a3 + d + (1.0 + e).ln(), 1.0 / (1.0 + e))
            } else {
                (a3 + (1.0 + e).ln(), e / (1.0 + e))
            };
            acc[0] += count * (a12 + tail);
            acc[1] += count * (dr_x - (1.0 - w) * ln_at - w * ln_atx);
            acc[2] += count * (r / alpha - (r + x) * ((1.0 - w) * inv_at + w * inv_atx));
            acc[3] += count * (da_x + w / a);
            acc[4] += count * (db_x - w / (b + x - 1.0 + shift));
        }
        acc
    });
    let n = h.customers();
    let params = [r, alpha, a, b];
    let gradient = (0..4).map(|i| sums[i + 1] * params[i] / n).collect();
    (sums[0] / n, gradient)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::math::check;

    /// The paper's rounded CDNOW estimates (Fader, Hardie & Lee 2005, p. 280).
    pub(crate) const PAPER: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
        dropout: Dropout::AfterRepeatPurchases,
    };

    #[test]
    fn the_papers_example_customer() {
        // x = 2, t_x = 30.43, T = 38.86 weeks: P(alive) 0.72658 and 1.22603
        // purchases in the next 39 weeks (note 021 and the paper's section 5),
        // to the digits published.
        let (x, t_x, t) = (2.0, 30.43, 38.86);
        assert!((PAPER.p_alive(x, t_x, t) - 0.72658).abs() < 5e-6);
        assert!((PAPER.churn_prob(x, t_x, t) - (1.0 - 0.72658)).abs() < 5e-6);
        let e = PAPER
            .expected_purchases(x, t_x, t, 39.0, &mut SeriesCache::default())
            .unwrap();
        assert!((e - 1.22603).abs() < 5e-6, "{e}");
    }

    #[test]
    fn purchase_probabilities_sum_to_one_with_the_expected_mean() {
        let horizon = 52.0;
        let (mut total, mut mean) = (0.0, 0.0);
        for n in 0..2000 {
            let p = PAPER.prob_purchases(n as f64, horizon).unwrap();
            assert!((0.0..=1.0).contains(&p));
            total += p;
            mean += n as f64 * p;
        }
        let expected = PAPER
            .expected_purchases(0.0, 0.0, 0.0, horizon, &mut SeriesCache::default())
            .unwrap();
        assert!((total - 1.0).abs() < 1e-12, "{total}");
        assert!(
            (mean - expected).abs() < 1e-9 * expected,
            "{mean} vs {expected}"
        );
        assert_eq!(PAPER.prob_purchases(0.0, 0.0), Ok(1.0));
    }

    #[test]
    fn the_euler_form_agrees_with_the_direct_series() {
        // Frequencies up to the thousands, horizons up to 100x the age.
        for (x, t_x, t) in [
            (0.0, 0.0, 0.0),
            (1.0, 3.0, 40.0),
            (50.0, 300.0, 310.0),
            (3000.0, 2900.0, 3000.0),
        ] {
            for horizon in [1.0, 39.0, 520.0, 4000.0] {
                let euler = PAPER
                    .expected_purchases(x, t_x, t, horizon, &mut SeriesCache::default())
                    .unwrap();
                let f = hyp2f1(
                    PAPER.r + x,
                    PAPER.b + x,
                    PAPER.a + PAPER.b + x - 1.0,
                    horizon / (PAPER.alpha + t + horizon),
                )
                .unwrap();
                let ln_p = f.ln_abs - (PAPER.r + x) * (horizon / (PAPER.alpha + t)).ln_1p();
                let direct = (PAPER.a + PAPER.b + x - 1.0) / (PAPER.a - 1.0)
                    * -ln_p.exp_m1()
                    * PAPER.p_alive(x, t_x, t);
                assert!(
                    (euler - direct).abs() <= 1e-10 * direct.abs(),
                    "x {x} horizon {horizon}: {euler} vs {direct}"
                );
            }
        }
    }

    #[test]
    fn a_equal_to_one_is_the_limit_of_its_neighbours() {
        let near = |a| {
            BgNbd { a, ..PAPER }
                .expected_purchases(3.0, 20.0, 30.0, 39.0, &mut SeriesCache::default())
                .unwrap()
        };
        let at_one = near(1.0);
        assert!(at_one.is_finite());
        assert!((at_one - (near(1.0 - 1e-3) + near(1.0 + 1e-3)) / 2.0).abs() < 1e-6 * at_one);
    }

    #[test]
    fn gradient_matches_central_differences() {
        let h = Histories::new(vec![
            (0.0, 0.0, 38.9, 1411.0),
            (1.0, 2.3, 30.1, 300.0),
            (2.0, 30.43, 38.86, 100.0),
            (7.0, 35.0, 36.0, 20.0),
        ]);
        for dropout in [Dropout::AfterRepeatPurchases, Dropout::AtEveryPurchase] {
            check::gradient_matches_central_differences(
                |p| mean_log_likelihood(&h, p, dropout, 1),
                &[-1.3, 1.4, -0.2, 0.9],
            );
        }
    }
}
