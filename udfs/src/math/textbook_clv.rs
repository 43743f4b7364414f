//! The textbook customer lifetime value, for customers without a
//! transaction history to fit a model on.
//!
//! CLV = margin × avg_order_value × purchase_frequency × A(lifespan, d), where
//! the value of one period (`avg_order_value × purchase_frequency` per period)
//! arrives at the end of each period and is discounted at rate `d` per period:
//!
//! A(L, d) = Σ_{k=1..L} (1 + d)^-k = (1 − (1 + d)^-L) / d, and A(L, 0) = L.
//!
//! The closed form also gives the value of a fractional lifespan.

/// The annuity factor A(L, d) above, accurate for rates near zero.
pub(crate) fn annuity_factor(lifespan: f64, discount_rate: f64) -> f64 {
    if discount_rate == 0.0 {
        return lifespan;
    }
    // 1 − (1 + d)^-L = −expm1(−L · ln1p(d)), without cancellation for small d.
    -(-lifespan * discount_rate.ln_1p()).exp_m1() / discount_rate
}

/// Textbook CLV; arguments are validated by the caller.
pub(crate) fn clv_simple(
    avg_order_value: f64,
    purchase_frequency: f64,
    lifespan: f64,
    margin: f64,
    discount_rate: f64,
) -> f64 {
    margin * avg_order_value * purchase_frequency * annuity_factor(lifespan, discount_rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn undiscounted_is_the_product() {
        // $50 orders, 4 a year, 3 years, 30% margin: 50 × 4 × 3 × 0.3 = 180.
        assert!(close(clv_simple(50.0, 4.0, 3.0, 0.3, 0.0), 180.0));
    }

    #[test]
    fn discounted_matches_the_sum_of_discounted_periods() {
        // Three years of $200 at 10%: 200/1.1 + 200/1.21 + 200/1.331 = 497.370398...
        let by_hand = 200.0 / 1.1 + 200.0 / 1.21 + 200.0 / 1.331;
        assert!(close(clv_simple(50.0, 4.0, 3.0, 1.0, 0.1), by_hand));
        assert!(close(by_hand, 497.370_398_196_844_5));
    }

    #[test]
    fn tiny_rates_approach_the_undiscounted_value() {
        let a = annuity_factor(10.0, 1e-12);
        assert!((a - 10.0).abs() < 1e-9, "{a}");
    }
}
