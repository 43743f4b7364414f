//! Segment schemes: ordered rules over R, F and M scores, first match wins.
//!
//! A scheme is either a built-in name or a rule list written as text, so a
//! custom scheme travels through SQL as an ordinary string (a literal, a
//! column, a scalar subquery) and the function stays stateless:
//!
//! ```text
//! Champions: r 4-5, f 4-5; At Risk: r 1-2, f >= 3; Others: *
//! ```
//!
//! Each rule is `name: conditions`, rules are separated by `;` or new lines.
//! A condition is `r`, `f` or `m` followed by `N`, `N-M`, `>= N` or `<= N`;
//! conditions are separated by commas or spaces; `*` (or nothing) matches all.

use std::fmt;

/// An inclusive range of scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    lo: i64,
    hi: i64,
}

impl Range {
    const ANY: Range = Range {
        lo: i64::MIN,
        hi: i64::MAX,
    };

    fn contains(self, score: i64) -> bool {
        self.lo <= score && score <= self.hi
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.lo, self.hi) {
            (lo, hi) if lo == hi => write!(f, "{lo}"),
            (i64::MIN, hi) => write!(f, "<= {hi}"),
            (lo, i64::MAX) => write!(f, ">= {lo}"),
            (lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    segment: String,
    r: Range,
    f: Range,
    m: Range,
}

impl fmt::Display for Rule {
    /// The rule's conditions as a scheme writes them: `r 4-5, f >= 3`, or
    /// `*` for a rule that matches everything.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let conditions: Vec<String> = [('r', self.r), ('f', self.f), ('m', self.m)]
            .into_iter()
            .filter(|(_, range)| *range != Range::ANY)
            .map(|(dimension, range)| format!("{dimension} {range}"))
            .collect();
        if conditions.is_empty() {
            f.write_str("*")
        } else {
            f.write_str(&conditions.join(", "))
        }
    }
}

/// A parsed scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scheme {
    name: String,
    rules: Vec<Rule>,
    /// Largest valid score.
    pub(crate) max_score: i64,
}

/// Largest score a custom scheme accepts: `rfm_score` makes at most 10 bins.
const CUSTOM_MAX_SCORE: i64 = 10;

/// The default scheme: the widely used 10-segment R×F map on 1-5 scores,
/// each of the 25 cells in exactly one segment.
pub(crate) const RF: &str = "\
Champions: r 5, f 4-5
Loyal Customers: r 3-4, f 4-5
Potential Loyalists: r 4-5, f 2-3
New Customers: r 5, f 1
Promising: r 4, f 1
Need Attention: r 3, f 3
About To Sleep: r 3, f 1-2
Can't Lose Them: r 1-2, f 5
At Risk: r 1-2, f 3-4
Hibernating: r 1-2, f 1-2";

/// A scheme that also uses M, on 1-5 scores. Rules overlap; the first match
/// wins, so high-value rules come first and the last two catch the rest.
pub(crate) const RFM: &str = "\
Champions: r 4-5, f 4-5, m 4-5
Loyal Customers: r 3-5, f 3-5, m 3-5
Can't Lose Them: r 1-2, f 4-5, m 4-5
At Risk: r 1-2, f 2-5, m 2-5
New Customers: r 5, f 1
Promising: r 4, f 1
Potential Loyalists: r 3-5, f 1-3
Need Attention: r 3-5
Hibernating: r 2
Lost: r 1";

pub(crate) const BUILT_IN: [(&str, &str); 2] = [("rf", RF), ("rfm", RFM)];

/// What each segment of the built-in schemes means, and the action usually
/// taken for it (the widely used RFM segment table, as in Putler's and
/// Klaviyo's guides).
pub(crate) const MEANINGS: [(&str, &str, &str); 11] = [
    (
        "Champions",
        "Bought recently, buy often and spend the most.",
        "Reward them: early access, loyalty perks; ask for reviews and referrals. Avoid discounts they do not need.",
    ),
    (
        "Loyal Customers",
        "Buy often and spend well; respond to promotions.",
        "Upsell higher-value products, invite them to a loyalty programme, ask for reviews.",
    ),
    (
        "Potential Loyalists",
        "Recent customers who bought more than once.",
        "Offer membership or a loyalty programme; recommend related products.",
    ),
    (
        "New Customers",
        "Bought very recently, but only once.",
        "Onboard them: welcome series, help with the first use, build the relationship early.",
    ),
    (
        "Promising",
        "Recent shoppers who have not bought much yet.",
        "Build awareness: introduce the range, free trials, a reason to come back.",
    ),
    (
        "Need Attention",
        "Average recency and frequency; may not have bought very recently.",
        "Limited-time offers and recommendations from past purchases, before they slip.",
    ),
    (
        "About To Sleep",
        "Below-average recency and frequency; will be lost if not reactivated.",
        "Reconnect: popular products, renewals at a discount, useful content.",
    ),
    (
        "Can't Lose Them",
        "Bought often (and spent the most) but not for a long time.",
        "Win them back: personal contact, new products, renewals; do not lose them to a competitor.",
    ),
    (
        "At Risk",
        "Bought often and spent well, but a long time ago.",
        "Personal win-back messages, renewal offers, helpful resources.",
    ),
    (
        "Hibernating",
        "Last bought long ago, seldom and for little.",
        "Offer other relevant products and special discounts; otherwise spend little on them.",
    ),
    (
        "Lost",
        "Lowest recency: bought long ago and not since.",
        "Try one campaign to reawaken interest; otherwise leave them out of paid outreach.",
    ),
];

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SchemeError(pub(crate) String);

