//! EventBridge Scheduler expressions: `cron(...)`, `rate(...)`, `at(...)`; and their crontab form
//! for stages that run locally.

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpr {
    /// Six fields: minutes hours day-of-month month day-of-week year.
    Cron([String; 6]),
    Rate {
        value: u32,
        unit: RateUnit,
    },
    At(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

struct Field {
    name: &'static str,
    lo: u32,
    hi: u32,
    names: &'static [&'static str],
    /// Extra characters allowed besides digits, `,`, `-`, `*`, `/`.
    extra: &'static str,
}

const FIELDS: [Field; 6] = [
    Field { name: "minutes", lo: 0, hi: 59, names: &[], extra: "" },
    Field { name: "hours", lo: 0, hi: 23, names: &[], extra: "" },
    Field { name: "day-of-month", lo: 1, hi: 31, names: &[], extra: "?LW" },
    Field { name: "month", lo: 1, hi: 12, names: &MONTHS, extra: "" },
    Field { name: "day-of-week", lo: 1, hi: 7, names: &DAYS, extra: "?L#" },
    Field { name: "year", lo: 1970, hi: 2199, names: &[], extra: "" },
];

fn check_value(f: &Field, v: &str) -> Result<(), ScheduleError> {
    if v.is_empty() {
        return Err(ScheduleError::EmptyValue { field: f.name });
    }
    if let Some(i) = f.names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
        let _ = i;
        return Ok(());
    }
    // `L`, `W`, `#` forms: `L`, `5L`, `15W`, `LW`, `3#2`.
    if f.extra.contains('L') && (v == "L" || v == "LW" || v.ends_with('L') || v.ends_with('W')) {
        let n = v.trim_end_matches(['L', 'W']);
        if n.is_empty() || n.parse::<u32>().is_ok_and(|n| n >= f.lo && n <= f.hi) {
            return Ok(());
        }
    }
    if f.extra.contains('#')
        && let Some((d, nth)) = v.split_once('#')
    {
        let day_ok =
            d.parse::<u32>().is_ok_and(|d| (1..=7).contains(&d)) || DAYS.iter().any(|n| n.eq_ignore_ascii_case(d));
        if day_ok && nth.parse::<u32>().is_ok_and(|n| (1..=5).contains(&n)) {
            return Ok(());
        }
        return Err(ScheduleError::NotNth { value: v.to_string(), field: f.name });
    }
    match v.parse::<u32>() {
        Ok(n) if n >= f.lo && n <= f.hi => Ok(()),
        Ok(n) => Err(ScheduleError::OutOfRange { value: n, field: f.name, lo: f.lo, hi: f.hi }),
        Err(_) => Err(ScheduleError::NotAValue { value: v.to_string(), field: f.name }),
    }
}

fn check_field(f: &Field, text: &str) -> Result<(), ScheduleError> {
    if text == "*" {
        return Ok(());
    }
    if text == "?" {
        return if f.extra.contains('?') { Ok(()) } else { Err(ScheduleError::QuestionMark { field: f.name }) };
    }
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(s) = step
            && !s.parse::<u32>().is_ok_and(|s| s > 0)
        {
            return Err(ScheduleError::Step { part: part.to_string(), field: f.name });
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                check_value(f, a)?;
                check_value(f, b)?;
            }
            None => check_value(f, range)?,
        }
    }
    Ok(())
}

