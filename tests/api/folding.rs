//! The rule by which case-insensitive searches match, written plainly for the tests to hold
//! the server against: the reference's case-insensitive regular expression of the literal
//! value, which matches character by character under Unicode simple case folding, on NFC
//! text.

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};
use unicode_normalization::UnicodeNormalization;

/// Whether `needle` occurs in `haystack` as a case-insensitive regular expression of the
/// literal needle finds it: both in NFC, then position by position, each character of the
/// needle matching any character of its simple case folding class, as `(?i)` makes it
/// (regex-syntax's tables, not the server's).
pub fn reference_contains(haystack: &str, needle: &str) -> bool {
    let haystack: Vec<char> = haystack.nfc().collect();
    let classes: Vec<ClassUnicode> = needle
        .nfc()
        .map(|c| {
            let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
            class.case_fold_simple();
            class
        })
        .collect();
    if classes.is_empty() {
        return true;
    }
    haystack.windows(classes.len()).any(|window| {
        window.iter().zip(&classes).all(|(c, class)| {
            class
                .ranges()
                .iter()
                .any(|range| (range.start()..=range.end()).contains(c))
        })
    })
}