impl fmt::Display for SchemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Scheme {
    /// A built-in scheme by name, or a rule list (any text with a `:`).
    pub(crate) fn parse(text: &str) -> Result<Scheme, SchemeError> {
        let trimmed = text.trim();
        if let Some((name, rules)) = BUILT_IN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(trimmed))
        {
            let mut scheme = Scheme::parse_rules(name, rules)?;
            scheme.max_score = 5;
            return Ok(scheme);
        }
        if !trimmed.contains(':') {
            let names: Vec<String> = BUILT_IN.iter().map(|(n, _)| format!("'{n}'")).collect();
            return Err(SchemeError(format!(
                "unknown scheme '{trimmed}': use one of {} or write rules like 'Champions: r 4-5, f 4-5; Others: *'",
                names.join(", ")
            )));
        }
        Scheme::parse_rules("custom", trimmed)
    }

    fn parse_rules(name: &str, text: &str) -> Result<Scheme, SchemeError> {
        let mut rules = vec![];
        for rule in text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let Some((segment, conditions)) = rule.split_once(':') else {
                return Err(SchemeError(format!(
                    "rule '{rule}' needs a 'name:' before its conditions"
                )));
            };
            let segment = segment.trim();
            if segment.is_empty() {
                return Err(SchemeError(format!(
                    "rule '{rule}' has an empty segment name"
                )));
            }
            let mut parsed = Rule {
                segment: segment.to_string(),
                r: Range::ANY,
                f: Range::ANY,
                m: Range::ANY,
            };
            for condition in split_conditions(conditions) {
                let (dimension, range) = parse_condition(&condition)
                    .ok_or_else(|| SchemeError(format!("cannot read condition '{condition}' in rule '{rule}': write e.g. 'r 4-5', 'f 3', 'm >= 4'")))?;
                match dimension {
                    'r' => parsed.r = range,
                    'f' => parsed.f = range,
                    _ => parsed.m = range,
                }
            }
            rules.push(parsed);
        }
        if rules.is_empty() {
            return Err(SchemeError("the scheme has no rules".to_string()));
        }
        Ok(Scheme {
            name: name.to_string(),
            rules,
            max_score: CUSTOM_MAX_SCORE,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Each rule's segment and conditions, in the order they are tried.
    pub(crate) fn rules(&self) -> impl Iterator<Item = (&str, String)> {
        self.rules
            .iter()
            .map(|rule| (rule.segment.as_str(), rule.to_string()))
    }

    /// Whether this is a built-in scheme (whose segments [`MEANINGS`] explains).
    pub(crate) fn is_built_in(&self) -> bool {
        BUILT_IN.iter().any(|(name, _)| *name == self.name)
    }

    /// Whether any rule looks at the M score.
    pub(crate) fn uses_m(&self) -> bool {
        self.rules.iter().any(|rule| rule.m != Range::ANY)
    }

    /// The segment of the first rule that matches, if any.
    pub(crate) fn segment(&self, r: i64, f: i64, m: Option<i64>) -> Option<&str> {
        self.rules
            .iter()
            .find(|rule| {
                rule.r.contains(r) && rule.f.contains(f) && m.is_none_or(|m| rule.m.contains(m))
            })
            .map(|rule| rule.segment.as_str())
    }
}

/// Splits `r 4-5, f >= 3 m 2` into `["r 4-5", "f >= 3", "m 2"]`.
fn split_conditions(text: &str) -> Vec<String> {
    let mut conditions: Vec<String> = vec![];
    for token in text
        .split([',', ' ', '\t'])
        .filter(|t| !t.is_empty() && *t != "*")
    {
        let starts_condition = token
            .chars()
            .next()
            .is_some_and(|c| matches!(c.to_ascii_lowercase(), 'r' | 'f' | 'm'));
        match conditions.last_mut() {
            Some(last) if !starts_condition => {
                last.push(' ');
                last.push_str(token);
            }
            _ => conditions.push(token.to_string()),
        }
    }
    conditions
}

fn parse_condition(condition: &str) -> Option<(char, Range)> {
    let mut chars = condition.chars();
    let dimension = chars.next()?.to_ascii_lowercase();
    if !matches!(dimension, 'r' | 'f' | 'm') {
        return None;
    }
    let rest: String = chars
        .as_str()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let rest = rest
        .strip_prefix('=')
        .filter(|r| !r.starts_with('='))
        .unwrap_or(&rest);
    let range = if let Some(n) = rest.strip_prefix(">=") {
        Range {
            lo: n.parse().ok()?,
            hi: i64::MAX,
        }
    } else if let Some(n) = rest.strip_prefix("<=") {
        Range {
            lo: i64::MIN,
            hi: n.parse().ok()?,
        }
    } else if let Some((lo, hi)) = rest.split_once('-') {
        Range {
            lo: lo.parse().ok()?,
            hi: hi.parse().ok()?,
        }
    } else {
        let n = rest.parse().ok()?;
        Range { lo: n, hi: n }
    };
    (range.lo <= range.hi).then_some((dimension, range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_covers_each_cell_exactly_once() {
        let scheme = Scheme::parse("rf").unwrap();
        for r in 1..=5 {
            for f in 1..=5 {
                let matching = scheme
                    .rules
                    .iter()
                    .filter(|rule| rule.r.contains(r) && rule.f.contains(f))
                    .count();
                assert_eq!(matching, 1, "cell r={r} f={f}");
            }
        }
        assert_eq!(scheme.segment(5, 5, None), Some("Champions"));
        assert_eq!(scheme.segment(1, 5, None), Some("Can't Lose Them"));
        assert_eq!(scheme.segment(3, 3, None), Some("Need Attention"));
        assert_eq!(scheme.segment(4, 1, None), Some("Promising"));
        assert!(!scheme.uses_m());
    }

    #[test]
    fn rfm_scheme_covers_the_cube_in_rule_order() {
        let scheme = Scheme::parse("RFM").unwrap();
        assert!(scheme.uses_m());
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    assert!(scheme.segment(r, f, Some(m)).is_some(), "{r}{f}{m}");
                }
            }
        }
        assert_eq!(scheme.segment(5, 5, Some(5)), Some("Champions"));
        assert_eq!(scheme.segment(5, 5, Some(1)), Some("Need Attention"));
        assert_eq!(scheme.segment(2, 5, Some(5)), Some("Can't Lose Them"));
        assert_eq!(scheme.segment(1, 1, Some(1)), Some("Lost"));
    }

    #[test]
    fn rules_read_back_as_written() {
        let scheme =
            Scheme::parse("VIP: r>=4 f >= 4, m=5; Lapsed: r <= 2; Mid: f 2-3; Others: *").unwrap();
        let rules: Vec<(&str, String)> = scheme.rules().collect();
        assert_eq!(
            rules,
            vec![
                ("VIP", "r >= 4, f >= 4, m 5".to_string()),
                ("Lapsed", "r <= 2".to_string()),
                ("Mid", "f 2-3".to_string()),
                ("Others", "*".to_string()),
            ]
        );
        assert!(!scheme.is_built_in());
        // Every segment of the built-in schemes is explained.
        for (name, _) in BUILT_IN {
            let scheme = Scheme::parse(name).unwrap();
            assert!(scheme.is_built_in());
            for (segment, _) in scheme.rules() {
                assert!(MEANINGS.iter().any(|(s, _, _)| *s == segment), "{segment}");
            }
        }
    }

    #[test]
    fn custom_rules() {
        let scheme = Scheme::parse("VIP: r>=4 f >= 4, m=5; Lapsed: r <= 2; Others: *").unwrap();
        assert_eq!(scheme.segment(4, 5, Some(5)), Some("VIP"));
        assert_eq!(scheme.segment(4, 5, Some(4)), Some("Others"));
        assert_eq!(scheme.segment(1, 5, Some(5)), Some("Lapsed"));
        let gaps = Scheme::parse("Top: r 5").unwrap();
        assert_eq!(gaps.segment(4, 1, None), None);
    }

    #[test]
    fn bad_schemes_explain_themselves() {
        let err = Scheme::parse("nope").unwrap_err();
        assert!(err.0.contains("unknown scheme 'nope'"), "{err}");
        let err = Scheme::parse("A: r 5-1").unwrap_err();
        assert!(err.0.contains("cannot read condition 'r 5-1'"), "{err}");
        let err = Scheme::parse("A: x 5").unwrap_err();
        assert!(err.0.contains("cannot read condition"), "{err}");
        let err = Scheme::parse(": r 5").unwrap_err();
        assert!(err.0.contains("empty segment name"), "{err}");
    }
}
