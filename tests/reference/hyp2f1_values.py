"""Reference values of ln|2F1(a, b; c; z)| for udfs/src/math/hyp2f1.rs's tests.

mpmath at 50 significant digits (its hyp2f1, or the defining series summed
term by term where hyp2f1 gives up at large parameters near z = 1); run in a venv with `pip install mpmath`:
    python tests/reference/hyp2f1_values.py
"""
import mpmath as mp

mp.mp.dps = 50


def series(a, b, c, z):
    a, b, c, z = map(mp.mpf, (a, b, c, z))
    term, total, k = mp.mpf(1), mp.mpf(1), 0
    while True:
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        k += 1
        if k > a * z / (1 - z) + 10 and abs(term) < total * mp.mpf(10) ** -45:
            return total


CASES = [
    (0.5, 1.5, 2.5, 0.3),
    (2.24, 4.43, 2.2, 0.5),  # small parameters
    (1000.24, 1002.4, 2002.2, 0.25),  # BG/NBD with frequency 1000
    (5000.2, 5002.4, 10001.2, 0.9),  # frequency 5000, horizon 9x the age
    (0.243, 2.426, 2.219, 0.999),  # a new customer, a horizon 1000x alpha
    (3000.5, 1.3, 3001.5, 0.97),  # Pareto/NBD's A_0 with frequency 3000
    (0.25, 2.5, -0.3, 0.6),  # negative c: BG/NBD with x = 0 and a + b < 1
]
for a, b, c, z in CASES:
    try:
        v = mp.hyp2f1(a, b, c, z)
    except ValueError:
        v = series(a, b, c, z)
    print(f"({a}, {b}, {c}, {z}, {float(mp.log(abs(v)))}, {int(mp.sign(v))}.0),")
