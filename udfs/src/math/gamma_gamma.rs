//! The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee
//! 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis";
//! Fader & Hardie's note 025). A customer's transactions are Gamma(p, ν)
//! with ν ~ Gamma(q, v) across customers; it is fitted on the x repeat
//! transactions of each repeat buyer and their mean value m.

use statrs::function::gamma::{digamma, ln_gamma};

use super::Num;
use crate::parallel::sum_in_parallel;

/// Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl GammaGamma {
    /// E[M | x, m] (note 025, eq. 5): the population mean v p / (q − 1)
    /// and the customer's mean m, weighted by p x / (p x + q − 1). Only
    /// finite for q > 1.
    pub fn expected_spend(&self, x: f64, m: f64) -> Result<f64, String> {
        let Self { p, q, v } = *self;
        if q <= 1.0 {
            return Err(format!(
                "the model's q = {} is not above 1, so its mean spend is infinite",
                Num(q)
            ));
        }
        let population_mean = v * p / (q - 1.0);
        // Without repeat purchases m is no information (and may be anything).
        if x == 0.0 {
            return Ok(population_mean);
        }
        let weight = p * x / (p * x + q - 1.0);
        Ok((1.0 - weight) * population_mean + weight * m)
    }
}

/// Distinct (x, m) of repeat buyers with their customer counts, sorted by x.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Spends {
    pub x: Vec<f64>,
    pub m: Vec<f64>,
    pub count: Vec<f64>,
    /// ln m, which no parameter changes.
    pub ln_m: Vec<f64>,
}

impl Spends {
    /// From (x, m, count) sorted by x.
    pub fn new(rows: impl IntoIterator<Item = (f64, f64, f64)>) -> Self {
        let mut spends = Self::default();
        for (x, m, count) in rows {
            spends.x.push(x);
            spends.m.push(m);
            spends.count.push(count);
            spends.ln_m.push(m.ln());
        }
        spends
    }

    pub fn customers(&self) -> f64 {
        self.count.iter().sum()
    }
}

/// The mean log-likelihood per customer (as lifetimes writes it, after note
/// 025 eq. 3) and its gradient with respect to (ln p, ln q, ln v):
/// ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v).
/// The terms of x alone are computed once per run of equal x.
pub(crate) fn mean_log_likelihood(
    spends: &Spends,
    log_params: &[f64],
    threads: usize,
) -> (f64, Vec<f64>) {
    let (p, q, v) = (
        log_params[0].exp(),
        log_params[1].exp(),
        log_params[2].exp(),
    );
    let (ln_gamma_q, digamma_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
    let s = spends;
    let sums = sum_in_parallel::<4>(s.x.len(), threads, |range| {
        let mut acc = [0.0; 4];
        let mut x_prev = f64::NAN;
        let (mut of_x, mut dp_x, mut dq_x) = (0.0, 0.0, 0.0);
        for i in range {
            let (x, m, ln_m, count) = (s.x[i], s.m[i], s.ln_m[i], s.count[i]);
            let px = p * x;
            if x != x_prev {
                x_prev = x;
                let ln_x = x.ln();
                let digamma_pxq = digamma(px + q);
                of_x = ln_gamma(px + q) - ln_gamma(px) - ln_gamma_q + q * ln_v + px * ln_x;
                dp_x = x * (digamma_pxq - digamma(px) + ln_x);
                dq_x = digamma_pxq - digamma_q + ln_v;
            }
            let ln_xmv = (x * m + v).ln();
            acc[0] += count * (of_x + (px - 1.0) * ln_m - (px + q) * ln_xmv);
            acc[1] += count * (dp_x + x * (ln_m - ln_xmv));
            acc[2] += count * (dq_x - ln_xmv);
            acc[3] += count * (q / v - (px + q) / (x * m + v));
        }
        acc
    });
    let n = s.customers();
    (
        sums[0] / n,
        vec![sums[1] * p / n, sums[2] * q / n, sums[3] * v / n],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::math::check;

    #[test]
    fn expected_spend_shrinks_towards_the_population_mean() {
        let model = GammaGamma {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        let population = 6.25 * 15.44 / 2.74;
        assert!((model.expected_spend(0.0, 0.0).unwrap() - population).abs() < 1e-12);
        let few = model.expected_spend(1.0, 100.0).unwrap();
        let many = model.expected_spend(50.0, 100.0).unwrap();
        assert!(population < few && few < many && many < 100.0);
        let heavy = GammaGamma { q: 0.9, ..model };
        assert!(
            heavy
                .expected_spend(1.0, 10.0)
                .unwrap_err()
                .contains("q = 0.9")
        );
    }

    #[test]
    fn gradient_matches_central_differences() {
        let spends = Spends::new([
            (1.0, 12.5, 10.0),
            (2.0, 30.0, 4.0),
            (5.0, 41.2, 2.0),
            (9.0, 18.0, 1.0),
        ]);
        check::gradient_matches_central_differences(
            |p| mean_log_likelihood(&spends, p, 1),
            &[1.8, 1.3, 2.7],
        );
    }
}
