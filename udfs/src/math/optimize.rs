//! Maximum likelihood glue: minimises a model's mean negative log-likelihood
//! in log-parameter space with argmin's L-BFGS and Moré-Thuente line search.
//!
//! The objective returns its value and analytic gradient together (the
//! models share most of the work between the two); argmin asks for them
//! separately, so the last evaluation is cached. The best point seen is
//! kept as well, so a run that stops early (iteration limit, a line search
//! that cannot progress, a non-finite likelihood) still reports it.

use std::sync::Mutex;

use argmin::core::{
    CostFunction, Error, Executor, Gradient, State, TerminationReason, TerminationStatus,
};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use super::Num;

/// Iterations before a fit gives up (`converged = false`).
pub(crate) const MAX_ITERATIONS: u64 = 500;
/// The gradient norm (of a mean log-likelihood per customer) below which a
/// point is an optimum, whatever stopped the search.
const GRADIENT_NORM_AT_OPTIMUM: f64 = 1e-6;
/// The gradient norm at which L-BFGS stops.
const GRADIENT_TOLERANCE: f64 = 1e-8;
/// Evaluations in a row without a better point before a run at a vanishing
/// gradient ends (see [`AtOptimum`]).
const STALLED: usize = 8;

/// Ends a line search whose last [`STALLED`] evaluations all failed to
/// improve on the best point, where the gradient is below
/// [`GRADIENT_NORM_AT_OPTIMUM`]: values there differ by rounding alone,
/// and the search would go on halving its step towards the best point to
/// machine precision (a BG/NBD fit of 1M customers spent 45 of its 78
/// evaluations so, ending where it was 45 evaluations before). L-BFGS
/// stops on the error and the fit reports the best point as converged.
#[derive(Debug)]
struct AtOptimum;

impl std::fmt::Display for AtOptimum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at the optimum")
    }
}

impl std::error::Error for AtOptimum {}

/// Where a minimisation ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    /// The best point (log-parameters).
    pub point: Vec<f64>,
    /// The objective there.
    pub value: f64,
    pub converged: bool,
    pub iterations: u64,
    /// Why it stopped, in words.
    pub status: String,
    /// The norm of the gradient at `point`.
    pub gradient_norm: f64,
}

type Evaluation = (Vec<f64>, f64, Vec<f64>);

type Best = Mutex<Option<(Vec<f64>, f64)>>;

/// The objective where the likelihood is not finite. The objectives are
/// mean negative log-likelihoods per customer, of order 1-100.
const BEYOND_THE_LIKELIHOOD: f64 = 1e12;

/// Steps back from where the likelihood is not finite before a fit stops
/// there: on hostile data every step may land there, and each such
/// evaluation can be slow (a 2F1 series run to its term limit).
const MAX_BEYOND: usize = 10;

