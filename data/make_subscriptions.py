"""Writes data/subscriptions.csv: a synthetic monthly subscription service.

Two plans whose subscribers cancel as the sBG model says, with the estimates
Fader & Hardie (2007) found for their two cohorts, read per month: 'basic'
(alpha 0.704, beta 1.182: the paper's regular customers) and 'premium'
(alpha 0.668, beta 3.806: its high-end customers). Every month from January
2023 to June 2025, 100 people sign up to each plan on the 1st; each draws a
cancellation probability theta ~ Beta(alpha, beta) and stays T months with
P(T = t) = theta (1 - theta)^(t - 1); they cancel on the 1st of the month
after their last paid one, if that is on or before 2025-12-31 (the end of
the data), else they are still subscribed.

Python's standard library only, seeded: `python3 data/make_subscriptions.py`
writes the same file every time.
"""

import csv
import pathlib
import random

PLANS = {"basic": (0.704, 1.182, 9.99), "premium": (0.668, 3.806, 24.99)}
END = (2025, 12)


def month_index(year, month):
    return year * 12 + month - 1


def main() -> None:
    rng = random.Random(20071)
    rows = []
    for start in range(month_index(2023, 1), month_index(2025, 6) + 1):
        for plan, (alpha, beta, fee) in PLANS.items():
            for _ in range(100):
                theta = rng.betavariate(alpha, beta)
                months = 1
                while rng.random() >= theta and months < 1000:
                    months += 1
                cancel = start + months
                cancelled = cancel <= month_index(*END)
                rows.append(
                    {
                        "subscriber_id": len(rows) + 1,
                        "plan": plan,
                        "monthly_fee": fee,
                        "started_on": f"{start // 12:04d}-{start % 12 + 1:02d}-01",
                        "cancelled_on": f"{cancel // 12:04d}-{cancel % 12 + 1:02d}-01" if cancelled else "",
                    }
                )
    path = pathlib.Path(__file__).resolve().parent / "subscriptions.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(len(rows), "subscribers,", sum(1 for r in rows if r["cancelled_on"]), "cancelled")


if __name__ == "__main__":
    main()
