//! The one rule by which `keyword`, `find` and the `contain` operators compare text: both
//! sides in Unicode NFC, then each character replaced by its Unicode *simple* case folding
//! (CaseFolding.txt, statuses C and S), and a plain substring test on the results.
//!
//! Simple folding maps one character to one character, as a case-insensitive regular
//! expression matches them (the SpaceONE reference runs `contain` as one), so `Σ`, `σ` and
//! `ς` match each other, `K` matches the Kelvin sign, `ß` matches `ẞ` but not `ss`, and the
//! Turkish `İ` and `ı` match only themselves. Neither database folds so: SQLite's `lower()`
//! knows ASCII only and PostgreSQL's follows the collation. So the folded text is computed
//! here, stored beside the text it comes from (`store` keeps those columns), and the SQL only
//! tests for a substring.

use icu_casemap::CaseMapper;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// `text` in NFC with every character simply case-folded: what a folded column holds, and
/// what a keyword or a `contain` value is turned into before it is looked for there.
pub fn fold_text(text: &str) -> String {
    let mapper = CaseMapper::new();
    text.nfc()
        .map(|c| {
            if c.is_ascii() {
                c.to_ascii_lowercase()
            } else {
                mapper.simple_fold(c)
            }
        })
        .collect()
}

/// `value` with every string in it folded by `fold_text`, object keys left as they are
/// (a path names the same member in both); what a folded JSON column holds.
pub fn fold_json(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(fold_text(text)),
        Value::Array(items) => Value::Array(items.iter().map(fold_json).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, member)| (key.clone(), fold_json(member)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_fold_one_for_one_as_a_case_insensitive_regex_matches_them() {
        for (text, folded) in [
            ("Jörg MÜLLER", "jörg müller"),
            ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
            ("σίσυφος", "σίσυφοσ"),
            ("\u{212A}elvin", "kelvin"),
            ("ſtate", "state"),
            ("STRAẞE", "straße"),
            ("Straße", "straße"),
            ("İstanbul", "İstanbul"),
            ("ISPARTA", "isparta"),
            ("ılık", "ılık"),
            ("한국어 Ü", "한국어 ü"),
            ("🙂 Smile", "🙂 smile"),
            ("", ""),
        ] {
            assert_eq!(fold_text(text), folded, "{text}");
        }
    }

    #[test]
    fn decomposed_text_folds_as_its_composed_form() {
        assert_eq!(fold_text("Jo\u{308}rg"), fold_text("JÖRG"));
        assert_eq!(fold_text("A\u{30A}sa"), "åsa");
        assert_eq!(fold_text("\u{212B}sa"), "åsa");
        assert_eq!(fold_text("\u{1112}\u{1161}\u{11AB}"), "한");
    }

    #[test]
    fn json_folds_its_strings_and_keeps_its_keys_and_other_values() {
        let tags = serde_json::json!({
            "Team": "CORE",
            "n": 1.5,
            "on": true,
            "none": null,
            "a": {"B": ["X", {"Y": "Ö"}]}
        });
        assert_eq!(
            fold_json(&tags),
            serde_json::json!({
                "Team": "core",
                "n": 1.5,
                "on": true,
                "none": null,
                "a": {"B": ["x", {"Y": "ö"}]}
            })
        );
    }
}