struct Problem<'a, F> {
    objective: F,
    last: Mutex<Option<Evaluation>>,
    /// Points so far where the likelihood was not finite.
    beyond: Mutex<usize>,
    best: &'a Best,
    /// The gradient norm at the best point, and evaluations since it.
    since_best: Mutex<(f64, usize)>,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Problem<'_, F> {
    fn evaluate(&self, point: &[f64]) -> Result<(f64, Vec<f64>), Error> {
        let mut last = self.last.lock().map_err(|e| Error::msg(e.to_string()))?;
        if let Some((at, value, gradient)) = last.as_ref()
            && at.as_slice() == point
        {
            return Ok((*value, gradient.clone()));
        }
        let (value, gradient) = match (self.objective)(point) {
            (value, gradient) if value.is_finite() && gradient.iter().all(|g| g.is_finite()) => {
                let mut best = self.best.lock().map_err(|e| Error::msg(e.to_string()))?;
                let mut since_best = self
                    .since_best
                    .lock()
                    .map_err(|e| Error::msg(e.to_string()))?;
                if best.as_ref().is_none_or(|(_, b)| value < *b) {
                    *best = Some((point.to_vec(), value));
                    *since_best = (gradient.iter().map(|g| g * g).sum::<f64>().sqrt(), 0);
                } else {
                    since_best.1 += 1;
                    if since_best.1 >= STALLED && since_best.0 <= GRADIENT_NORM_AT_OPTIMUM {
                        return Err(Error::new(AtOptimum));
                    }
                }
                (value, gradient)
            }
            // A trial step of the line search beyond where the likelihood
            // can be computed (a Pareto/NBD fit tried α = 4e6, where 2F1
            // fails): worse than any value the fit can have and flat, so
            // the search steps back. Ending the fit there left Pareto/NBD
            // fits of 1M customers unconverged after 5 iterations.
            _ => {
                let mut beyond = self.beyond.lock().map_err(|e| Error::msg(e.to_string()))?;
                *beyond += 1;
                if *beyond > MAX_BEYOND {
                    return Err(Error::msg(format!(
                        "the likelihood is not finite at log-parameters {point:?}"
                    )));
                }
                (BEYOND_THE_LIKELIHOOD, vec![0.0; point.len()])
            }
        };
        // Argmin asks for the value and the gradient in two calls.
        *last = Some((point.to_vec(), value, gradient.clone()));
        Ok((value, gradient))
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Problem<'_, F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, point: &Vec<f64>) -> Result<f64, Error> {
        Ok(self.evaluate(point)?.0)
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Problem<'_, F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, point: &Vec<f64>) -> Result<Vec<f64>, Error> {
        Ok(self.evaluate(point)?.1)
    }
}

/// Minimises `objective` (value and gradient at a point) from `start`.
/// Errors only when the objective is not finite at `start` itself.
pub(crate) fn minimize(
    objective: impl Fn(&[f64]) -> (f64, Vec<f64>),
    start: Vec<f64>,
) -> Result<Minimum, String> {
    let best = Mutex::new(None);
    let objective_at = |point: &[f64]| objective(point);
    let problem = Problem {
        objective: objective_at,
        last: Mutex::new(None),
        beyond: Mutex::new(0),
        best: &best,
        since_best: Mutex::new((f64::INFINITY, 0)),
    };
    // Evaluated here to fail with a clear message; argmin's first request
    // finds it cached.
    let (value, _) = problem
        .evaluate(&start)
        .map_err(|e| format!("cannot start the fit: {e}"))?;
    if value == BEYOND_THE_LIKELIHOOD {
        return Err(format!(
            "cannot start the fit: the likelihood is not finite at log-parameters {start:?}"
        ));
    }
    // The objective is a mean log-likelihood per customer (of order 1-20):
    // a gradient norm of 1e-8, or a change below 1e-12 between iterations,
    // is the optimum to the precision its sums carry. Tighter, the line
    // search spends hundreds of evaluations on rounding noise.
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(GRADIENT_TOLERANCE)
        .and_then(|s| s.with_tolerance_cost(1e-12))
        .map_err(|e| e.to_string())?;
    let run = Executor::new(problem, solver)
        .configure(|state| state.param(start).max_iters(MAX_ITERATIONS))
        .timer(false)
        .run();
    let (iterations, stopped) = match run {
        Ok(result) => (
            result.state.get_iter(),
            match result.state.get_termination_status() {
                TerminationStatus::Terminated(TerminationReason::SolverConverged) => None,
                TerminationStatus::Terminated(reason) => Some(reason.text().to_lowercase()),
                TerminationStatus::NotTerminated => Some("not terminated".to_string()),
            },
        ),
        // The iteration count is lost with the state; the best point is not.
        Err(error) => (0, Some(error.to_string())),
    };
    let (point, value) = best
        .into_inner()
        .ok()
        .flatten()
        .ok_or_else(|| "the optimiser evaluated nothing".to_string())?;
    // A line search that cannot descend any more at a vanishing gradient has
    // found the optimum to the precision of the likelihood.
    let (_, gradient) = objective_at(&point);
    let gradient_norm = gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
    let (converged, status) = match stopped {
        None => (true, "converged".to_string()),
        Some(_) if gradient_norm <= GRADIENT_NORM_AT_OPTIMUM => (
            true,
            format!("converged (gradient norm {gradient_norm:.1e})"),
        ),
        Some(reason) => (
            false,
            format!("stopped at gradient norm {gradient_norm:.1e}: {reason}"),
        ),
    };
    Ok(Minimum {
        point,
        value,
        converged,
        iterations,
        status,
        gradient_norm,
    })
}

