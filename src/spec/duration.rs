//! Durations written the way people write them: `300s`, `5m`, `12h`, `14d`, or a number of seconds.

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// A whole number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl Duration {
    pub fn secs(self) -> u64 {
        self.0
    }

    /// Whole days, rounded up (for settings AWS takes in days).
    pub fn days_ceil(self) -> u64 {
        self.0.div_ceil(86_400)
    }

    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let text = text.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        if digits.is_empty() {
            return Err(DurationError::NotADuration(text.to_string()));
        }
        let n: u64 = digits.parse().map_err(|_| DurationError::TooLarge(text.to_string()))?;
        let factor = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            other => {
                return Err(DurationError::UnknownUnit { unit: other.to_string(), text: text.to_string() });
            }
        };
        n.checked_mul(factor).map(Duration).ok_or_else(|| DurationError::TooLarge(text.to_string()))
    }
}

/// Why a text is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{0}` is not a duration (write e.g. `300s`, `5m`, `12h`, `14d`)")]
    NotADuration(String),
    #[error("`{0}` is too large")]
    TooLarge(String),
    #[error("unknown duration unit `{unit}` in `{text}` (use s, m, h or d)")]
    UnknownUnit { unit: String, text: String },
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s != 0 && s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s != 0 && s.is_multiple_of(3_600) {
            write!(f, "{}h", s / 3_600)
        } else if s != 0 && s.is_multiple_of(60) && s >= 600 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `300s`, `5m`, `12h`, `14d`, or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v).map(Duration).map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: `300s`, `5m`, `12h`, `14d`, or a number of seconds",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+\\s*[smhd]?$" }
            ]
        })
    }
}

/// An alarm threshold: a number, a duration, or `off` to disable the alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    Off,
    Value(u64),
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Threshold;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a threshold (a number or a duration such as `250s`) or `off`")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Threshold, E> {
                Ok(Threshold::Value(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Threshold, E> {
                u64::try_from(v).map(Threshold::Value).map_err(|_| E::custom("a threshold cannot be negative"))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Threshold, E> {
                if v { Err(E::custom("write a threshold, or `off` to disable the alarm")) } else { Ok(Threshold::Off) }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Threshold, E> {
                if v == "off" {
                    return Ok(Threshold::Off);
                }
                Duration::parse(v).map(|d| Threshold::Value(d.0)).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for Threshold {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Threshold".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An alarm threshold (a number, or a duration such as `250s`), or `off`",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^([0-9]+\\s*[smhd]?|off)$" },
                { "const": false }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(Duration::parse("300s"), Ok(Duration(300)));
        assert_eq!(Duration::parse("5m"), Ok(Duration(300)));
        assert_eq!(Duration::parse("14d"), Ok(Duration(1_209_600)));
        assert_eq!(Duration::parse("20"), Ok(Duration(20)));
        assert!(Duration::parse("5 weeks").is_err());
        assert!(Duration::parse("s").is_err());
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(Duration(1_209_600).to_string(), "14d");
        assert_eq!(Duration(1805).to_string(), "1805s");
        assert_eq!(Duration(300).to_string(), "300s");
        assert_eq!(Duration(3600).to_string(), "1h");
    }
}
