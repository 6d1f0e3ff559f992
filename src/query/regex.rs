//! The regular expressions `regex` and `regex_in` accept.
//!
//! PostgreSQL runs them with `~` (case-sensitive), but only after they pass a strict
//! grammar: literals and escaped metacharacters, `.`, bracket classes, `\d \w \s` (and
//! their negations), groups `( )` and `(?: )`, `|`, anchors, and the greedy quantifiers
//! `* + ? {n} {n,} {n,m}` (bounds up to 255). Back-references, look-arounds, embedded
//! options and a quantified group that itself holds a quantifier (`(a+)+`, the shape
//! of catastrophic backtracking) are refused, so a pattern either runs in bounded time or
//! is INVALID_ARGUMENT, never a database error.
//!
//! SQLite has no regular expressions, so there only the *literal* subset is accepted:
//! text with escaped metacharacters, optionally anchored by `^` and `$`. It is matched as
//! equality, prefix, suffix or substring, which is exactly what `~` does with it.

use super::MAX_REGEX_CHARS;

/// A pattern that passed the grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    /// Literal text, perhaps anchored.
    Literal {
        /// `^` led the pattern.
        start: bool,
        /// `$` ended it.
        end: bool,
        /// The text, unescaped.
        text: String,
    },
    /// Anything else the grammar allows.
    General(String),
}

const METACHARACTERS: &str = ".^$|?*+()[]{}\\/-";

/// Checks `pattern`; the error says why it is refused.
pub(super) fn parse(pattern: &str) -> Result<Pattern, String> {
    if pattern.chars().count() > MAX_REGEX_CHARS {
        return Err(format!(
            "a regular expression is longer than {MAX_REGEX_CHARS} characters"
        ));
    }
    if let Some(literal) = literal(pattern) {
        return Ok(literal);
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut parser = Parser {
        chars: &chars,
        at: 0,
    };
    parser.alternation(0)?;
    if parser.at != chars.len() {
        return Err("unbalanced ')' in a regular expression".into());
    }
    Ok(Pattern::General(pattern.to_owned()))
}

fn literal(pattern: &str) -> Option<Pattern> {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    // A trailing `$` anchors unless it is escaped (`\$`), which needs an odd run of
    // backslashes before it.
    let (end, body) = match rest.strip_suffix('$') {
        Some(body) if body.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0 => {
            (true, body)
        }
        _ => (false, rest),
    };
    let mut text = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let escaped = chars.next()?;
            if !METACHARACTERS.contains(escaped) {
                return None;
            }
            text.push(escaped);
        } else if METACHARACTERS.contains(c) && c != '/' && c != '-' {
            return None;
        } else {
            text.push(c);
        }
    }
    Some(Pattern::Literal { start, end, text })
}

struct Parser<'a> {
    chars: &'a [char],
    at: usize,
}

/// What a parsed piece holds, for the nested-quantifier rule.
#[derive(Default, Clone, Copy)]
struct Shape {
    quantified: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn alternation(&mut self, depth: usize) -> Result<Shape, String> {
        if depth > 10 {
            return Err("a regular expression nests groups too deeply".into());
        }
        let mut shape = self.sequence(depth)?;
        while self.peek() == Some('|') {
            self.at += 1;
            shape.quantified |= self.sequence(depth)?.quantified;
        }
        Ok(shape)
    }