/// Parameters start at 1; one that the search took beyond 1e8 or below
/// 1e-8 went there because the likelihood kept rising towards the edge of
/// the parameter space, which happens when the data hold no finite maximum
/// (one customer, identical customers) and the reported optimum would be an
/// artefact of where the search stopped.
const PARAMETER_BOUND: f64 = 1e8;

/// The gradient norm below which a search that stopped unconverged is
/// checked for a flat likelihood.
const NEAR_OPTIMUM: f64 = 1e-4;

/// The least relative curvature of an optimum (see [`Curvature`]):
/// below it the likelihood is flat in some direction within the precision
/// of its differences, and the optimum is not a unique answer.
const MIN_RELATIVE_CURVATURE: f64 = 1e-9;

/// How the minimised objective curves at a point, from its Hessian H.
#[derive(Debug, Clone, PartialEq)]
struct Curvature {
    /// In its flattest direction relative to its steepest: 1 / (tr H ·
    /// tr H⁻¹), within a factor n² of the ratio of the smallest to the
    /// largest eigenvalue (tr H⁻¹ lies between 1/λ_min and n/λ_min).
    relative: f64,
    /// H⁻¹.
    inverse: Vec<Vec<f64>>,
}

/// The [`Curvature`] of `objective` at `point`, with the Hessian taken by
/// central differences of the analytic gradient. `None` where it is not
/// positive definite: not a minimum, or flat to the precision of the
/// differences.
fn curvature(objective: &impl Fn(&[f64]) -> (f64, Vec<f64>), point: &[f64]) -> Option<Curvature> {
    const STEP: f64 = 1e-4;
    let n = point.len();
    let mut hessian = vec![vec![0.0; n]; n];
    for j in 0..n {
        let mut at = point.to_vec();
        at[j] = point[j] + STEP;
        let (_, above) = objective(&at);
        at[j] = point[j] - STEP;
        let (_, below) = objective(&at);
        for i in 0..n {
            hessian[i][j] = (above[i] - below[i]) / (2.0 * STEP);
        }
    }
    let symmetric = |i: usize, j: usize| (hessian[i][j] + hessian[j][i]) / 2.0;
    // Cholesky: H = L Lᵀ.
    let mut lower = vec![vec![0.0; n]; n];
    for j in 0..n {
        let pivot = symmetric(j, j) - (0..j).map(|k| lower[j][k] * lower[j][k]).sum::<f64>();
        if !(pivot > 0.0 && pivot.is_finite()) {
            return None;
        }
        lower[j][j] = pivot.sqrt();
        for i in j + 1..n {
            let dot: f64 = (0..j).map(|k| lower[i][k] * lower[j][k]).sum();
            lower[i][j] = (symmetric(i, j) - dot) / lower[j][j];
        }
    }
    // H⁻¹ = L⁻ᵀ L⁻¹: with the columns y_j = L⁻¹ e_j, (H⁻¹)_ij = y_i · y_j.
    let columns: Vec<Vec<f64>> = (0..n)
        .map(|column| {
            let mut y = vec![0.0; n];
            for i in column..n {
                let unit = if i == column { 1.0 } else { 0.0 };
                let dot: f64 = (column..i).map(|k| lower[i][k] * y[k]).sum();
                y[i] = (unit - dot) / lower[i][i];
            }
            y
        })
        .collect();
    let inverse: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            (0..n)
                .map(|j| columns[i].iter().zip(&columns[j]).map(|(a, b)| a * b).sum())
                .collect()
        })
        .collect();
    let trace: f64 = (0..n).map(|i| symmetric(i, i)).sum();
    let trace_inverse: f64 = (0..n).map(|i| inverse[i][i]).sum();
    let relative = 1.0 / (trace * trace_inverse);
    relative
        .is_finite()
        .then_some(Curvature { relative, inverse })
}

