//! Calendar periods as integers, so that "periods between two days" is a
//! subtraction. Weeks start on Monday (ISO, and pandas' `W` periods).

use std::fmt;
use std::str::FromStr;

/// The time unit of a customer summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum PeriodUnit {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl PeriodUnit {
    pub(crate) const NAMES: &'static str = "'day', 'week', 'month', 'quarter', 'year'";

    /// The index of the period holding `day` (days since 1970-01-01).
    /// Consecutive periods have consecutive indexes.
    pub(crate) fn period_of_day(self, day: i64) -> i64 {
        match self {
            PeriodUnit::Day => day,
            // 1970-01-01 was a Thursday: the Monday that starts its week is day -3.
            PeriodUnit::Week => (day + 3).div_euclid(7),
            PeriodUnit::Month => {
                let (year, month, _) = civil_from_days(day);
                year * 12 + i64::from(month) - 1
            }
            PeriodUnit::Quarter => {
                let (year, month, _) = civil_from_days(day);
                year * 4 + (i64::from(month) - 1) / 3
            }
            PeriodUnit::Year => civil_from_days(day).0,
        }
    }
}

impl FromStr for PeriodUnit {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "days" | "d" => Ok(PeriodUnit::Day),
            "week" | "weeks" | "w" => Ok(PeriodUnit::Week),
            "month" | "months" | "m" => Ok(PeriodUnit::Month),
            "quarter" | "quarters" | "q" => Ok(PeriodUnit::Quarter),
            "year" | "years" | "y" => Ok(PeriodUnit::Year),
            _ => Err(()),
        }
    }
}

impl fmt::Display for PeriodUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeriodUnit::Day => "day",
            PeriodUnit::Week => "week",
            PeriodUnit::Month => "month",
            PeriodUnit::Quarter => "quarter",
            PeriodUnit::Year => "year",
        })
    }
}

/// Proleptic Gregorian (year, month 1-12, day 1-31) of a day number
/// (days since 1970-01-01). Howard Hinnant's `civil_from_days`.
pub(crate) fn civil_from_days(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Day numbers checked with Python's `datetime.date(...).toordinal() - 719163`.
    const DAY_1997_01_01: i64 = 9862;
    const DAY_1997_09_30: i64 = 10134;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(DAY_1997_01_01), (1997, 1, 1));
        assert_eq!(civil_from_days(DAY_1997_09_30), (1997, 9, 30));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn weeks_start_on_monday() {
        // 1997-01-01 was a Wednesday; its week started Monday 1996-12-30.
        let week = PeriodUnit::Week;
        assert_eq!(
            week.period_of_day(DAY_1997_01_01 - 2),
            week.period_of_day(DAY_1997_01_01)
        );
        assert_eq!(
            week.period_of_day(DAY_1997_01_01 - 3) + 1,
            week.period_of_day(DAY_1997_01_01)
        );
        assert_eq!(
            week.period_of_day(DAY_1997_01_01 + 4),
            week.period_of_day(DAY_1997_01_01)
        );
        assert_eq!(
            week.period_of_day(DAY_1997_01_01 + 5),
            week.period_of_day(DAY_1997_01_01) + 1
        );
        // Negative days round towards minus infinity.
        assert_eq!(week.period_of_day(-4), -1);
        assert_eq!(week.period_of_day(-3), 0);
    }

    #[test]
    fn months_quarters_years() {
        let jan = PeriodUnit::Month.period_of_day(DAY_1997_01_01);
        let sep = PeriodUnit::Month.period_of_day(DAY_1997_09_30);
        assert_eq!(sep - jan, 8);
        assert_eq!(
            PeriodUnit::Quarter.period_of_day(DAY_1997_09_30)
                - PeriodUnit::Quarter.period_of_day(DAY_1997_01_01),
            2
        );
        assert_eq!(PeriodUnit::Year.period_of_day(DAY_1997_09_30), 1997);
        assert_eq!(PeriodUnit::Month.period_of_day(-1), 1969 * 12 + 11);
    }

    #[test]
    fn unit_names() {
        assert_eq!("Week".parse(), Ok(PeriodUnit::Week));
        assert_eq!(" days ".parse(), Ok(PeriodUnit::Day));
        assert_eq!("fortnight".parse::<PeriodUnit>(), Err(()));
    }
}