    fn sequence(&mut self, depth: usize) -> Result<Shape, String> {
        let mut shape = Shape::default();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom(depth)?;
            if self.quantifier()? {
                match atom {
                    None => return Err("a quantifier follows nothing it can repeat".into()),
                    Some(inner) if inner.quantified => {
                        return Err(
                            "a quantified group holds a quantifier (nested repetition is refused)"
                                .into(),
                        );
                    }
                    Some(_) => shape.quantified = true,
                }
            } else if let Some(inner) = atom {
                shape.quantified |= inner.quantified;
            }
        }
        Ok(shape)
    }

    /// One atom; `None` for an anchor, which cannot be repeated.
    fn atom(&mut self, depth: usize) -> Result<Option<Shape>, String> {
        let c = self.peek().ok_or("a regular expression ends early")?;
        self.at += 1;
        match c {
            '^' | '$' => Ok(None),
            '(' => {
                if self.peek() == Some('?') {
                    if self.chars.get(self.at + 1) == Some(&':') {
                        self.at += 2;
                    } else {
                        return Err(
                            "only (?: ) groups are allowed, no (?…) options or look-arounds".into(),
                        );
                    }
                }
                let inner = self.alternation(depth + 1)?;
                if self.peek() != Some(')') {
                    return Err("unbalanced '(' in a regular expression".into());
                }
                self.at += 1;
                Ok(Some(inner))
            }
            '[' => {
                self.class()?;
                Ok(Some(Shape::default()))
            }
            '\\' => {
                let escaped = self.peek().ok_or("a regular expression ends with '\\'")?;
                self.at += 1;
                if METACHARACTERS.contains(escaped) || "dDwWsS".contains(escaped) {
                    Ok(Some(Shape::default()))
                } else {
                    Err(format!(
                        "the escape \\{escaped} is not allowed in a regular expression"
                    ))
                }
            }
            '*' | '+' | '?' | '{' => Err("a quantifier follows nothing it can repeat".into()),
            ')' => Err("unbalanced ')' in a regular expression".into()),
            _ => Ok(Some(Shape::default())),
        }
    }

    fn class(&mut self) -> Result<(), String> {
        if self.peek() == Some('^') {
            self.at += 1;
        }
        let mut first = true;
        loop {
            let c = self
                .peek()
                .ok_or("unbalanced '[' in a regular expression")?;
            self.at += 1;
            match c {
                ']' if !first => return Ok(()),
                '[' => return Err("'[' inside a bracket class is not allowed (escape it)".into()),
                '\\' => {
                    let escaped = self.peek().ok_or("a regular expression ends with '\\'")?;
                    self.at += 1;
                    if !(METACHARACTERS.contains(escaped) || "dwsDWS".contains(escaped)) {
                        return Err(format!(
                            "the escape \\{escaped} is not allowed in a regular expression"
                        ));
                    }
                }
                _ => {}
            }
            first = false;
        }
    }

    /// Consumes a quantifier if one follows; lazy and possessive forms are refused.
    fn quantifier(&mut self) -> Result<bool, String> {
        match self.peek() {
            Some('*' | '+' | '?') => self.at += 1,
            Some('{') => {
                self.at += 1;
                let low = self.number()?.ok_or("a '{' repetition needs a count")?;
                let mut high = Some(low);
                if self.peek() == Some(',') {
                    self.at += 1;
                    high = self.number()?;
                }
                if self.peek() != Some('}') {
                    return Err("a '{' repetition is not closed".into());
                }
                self.at += 1;
                if high.is_some_and(|high| high < low) {
                    return Err("a '{n,m}' repetition has m < n".into());
                }
            }
            _ => return Ok(false),
        }
        if matches!(self.peek(), Some('?' | '+' | '*' | '{')) {
            return Err("a quantifier may not follow a quantifier".into());
        }
        Ok(true)
    }

    fn number(&mut self) -> Result<Option<u32>, String> {
        let begin = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        if begin == self.at {
            return Ok(None);
        }
        let digits: String = self.chars[begin..self.at].iter().collect();
        match digits.parse::<u32>() {
            Ok(n) if n <= 255 => Ok(Some(n)),
            _ => Err("a repetition count is above 255".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(start: bool, end: bool, text: &str) -> Pattern {
        Pattern::Literal {
            start,
            end,
            text: text.into(),
        }
    }

    #[test]
    fn literal_patterns_are_recognised() {
        assert_eq!(parse("abc"), Ok(literal(false, false, "abc")));
        assert_eq!(parse("^ab"), Ok(literal(true, false, "ab")));
        assert_eq!(parse("ab$"), Ok(literal(false, true, "ab")));
        assert_eq!(parse("^a\\.b$"), Ok(literal(true, true, "a.b")));
        assert_eq!(parse("a\\$"), Ok(literal(false, false, "a$")));
        assert_eq!(parse("100%_x"), Ok(literal(false, false, "100%_x")));
        assert_eq!(parse(""), Ok(literal(false, false, "")));
    }

    #[test]
    fn general_patterns_are_checked() {
        for good in [
            "a.c",
            "^(ab|cd)+$",
            "[a-z]{2,5}",
            "\\d+-\\w*",
            "(?:x|y)?z",
            "[]a]",
        ] {
            assert!(matches!(parse(good), Ok(Pattern::General(_))), "{good}");
        }
        for bad in [
            "(a+)+",
            "(a*)*",
            "((a|b+))*",
            "a{1,300}",
            "(?=a)",
            "\\1",
            "a**",
            "a+?",
            "(ab",
            "ab)",
            "[ab",
            "*a",
            "\\b",
            "a{3,1}",
            "[[:alpha:]]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&"a".repeat(MAX_REGEX_CHARS + 1)).is_err());
    }
}
