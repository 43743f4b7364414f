"""Reference numbers for the sBG model (tests/slt/subscriptions.slt), with scipy.

Fader & Hardie (2007), "How to Project Customer Retention": two cohorts of
1,000 customers each, survivors at years 0..12 (their Table 1, from Berry &
Linoff 2004). The model is fitted on years 1-7 (customers lost in year t
contribute P(T = t), those active after year 7 S(7)); the paper reports
alpha 0.704, beta 1.182 (regular) and alpha 0.668, beta 3.806 (high end).
This script fits the same likelihood with scipy (Nelder-Mead, tight
tolerances), prints the estimates and log-likelihoods, the projected survival
S(t) = B(alpha, beta + t) / B(alpha, beta) for years 8..12 at the paper's
rounded estimates, and DERL (Fader & Hardie 2010, eq. 6) at tenure 0, 1, 2
and discount rate 0.1 by scipy's hyp2f1.

Run from the repository root with scipy installed (e.g. the venv of
lifetimes_trust.py): python tests/reference/sbg_retention.py
"""

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, hyp2f1

SURVIVORS = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "highend": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}
PAPER = {"regular": (0.704, 1.182), "highend": (0.668, 3.806)}


def log_likelihood(params, alive):
    a, b = params
    lost = -np.diff(alive)
    t = np.arange(1, len(alive))
    ll = np.sum(lost * (betaln(a + 1, b + t - 1) - betaln(a, b)))
    return ll + alive[-1] * (betaln(a, b + t[-1]) - betaln(a, b))


for cohort, survivors in SURVIVORS.items():
    alive = np.array(survivors[:8], dtype=float)
    fit = minimize(
        lambda p: -log_likelihood(np.exp(p), alive),
        x0=[0.0, 0.0],
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-12, "maxiter": 20000},
    )
    a, b = np.exp(fit.x)
    print(cohort, "fit alpha", a, "beta", b, "log_likelihood", -fit.fun)
    pa, pb = PAPER[cohort]
    projected = [np.exp(betaln(pa, pb + t) - betaln(pa, pb)) for t in range(8, 13)]
    print(cohort, "projected S(8..12)", [round(100 * s, 1) for s in projected], "actual", survivors[8:])
    print(cohort, "projected S(8..12) exact", projected)
    d = 0.1
    derl = [(pb + n) / (pa + pb + n) * hyp2f1(1, pb + n + 1, pa + pb + n + 1, 1 / (1 + d)) for n in range(3)]
    print(cohort, "DERL(tenure 0..2, d 0.1)", derl)
