//! Forward-mode derivatives for likelihoods whose gradients are too long to
//! write out by hand (Pareto/NBD's runs through 2F1 and a difference of logs).
//!
//! `Dual<N>` carries a value and its derivatives with respect to N inputs;
//! every operation applies the chain rule, so a likelihood written once on
//! `Dual<4>` yields its exact gradient and on `Dual<0>` costs no more than on
//! plain `f64`.

use std::ops::{Add, Div, Mul, Neg, Sub};

use statrs::function::gamma::{digamma, ln_gamma};

use super::hyp2f1::{hyp2f1, hyp2f1_with_gradient};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dual<const N: usize> {
    pub v: f64,
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// A constant: no derivatives.
    pub fn constant(v: f64) -> Self {
        Self { v, d: [0.0; N] }
    }

    /// `exp(log_value)` as a function of input `index` = `log_value`, so
    /// derivatives come out with respect to log-parameters.
    pub fn exp_of_input(log_value: f64, index: usize) -> Self {
        let v = log_value.exp();
        let mut d = [0.0; N];
        d[index] = v;
        Self { v, d }
    }

    /// f(self) given f's value and f'(self).
    fn chain(self, value: f64, slope: f64) -> Self {
        Self {
            v: value,
            d: self.d.map(|d| d * slope),
        }
    }

    pub fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }

    pub fn ln_gamma(self) -> Self {
        if N == 0 {
            return Self::constant(ln_gamma(self.v));
        }
        self.chain(ln_gamma(self.v), digamma(self.v))
    }

    /// ln(e^self + e^other) without overflow; −∞ terms drop out.
    pub fn log_add_exp(self, other: Self) -> Self {
        let (hi, lo) = if self.v >= other.v {
            (self, other)
        } else {
            (other, self)
        };
        if lo.v == f64::NEG_INFINITY {
            return hi;
        }
        // w = e^lo / (e^hi + e^lo) weighs the derivative of the smaller term.
        let e = (lo.v - hi.v).exp();
        let w = e / (1.0 + e);
        let mut d = hi.d;
        for (d, (h, l)) in d.iter_mut().zip(hi.d.iter().zip(&lo.d)) {
            *d = (1.0 - w) * h + w * l;
        }
        Self {
            v: hi.v + e.ln_1p(),
            d,
        }
    }

    /// ln(e^self − e^other) for self >= other; −∞ when they are equal.
    pub fn log_sub_exp(self, other: Self) -> Self {
        if other.v == f64::NEG_INFINITY {
            return self;
        }
        let e = (other.v - self.v).exp();
        let mut d = self.d;
        for (d, (h, l)) in d.iter_mut().zip(self.d.iter().zip(&other.d)) {
            *d = (h - e * l) / (1.0 - e);
        }
        Self {
            v: self.v + (-(other.v - self.v).exp_m1()).ln(),
            d,
        }
    }

    /// ln 2F1(a, b; c; z) for a positive 2F1 (as in Pareto/NBD, where all
    /// parameters are positive).
    pub fn ln_hyp2f1(a: Self, b: Self, c: Self, z: Self) -> Result<Self, String> {
        if N == 0 {
            return Ok(Self::constant(hyp2f1(a.v, b.v, c.v, z.v)?.ln_abs));
        }
        let f = hyp2f1_with_gradient(a.v, b.v, c.v, z.v)?;
        let mut d = [0.0; N];
        for (i, d) in d.iter_mut().enumerate() {
            *d = f.d_ln[0] * a.d[i] + f.d_ln[1] * b.d[i] + f.d_ln[2] * c.d[i] + f.d_ln[3] * z.d[i];
        }
        Ok(Self { v: f.ln_abs, d })
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        d.iter_mut().zip(&o.d).for_each(|(a, b)| *a += b);
        Self { v: self.v + o.v, d }
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    fn sub(self, o: Self) -> Self {
        self + -o
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    fn neg(self) -> Self {
        self.chain(-self.v, -1.0)
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    fn mul(self, o: Self) -> Self {
        let mut d = self.d;
        for (d, (a, b)) in d.iter_mut().zip(self.d.iter().zip(&o.d)) {
            *d = a * o.v + b * self.v;
        }
        Self { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    fn div(self, o: Self) -> Self {
        let mut d = self.d;
        for (d, (a, b)) in d.iter_mut().zip(self.d.iter().zip(&o.d)) {
            *d = (a * o.v - b * self.v) / (o.v * o.v);
        }
        Self { v: self.v / o.v, d }
    }
}

impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    fn add(self, o: f64) -> Self {
        Self {
            v: self.v + o,
            ..self
        }
    }
}

impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    fn mul(self, o: f64) -> Self {
        self.chain(self.v * o, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_follow_the_chain_rule() {
        // f(p, q) = ln Γ(e^p) · e^q / (1 + e^p), at p = 0.3, q = −0.2.
        let f = |p: f64, q: f64| {
            let x = Dual::<2>::exp_of_input(p, 0);
            let y = Dual::<2>::exp_of_input(q, 1);
            x.ln_gamma() * y / (x + 1.0)
        };
        let at = f(0.3, -0.2);
        let h = 1e-6;
        let dp = (f(0.3 + h, -0.2).v - f(0.3 - h, -0.2).v) / (2.0 * h);
        let dq = (f(0.3, -0.2 + h).v - f(0.3, -0.2 - h).v) / (2.0 * h);
        assert!((at.d[0] - dp).abs() < 1e-8 && (at.d[1] - dq).abs() < 1e-8);
    }

    #[test]
    fn log_add_and_sub_exp() {
        let a = Dual::<1>::exp_of_input(0.5f64.ln(), 0).ln();
        let b = Dual::<1>::constant(0.2f64.ln());
        assert!((a.log_add_exp(b).v - 0.7f64.ln()).abs() < 1e-15);
        assert!((a.log_sub_exp(b).v - 0.3f64.ln()).abs() < 1e-15);
        // d ln(x + 0.2)/d ln x = x / (x + 0.2) at x = 0.5.
        assert!((a.log_add_exp(b).d[0] - 0.5 / 0.7).abs() < 1e-15);
        assert!((a.log_sub_exp(b).d[0] - 0.5 / 0.3).abs() < 1e-14);
        assert_eq!(a.log_sub_exp(a).v, f64::NEG_INFINITY);
    }
}
