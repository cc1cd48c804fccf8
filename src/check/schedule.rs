//! Schedules: valid expressions and time zones.

use super::codes;
use crate::report::Diagnostic;
use crate::spec::Pipeline;
use crate::spec::schedule::{parse, valid_timezone};

pub fn check(p: &Pipeline, out: &mut Vec<Diagnostic>) {
    for stage in &p.stages {
        let Some(s) = &stage.schedule else { continue };
        if let Err(why) = parse(&s.expression) {
            out.push(
                Diagnostic::error(
                    codes::INVALID_SCHEDULE,
                    s.expression.span,
                    format!("schedule `{}` of `{}` is invalid: {why}", s.expression.value, stage.name.value),
                )
                .with_hint("e.g. `cron(30 4 * * ? *)` (04:30 daily) or `rate(1 day)`"),
            );
        }
        if !valid_timezone(&s.timezone) {
            out.push(
                Diagnostic::error(
                    codes::INVALID_TIMEZONE,
                    s.timezone.span,
                    format!("`{}` is not an IANA time zone", s.timezone.value),
                )
                .with_hint(
                    crate::report::suggest::did_you_mean(&s.timezone, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()))
                        .unwrap_or_else(|| "use a name such as `America/New_York` or `UTC`".to_string()),
                ),
            );
        }
    }
}