/// A model fitted by maximum likelihood.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fitted {
    /// The parameters (not their logs), in the model's order.
    pub params: Vec<f64>,
    /// Their covariance matrix, where the fit converged to a curved optimum.
    pub covariance: Option<Vec<Vec<f64>>>,
    /// The total log-likelihood of the data at `params`, without penalty.
    pub log_likelihood: f64,
    pub converged: bool,
    pub iterations: u64,
    pub status: String,
}

/// Maximises a likelihood: `mean_log_likelihood(log_params)` gives the mean
/// log-likelihood per customer and its gradient with respect to the
/// log-parameters `names`; `customers` scales the mean back to a total.
/// A parameter beyond [`PARAMETER_BOUND`] makes the fit not converged, with
/// the parameter named in its status. The penalty
/// is lifetimes' `penalizer_coef`: `penalizer · Σ θ²` added to the mean
/// negative log-likelihood. The search starts at θ = `start`; lifetimes
/// starts every parameter at 1.
///
/// The covariance is the inverse observed information at the optimum, from
/// the Hessian H of the minimised mean objective in log-parameters φ = ln θ:
/// Cov(θ_i, θ_j) = θ_i θ_j (H⁻¹)_ij / customers (the delta method; the
/// gradient term vanishes at the optimum). Its diagonal gives lifetimes'
/// standard errors (`summary`).
pub(crate) fn maximize_likelihood(
    mean_log_likelihood: impl Fn(&[f64]) -> (f64, Vec<f64>),
    names: &[&str],
    penalizer: f64,
    customers: f64,
    start: &[f64],
) -> Result<Fitted, String> {
    let objective = |log_params: &[f64]| {
        let (ll, gradient) = mean_log_likelihood(log_params);
        let theta: Vec<f64> = log_params.iter().map(|p| p.exp()).collect();
        let penalty: f64 = theta.iter().map(|t| t * t).sum::<f64>() * penalizer;
        let gradient = gradient
            .iter()
            .zip(&theta)
            .map(|(g, t)| -g + 2.0 * penalizer * t * t)
            .collect();
        (-ll + penalty, gradient)
    };
    let minimum = minimize(objective, start.iter().map(|p| p.ln()).collect())?;
    let (ll, _) = mean_log_likelihood(&minimum.point);
    let params: Vec<f64> = minimum.point.iter().map(|p| p.exp()).collect();
    let at_edge = names
        .iter()
        .zip(&params)
        .find(|(_, p)| !(1.0 / PARAMETER_BOUND..=PARAMETER_BOUND).contains(*p));
    // A search that stopped short of convergence at a small gradient may
    // have stopped on a flat ridge, where no maximum is unique.
    let near_optimum = minimum.converged || minimum.gradient_norm <= NEAR_OPTIMUM;
    let curved = (at_edge.is_none() && near_optimum)
        .then(|| curvature(&objective, &minimum.point))
        .flatten()
        .filter(|c| c.relative >= MIN_RELATIVE_CURVATURE);
    let flat = at_edge.is_none() && near_optimum && curved.is_none();
    let curved = curved.filter(|_| minimum.converged);
    let covariance: Option<Vec<Vec<f64>>> = curved.map(|c| {
        c.inverse
            .iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .map(|(j, h)| params[i] * params[j] * h / customers)
                    .collect()
            })
            .collect()
    });
    let (converged, status) = match at_edge {
        Some((name, value)) => (
            false,
            format!(
                "no finite maximum: the likelihood keeps rising as {name} runs to {} (the data cannot identify the model: too few customers or too little variation between them{})",
                Num(*value),
                if *value > 1.0 {
                    "; a penalizer > 0 keeps parameters from growing without bound"
                } else {
                    ""
                }
            ),
        ),
        None if flat => {
            (
            false,
            "no unique maximum: the likelihood is flat along a combination of the parameters there (the data cannot identify the model: too few customers or too little variation between them)".to_string(),
        )
        }
        None => (minimum.converged, minimum.status),
    };
    Ok(Fitted {
        params,
        covariance,
        log_likelihood: ll * customers,
        converged,
        iterations: minimum.iterations,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let rosenbrock = |p: &[f64]| {
            let (x, y) = (p[0], p[1]);
            let value = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gradient = vec![
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ];
            (value, gradient)
        };
        let m = minimize(rosenbrock, vec![-1.2, 1.0]).unwrap();
        assert!(m.converged, "{m:?}");
        assert!((m.point[0] - 1.0).abs() < 1e-6 && (m.point[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_step_beyond_the_likelihood_is_stepped_back_from() {
        // (x − 3)² where it can be computed, NaN from x = 5 on: the first
        // step from 0 lands at 6. The fit used to stop there, unconverged
        // at x = 0.
        let walled = |p: &[f64]| match p[0] {
            x if x < 5.0 => ((x - 3.0).powi(2), vec![2.0 * (x - 3.0)]),
            _ => (f64::NAN, vec![f64::NAN]),
        };
        let m = minimize(walled, vec![0.0]).unwrap();
        assert!(m.converged, "{m:?}");
        assert!((m.point[0] - 3.0).abs() < 1e-6, "{m:?}");
        // Not finite at the start: an error, as before.
        let error = minimize(walled, vec![6.0]).unwrap_err();
        assert!(
            error.starts_with("cannot start the fit: the likelihood is not finite"),
            "{error}"
        );
    }

    #[test]
    fn a_fit_without_an_optimum_reports_its_best_point_as_not_converged() {
        // A log-likelihood that grows without bound in its parameter.
        let unbounded = |p: &[f64]| (p[0], vec![1.0]);
        let fitted = maximize_likelihood(unbounded, &["theta"], 0.0, 10.0, &[1.0]).unwrap();
        assert!(!fitted.converged, "{fitted:?}");
        assert!(
            fitted
                .status
                .starts_with("no finite maximum: the likelihood keeps rising as theta runs to"),
            "{fitted:?}"
        );
        assert!(
            fitted.params[0] > 1.0 && fitted.log_likelihood > 0.0,
            "{fitted:?}"
        );
    }

    #[test]
    fn curvature_tells_a_flat_optimum_from_a_curved_one() {
        // f = (x² + c y²) / 2: eigenvalues 1 and c.
        let quadratic =
            |c: f64| move |p: &[f64]| ((p[0] * p[0] + c * p[1] * p[1]) / 2.0, vec![p[0], c * p[1]]);
        let curved = curvature(&quadratic(0.01), &[0.0, 0.0]).unwrap();
        // 1 / ((1 + c)(1 + 1/c)) = c / (1 + c)².
        assert!(
            (curved.relative - 0.01 / 1.01_f64.powi(2)).abs() < 1e-9,
            "{curved:?}"
        );
        // H⁻¹ = diag(1, 1/c).
        assert!((curved.inverse[0][0] - 1.0).abs() < 1e-9, "{curved:?}");
        assert!((curved.inverse[1][1] - 100.0).abs() < 1e-6, "{curved:?}");
        assert!(
            curvature(&quadratic(1e-12), &[0.0, 0.0]).unwrap().relative < MIN_RELATIVE_CURVATURE
        );
        // A saddle is not an optimum.
        assert_eq!(curvature(&quadratic(-1.0), &[0.0, 0.0]), None);
    }

    #[test]
    fn a_non_finite_start_is_an_error() {
        let err = minimize(|_| (f64::NAN, vec![0.0]), vec![0.0]).unwrap_err();
        assert!(err.contains("cannot start the fit"), "{err}");
    }
}
