//! "Did you mean": the closest known word to a misspelt one (keys, buckets, tables, stages, variables).

/// The candidate closest to `word`, when it is close enough to be a likely misspelling: at most a third
/// of the word's characters edited (insertions, deletions, substitutions, swaps of neighbours), at least
/// one. Ties go to the first candidate.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` did you mean `x`?` for a message, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The hint for a name that is not declared: the closest declared one, else the declared ones (`what`:
/// `buckets`), else where to declare it (`section`: `buckets:`).
pub fn undeclared(word: &str, known: &[&str], what: &str, section: &str) -> String {
    match did_you_mean(word, known.iter().copied()) {
        Some(guess) => guess,
        None if known.is_empty() => format!("declare it under `{section}`"),
        None => format!("declared {what}: {}; or declare it under `{section}`", known.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_misspellings_and_nothing_else() {
        let keys = ["visibility_timeout", "retention", "batch_size", "batching_window"];
        assert_eq!(closest("visibilty_timeout", keys), Some("visibility_timeout"));
        assert_eq!(closest("batch_szie", keys), Some("batch_size"));
        assert_eq!(closest("brnze", ["raw", "bronze", "silver"]), Some("bronze"));
        assert_eq!(closest("team_analytic", ["player_analytics", "team_analytics"]), Some("team_analytics"));
        assert_eq!(closest("dat", ["date", "season", "day"]), Some("date"));
        assert_eq!(closest("timeout", keys), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
        assert_eq!(closest("xy", ["ab"]), None);
        assert_eq!(closest("retention", keys), None, "the word itself is no suggestion");
    }
}
