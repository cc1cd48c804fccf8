//! Key patterns as people write them, and the S3 filters AWS accepts.
//!
//! A pattern is literal text with `*` wildcards, each matching any run of characters (including
//! `/`). S3 can only filter on one prefix and one suffix, so a pattern becomes:
//! - the prefix: the text before the first `*`,
//! - the suffix: the text after the last `*`,
//! - the rest (the middle): enforced by the handler, which receives the whole pattern.
//!
//! Filter values are matched against the URL-encoded form of the key, so special characters are
//! percent-encoded (`date=` -> `date%3D`) and a space becomes `+`.

/// Characters that are safe in S3 filter values as they are (AWS's "safe characters" for keys).
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '!' | '-' | '_' | '.' | '*' | '\'' | '(' | ')' | '/')
}

/// Encodes a literal key fragment the way S3 filter values must be written.
pub fn encode_filter_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == ' ' {
            out.push('+');
        } else if is_safe(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The characters of `text` that S3 filter values must percent-encode, in order, once each.
pub fn needs_encoding(text: &str) -> Vec<char> {
    let mut found = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // An existing escape `%XX` is already encoded.
        if c == '%' {
            let a = chars.peek().copied();
            if a.is_some_and(|a| a.is_ascii_hexdigit()) {
                let mut ahead = chars.clone();
                ahead.next();
                if ahead.peek().is_some_and(|b| b.is_ascii_hexdigit()) {
                    chars.next();
                    chars.next();
                    continue;
                }
            }
        }
        if c != '+' && !is_safe(c) && !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// Glob syntax that S3 filters and pipewright patterns do not support.
pub fn unsupported_wildcards(text: &str) -> Vec<char> {
    let mut found = Vec::new();
    for c in text.chars() {
        if matches!(c, '?' | '[' | ']' | '{' | '}') && !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// A trigger key pattern and the S3 filter derived from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPattern {
    /// The pattern as written (decoded form).
    pub pattern: String,
    /// Literal text before the first `*`.
    pub prefix: String,
    /// Literal text after the last `*` (empty when the pattern has no `*`... see `exact`).
    pub suffix: String,
    /// The pattern has wildcards between prefix and suffix that S3 cannot enforce.
    pub has_middle: bool,
}

impl KeyPattern {
    /// Splits a pattern (`raw/box_scores/date=*/data.json`).
    pub fn parse(pattern: &str) -> Self {
        match (pattern.find('*'), pattern.rfind('*')) {
            (Some(first), Some(last)) => KeyPattern {
                pattern: pattern.to_string(),
                prefix: pattern[..first].to_string(),
                suffix: pattern[last + 1..].to_string(),
                has_middle: first != last,
            },
            _ => KeyPattern {
                // No wildcard: the whole key is the prefix; S3 has no exact-match filter, so the
                // handler enforces equality.
                pattern: pattern.to_string(),
                prefix: pattern.to_string(),
                suffix: String::new(),
                has_middle: true,
            },
        }
    }

    /// From raw S3 filter values (already in encoded form): `prefix*suffix`.
    pub fn from_filter(prefix: &str, suffix: &str) -> Self {
        KeyPattern {
            pattern: format!("{prefix}*{suffix}"),
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
            has_middle: false,
        }
    }

    /// The filter prefix as S3 needs it.
    pub fn filter_prefix(&self) -> String {
        encode_filter_value(&self.prefix)
    }

    /// The filter suffix as S3 needs it.
    pub fn filter_suffix(&self) -> String {
        encode_filter_value(&self.suffix)
    }

    /// Whether the filter is empty (matches every key in the bucket).
    pub fn is_unfiltered(&self) -> bool {
        self.prefix.is_empty() && self.suffix.is_empty()
    }

    /// Whether a (decoded) key matches the whole pattern.
    pub fn matches(&self, key: &str) -> bool {
        glob_match(&self.pattern, key)
    }

    /// Whether two filters overlap in the way AWS rejects: one prefix is a prefix of the other and
    /// one suffix is a suffix of the other (an empty value overlaps everything).
    pub fn filter_overlaps(&self, other: &KeyPattern) -> bool {
        let (p1, p2) = (self.filter_prefix(), other.filter_prefix());
        let (s1, s2) = (self.filter_suffix(), other.filter_suffix());
        let prefixes = p1.starts_with(&p2) || p2.starts_with(&p1);
        let suffixes = s1.ends_with(&s2) || s2.ends_with(&s1);
        prefixes && suffixes
    }
}

pub use pipewright_stage::glob_match;

/// A key template with `{variable}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    pub template: String,
}

/// A problem with a key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    Unclosed,
    EmptyVariable,
    BadVariable(String),
}

impl KeyTemplate {
    /// The variables of the template, in order.
    pub fn variables(&self) -> Result<Vec<String>, TemplateError> {
        let mut vars = Vec::new();
        let mut rest = self.template.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or(TemplateError::Unclosed)?;
            let name = &after[..close];
            if name.is_empty() {
                return Err(TemplateError::EmptyVariable);
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::BadVariable(name.to_string()));
            }
            vars.push(name.to_string());
            rest = &after[close + 1..];
        }
        Ok(vars)
    }

    /// The literal text before the first variable.
    pub fn literal_prefix(&self) -> &str {
        match self.template.find('{') {
            Some(i) => &self.template[..i],
            None => &self.template,
        }
    }

    /// Renders the template with `value(variable)`.
    pub fn render(&self, value: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        let mut rest = self.template.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    out.push_str(&value(&after[..close]));
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The template as a glob: each variable becomes `*`.
    pub fn as_glob(&self) -> String {
        self.render(|_| "*".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_runbook_patterns() {
        let p = KeyPattern::parse("raw/box_scores/date=*/data.json");
        assert_eq!(p.filter_prefix(), "raw/box_scores/date%3D");
        assert_eq!(p.filter_suffix(), "/data.json");
        assert!(!p.has_middle);
        let s = KeyPattern::parse("silver/*.parquet");
        assert_eq!((s.filter_prefix().as_str(), s.filter_suffix().as_str()), ("silver/", ".parquet"));
        let m = KeyPattern::parse("silver/*/date=*/data.parquet");
        assert!(m.has_middle);
        assert!(m.matches("silver/player_stats/date=2024-01-15/data.parquet"));
        assert!(!m.matches("silver/player_stats/data.parquet"));
    }

    #[test]
    fn encodes_special_characters() {
        assert_eq!(encode_filter_value("a b+c=d&e$f@g;h:i,j?k"), "a+b%2Bc%3Dd%26e%24f%40g%3Bh%3Ai%2Cj%3Fk");
        assert_eq!(needs_encoding("date="), vec!['=']);
        assert!(needs_encoding("date%3D").is_empty());
        assert!(needs_encoding("raw/box_scores/").is_empty());
    }

    #[test]
    fn globs_match_across_slashes() {
        assert!(glob_match("silver/*.parquet", "silver/a/b/c.parquet"));
        assert!(!glob_match("silver/*.parquet", "silver/a.json"));
        assert!(glob_match("a*b*c", "abc"));
        assert!(!glob_match("a*b*c", "ac"));
        assert!(glob_match("exact", "exact"));
    }

    #[test]
    fn overlap_follows_aws_rules() {
        let a = KeyPattern::parse("silver/*.parquet");
        let b = KeyPattern::parse("silver/player_stats/*");
        let c = KeyPattern::parse("gold/*.parquet");
        let d = KeyPattern::parse("silver/*.json");
        assert!(a.filter_overlaps(&b));
        assert!(!a.filter_overlaps(&c));
        assert!(!a.filter_overlaps(&d));
        assert!(KeyPattern::parse("*").filter_overlaps(&c));
    }

    #[test]
    fn templates_render_and_list_variables() {
        let t = KeyTemplate { template: "silver/p/season={season}/date={date}/data.parquet".into() };
        assert_eq!(t.variables(), Ok(vec!["season".to_string(), "date".to_string()]));
        assert_eq!(t.literal_prefix(), "silver/p/season=");
        assert_eq!(t.as_glob(), "silver/p/season=*/date=*/data.parquet");
        assert_eq!(KeyTemplate { template: "a/{x".into() }.variables(), Err(TemplateError::Unclosed));
    }
}