/// What is wrong with a schedule expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("a cron expression has six fields (minutes hours day-of-month month day-of-week year); this one has {0}")]
    FieldCount(usize),
    #[error("the {field} field has an empty value")]
    EmptyValue { field: &'static str },
    #[error("`{value}` in the {field} field is not `day#n` (n from 1 to 5)")]
    NotNth { value: String, field: &'static str },
    #[error("{value} is out of range for the {field} field ({lo}-{hi})")]
    OutOfRange { value: u32, field: &'static str, lo: u32, hi: u32 },
    #[error("`{value}` is not a valid value of the {field} field")]
    NotAValue { value: String, field: &'static str },
    #[error("`?` is only allowed in the day-of-month and day-of-week fields, not {field}")]
    QuestionMark { field: &'static str },
    #[error("`{part}`: the step of the {field} field must be a positive number")]
    Step { part: String, field: &'static str },
    #[error("only one of day-of-month and day-of-week may be `?`")]
    BothQuestionMarks,
    #[error("one of day-of-month and day-of-week must be `?` (e.g. `cron(30 4 * * ? *)`)")]
    NoQuestionMark,
    #[error("a rate expression is `rate(value unit)`, e.g. `rate(5 minutes)`")]
    RateSyntax,
    #[error("`{0}` is not a positive whole number")]
    RateValue(String),
    #[error("use the {} unit with {value} (`rate(1 minute)`, `rate(5 minutes)`)", if *value == 1 { "singular" } else { "plural" })]
    RateNumber { value: u32 },
    #[error("`{0}` is not a rate unit (minutes, hours or days)")]
    RateUnit(String),
    #[error("an at expression is `at(yyyy-mm-ddThh:mm:ss)`")]
    AtSyntax,
    #[error("a schedule expression is `cron(...)`, `rate(...)` or `at(...)`")]
    Kind,
    #[error("{0} has no crontab form")]
    NoCrontab(&'static str),
}

/// Parses and validates an expression; the error says what is wrong.
pub fn parse(expr: &str) -> Result<ScheduleExpr, ScheduleError> {
    let expr = expr.trim();
    if let Some(body) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(ScheduleError::FieldCount(fields.len()));
        }
        for (f, text) in FIELDS.iter().zip(&fields) {
            check_field(f, text)?;
        }
        match (fields[2] == "?", fields[4] == "?") {
            (true, true) => {
                return Err(ScheduleError::BothQuestionMarks);
            }
            (false, false) => {
                return Err(ScheduleError::NoQuestionMark);
            }
            _ => {}
        }
        return Ok(ScheduleExpr::Cron(std::array::from_fn(|i| fields[i].to_string())));
    }
    if let Some(body) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
        let parts: Vec<&str> = body.split_whitespace().collect();
        let [value, unit] = parts.as_slice() else {
            return Err(ScheduleError::RateSyntax);
        };
        let value: u32 =
            value.parse().ok().filter(|v| *v > 0).ok_or_else(|| ScheduleError::RateValue(value.to_string()))?;
        let unit = match (*unit, value == 1) {
            ("minute", true) | ("minutes", false) => RateUnit::Minute,
            ("hour", true) | ("hours", false) => RateUnit::Hour,
            ("day", true) | ("days", false) => RateUnit::Day,
            (u, _) if ["minute", "minutes", "hour", "hours", "day", "days"].contains(&u) => {
                return Err(ScheduleError::RateNumber { value });
            }
            (u, _) => return Err(ScheduleError::RateUnit(u.to_string())),
        };
        return Ok(ScheduleExpr::Rate { value, unit });
    }
    if let Some(body) = expr.strip_prefix("at(").and_then(|r| r.strip_suffix(')')) {
        let ok = body.len() == 19
            && body.chars().enumerate().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        return if ok { Ok(ScheduleExpr::At(body.to_string())) } else { Err(ScheduleError::AtSyntax) };
    }
    Err(ScheduleError::Kind)
}

/// Whether `tz` is an IANA time zone name.
pub fn valid_timezone(tz: &str) -> bool {
    tz.parse::<chrono_tz::Tz>().is_ok()
}

/// The crontab line (with `CRON_TZ`) that runs `command` on the schedule, for local stages.
/// Cron expressions with a fixed year, `L`, `W` or `#` have no crontab form.
pub fn crontab_line(expr: &ScheduleExpr, timezone: &str, command: &str) -> Result<String, ScheduleError> {
    let when = match expr {
        ScheduleExpr::Cron(f) => {
            if f[5] != "*" {
                return Err(ScheduleError::NoCrontab("a cron expression with a fixed year"));
            }
            if f.iter().any(|x| x.contains(['L', 'W', '#'])) {
                return Err(ScheduleError::NoCrontab("`L`, `W` and `#`"));
            }
            let dom = if f[2] == "?" { "*".to_string() } else { f[2].clone() };
            // EventBridge numbers days 1 (SUN) to 7 (SAT); crontab 0 (SUN) to 6 (SAT).
            let dow = if f[4] == "?" {
                "*".to_string()
            } else {
                f[4].split(',')
                    .map(|part| {
                        part.split('-')
                            .map(|v| v.parse::<u32>().map(|n| (n - 1).to_string()).unwrap_or(v.to_string()))
                            .collect::<Vec<_>>()
                            .join("-")
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            };
            format!("{} {} {} {} {}", f[0], f[1], dom, f[3], dow)
        }
        ScheduleExpr::Rate { value, unit } => match unit {
            RateUnit::Minute => format!("*/{value} * * * *"),
            RateUnit::Hour => format!("0 */{value} * * *"),
            RateUnit::Day => format!("0 0 */{value} * *"),
        },
        ScheduleExpr::At(_) => {
            return Err(ScheduleError::NoCrontab("a one-time `at(...)` schedule"));
        }
    };
    Ok(format!("CRON_TZ={timezone}\n{when} {command}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_expressions() {
        for e in [
            "cron(30 4 * * ? *)",
            "cron(0 12 ? * MON-FRI *)",
            "cron(0/15 * * * ? *)",
            "cron(0 8 L * ? *)",
            "cron(0 8 ? * 6#3 *)",
            "rate(1 minute)",
            "rate(5 minutes)",
            "at(2026-01-01T04:30:00)",
        ] {
            assert!(parse(e).is_ok(), "{e}: {:?}", parse(e));
        }
    }

    #[test]
    fn rejects_invalid_expressions() {
        for e in [
            "cron(30 4 * * *)",
            "cron(30 4 * * * *)",
            "cron(30 4 ? * ? *)",
            "cron(61 4 * * ? *)",
            "cron(30 4 * 13 ? *)",
            "cron(30 4 ? * 8 *)",
            "rate(1 minutes)",
            "rate(0 hours)",
            "rate(5 weeks)",
            "every day",
            "at(2026-01-01)",
        ] {
            assert!(parse(e).is_err(), "{e} should be rejected");
        }
    }

    #[test]
    fn crontab_for_local_stages() {
        let e = parse("cron(30 4 * * ? *)").expect("valid");
        assert_eq!(
            crontab_line(&e, "America/New_York", "pipewright ingest").expect("has a crontab form"),
            "CRON_TZ=America/New_York\n30 4 * * * pipewright ingest\n"
        );
        let w = parse("cron(0 6 ? * 2-6 *)").expect("valid");
        assert!(crontab_line(&w, "UTC", "x").expect("form").contains("0 6 * * 1-5 x"));
    }

    #[test]
    fn time_zones() {
        assert!(valid_timezone("America/New_York"));
        assert!(valid_timezone("UTC"));
        assert!(!valid_timezone("EST5"));
        assert!(!valid_timezone("Mars/Olympus"));
    }
}
