//! Iceberg partition transforms as a table column declares them (`partition: day`).

use std::fmt;

/// How a column's values become a partition value (the Iceberg partition transforms a table's
/// `IcebergPartitionSpec` can name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Identity,
    Year,
    Month,
    Day,
    Hour,
    /// `bucket[N]`: a hash of the value modulo N.
    Bucket(u32),
    /// `truncate[W]`: the value truncated to width W.
    Truncate(u32),
}

/// Why a `partition:` value is not a transform, or not one for its column's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransformError {
    #[error("`{0}` is not an Iceberg partition transform")]
    Unknown(String),
    #[error("`{text}` needs a width from 1 to {max}")]
    Width { text: String, max: u32 },
    #[error("`{transform}` does not apply to a `{ty}` column")]
    Type { transform: Transform, ty: String },
}

impl Transform {
    /// The transforms as a user writes them (hints).
    pub const ALL: &'static str = "identity, year, month, day, hour, bucket[N] or truncate[W]";

    /// Parses the spec's text (`day`, `bucket[16]`).
    pub fn parse(text: &str) -> Result<Self, TransformError> {
        let width = |inner: &str| {
            inner
                .parse::<u32>()
                .ok()
                .filter(|w| (1..=i32::MAX as u32).contains(w))
                .ok_or_else(|| TransformError::Width { text: text.to_string(), max: i32::MAX as u32 })
        };
        let argument =
            |name: &str| text.strip_prefix(name).and_then(|r| r.strip_prefix('[')).and_then(|r| r.strip_suffix(']'));
        Ok(match text {
            "identity" => Self::Identity,
            "year" => Self::Year,
            "month" => Self::Month,
            "day" => Self::Day,
            "hour" => Self::Hour,
            _ => {
                if let Some(n) = argument("bucket") {
                    Self::Bucket(width(n)?)
                } else if let Some(w) = argument("truncate") {
                    Self::Truncate(width(w)?)
                } else {
                    return Err(TransformError::Unknown(text.to_string()));
                }
            }
        })
    }

    /// Checks that the transform applies to a column of Iceberg type `ty` (the Iceberg spec's table of
    /// transforms and source types).
    pub fn check_type(self, ty: &str) -> Result<(), TransformError> {
        let decimal = ty.starts_with("decimal(");
        let fits = match self {
            Self::Identity => true,
            Self::Year | Self::Month | Self::Day => matches!(ty, "date" | "timestamp" | "timestamptz"),
            Self::Hour => matches!(ty, "timestamp" | "timestamptz"),
            Self::Bucket(_) => {
                decimal
                    || ty.starts_with("fixed[")
                    || matches!(
                        ty,
                        "int" | "long" | "date" | "time" | "timestamp" | "timestamptz" | "string" | "uuid" | "binary"
                    )
            }
            Self::Truncate(_) => decimal || matches!(ty, "int" | "long" | "string" | "binary"),
        };
        if fits { Ok(()) } else { Err(TransformError::Type { transform: self, ty: ty.to_string() }) }
    }

    /// The partition field's name for a source column, as Iceberg names them: the column's own name for
    /// identity, `<column>_<transform>` otherwise (`game_date_day`, `player_id_bucket`).
    pub fn field_name(self, column: &str) -> String {
        match self {
            Self::Identity => column.to_string(),
            Self::Year => format!("{column}_year"),
            Self::Month => format!("{column}_month"),
            Self::Day => format!("{column}_day"),
            Self::Hour => format!("{column}_hour"),
            Self::Bucket(_) => format!("{column}_bucket"),
            Self::Truncate(_) => format!("{column}_trunc"),
        }
    }
}

impl fmt::Display for Transform {
    /// The transform as Iceberg metadata writes it (`day`, `bucket[16]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identity => f.write_str("identity"),
            Self::Year => f.write_str("year"),
            Self::Month => f.write_str("month"),
            Self::Day => f.write_str("day"),
            Self::Hour => f.write_str("hour"),
            Self::Bucket(n) => write!(f, "bucket[{n}]"),
            Self::Truncate(w) => write!(f, "truncate[{w}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_transform() {
        for text in ["identity", "year", "month", "day", "hour", "bucket[16]", "truncate[4]"] {
            assert_eq!(Transform::parse(text).map(|t| t.to_string()), Ok(text.to_string()));
        }
    }

    #[test]
    fn refuses_unknown_transforms_and_bad_widths() {
        assert_eq!(Transform::parse("daily"), Err(TransformError::Unknown("daily".into())));
        assert_eq!(Transform::parse("void"), Err(TransformError::Unknown("void".into())));
        for text in ["bucket[0]", "bucket[]", "bucket[-1]", "truncate[x]", "bucket[99999999999]"] {
            assert!(matches!(Transform::parse(text), Err(TransformError::Width { .. })), "{text}");
        }
    }

    #[test]
    fn checks_the_source_type() {
        assert_eq!(Transform::Day.check_type("date"), Ok(()));
        assert_eq!(Transform::Hour.check_type("timestamptz"), Ok(()));
        assert_eq!(Transform::Bucket(8).check_type("decimal(9,2)"), Ok(()));
        assert_eq!(Transform::Truncate(3).check_type("string"), Ok(()));
        assert!(Transform::Hour.check_type("date").is_err());
        assert!(Transform::Month.check_type("string").is_err());
        assert!(Transform::Bucket(8).check_type("double").is_err());
        let err = Transform::Truncate(2).check_type("boolean").expect_err("boolean");
        assert_eq!(err.to_string(), "`truncate[2]` does not apply to a `boolean` column");
    }

    #[test]
    fn names_fields_as_iceberg_does() {
        assert_eq!(Transform::Identity.field_name("game_date"), "game_date");
        assert_eq!(Transform::Day.field_name("game_date"), "game_date_day");
        assert_eq!(Transform::Truncate(2).field_name("name"), "name_trunc");
    }
}
