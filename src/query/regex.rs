//! The regular expressions `regex` and `regex_in` accept.
//!
//! PostgreSQL runs them with `~` (case-sensitive), but only after they pass a strict
//! grammar whose worst case is bounded before anything runs: literals and escaped
//! metacharacters, `.`, bracket classes, `\d \w \s` (and their negations), groups `( )` and
//! `(?: )`, `|`, anchors, and the greedy quantifiers `* + ? {n} {n,} {n,m}`. Back-references,
//! look-arounds, embedded options and a quantified group that itself holds a quantifier
//! (`(a+)+`, the shape of catastrophic backtracking) are refused, and so is a pattern whose
//! *cost* is over `MAX_REGEX_COST`: PostgreSQL's engine expands every counted repeat into
//! copies of what it repeats, and its time grows with the size of that expansion, so
//! `a{255}` × 27 ran 15 s against one 16 KB value. The cost is that size: an atom costs 1, a
//! group the sum of its branches, a repeat its atom's cost times its largest count (2 for
//! `*` and `+`), and a sequence the sum of its pieces. Counts above `MAX_REPEAT` and more than
//! `MAX_ALTERNATIVES` branches are refused by name as well, and a whole query may spend at
//! most `MAX_QUERY_REGEX_COST`. Zero-width pieces make the engine's *compiler* explode
//! whatever the text (`(?:^|$){16}`: 4.5 s), so `^` and `$` may only begin and end the whole
//! pattern, and empty groups and alternatives are refused. At these limits the worst pattern
//! found costs PostgreSQL about 30 ms against a 16 KB value (BENCHMARKS.md).
//!
//! SQLite has no regular expressions, so there only the *literal* subset is accepted:
//! text with escaped metacharacters, optionally anchored by `^` and `$`. It is matched as
//! equality, prefix, suffix or substring, which is exactly what `~` does with it.

use super::MAX_REGEX_CHARS;

/// The largest count a `{n}`, `{n,}` or `{n,m}` repeat may give.
pub const MAX_REPEAT: u32 = 32;
/// The most `|` branches a pattern may hold, over all its groups.
pub const MAX_ALTERNATIVES: usize = 16;
/// The largest cost (the size of the expanded pattern) one pattern may have.
pub const MAX_REGEX_COST: u64 = 128;
/// The largest cost all the patterns of one query may have together.
pub const MAX_QUERY_REGEX_COST: u64 = 256;

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
    General {
        /// The pattern as given.
        pattern: String,
        /// What it costs to run (see the module's description).
        cost: u64,
    },
}

impl Pattern {
    /// What the pattern costs to run (a literal: 1, a plain substring search).
    pub fn cost(&self) -> u64 {
        match self {
            Self::Literal { .. } => 1,
            Self::General { cost, .. } => *cost,
        }
    }
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
        alternatives: 0,
    };
    let shape = parser.alternation(0)?;
    if parser.at != chars.len() {
        return Err("unbalanced ')' in a regular expression".into());
    }
    if shape.cost > MAX_REGEX_COST {
        return Err(format!(
            "a regular expression is too costly to run ({} > {MAX_REGEX_COST}: each repeat \
             counts its largest count times what it repeats); use fewer or smaller repeats",
            shape.cost
        ));
    }
    Ok(Pattern::General {
        pattern: pattern.to_owned(),
        cost: shape.cost,
    })
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
    /// The `|` branches seen so far.
    alternatives: usize,
}

/// What a parsed piece holds: a quantifier (for the nested-quantifier rule), and its cost.
#[derive(Default, Clone, Copy)]
struct Shape {
    quantified: bool,
    cost: u64,
}

impl Shape {
    /// One character, class or escape.
    const ATOM: Self = Self {
        quantified: false,
        cost: 1,
    };
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn alternation(&mut self, depth: usize) -> Result<Shape, String> {
        if depth > 10 {
            return Err("a regular expression nests groups too deeply".into());
        }
        let (mut shape, mut empty) = self.sequence(depth)?;
        let mut branches = 1;
        while self.peek() == Some('|') {
            self.at += 1;
            self.alternatives += 1;
            if self.alternatives >= MAX_ALTERNATIVES {
                return Err(format!(
                    "a regular expression has more than {MAX_ALTERNATIVES} alternatives"
                ));
            }
            let (branch, branch_empty) = self.sequence(depth)?;
            shape.quantified |= branch.quantified;
            shape.cost = shape.cost.saturating_add(branch.cost);
            empty |= branch_empty;
            branches += 1;
        }
        // Something that matches nothing, repeated or alternated, is what makes PostgreSQL's
        // pattern compiler explode (`(|a){32}`), whatever the text.
        if empty && (branches > 1 || depth > 0) {
            return Err(
                "an empty group or alternative is not allowed (write ? after what is optional)"
                    .into(),
            );
        }
        Ok(shape)
    }

    /// A sequence of pieces, and whether it matches only the empty text (nothing but
    /// anchors, or nothing at all).
    fn sequence(&mut self, depth: usize) -> Result<(Shape, bool), String> {
        let mut shape = Shape::default();
        let mut empty = true;
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom(depth)?;
            empty &= atom.is_none();
            if let Some(times) = self.quantifier()? {
                match atom {
                    None => return Err("a quantifier follows nothing it can repeat".into()),
                    Some(inner) if inner.quantified => {
                        return Err(
                            "a quantified group holds a quantifier (nested repetition is refused)"
                                .into(),
                        );
                    }
                    Some(inner) => {
                        shape.quantified = true;
                        shape.cost = shape
                            .cost
                            .saturating_add(inner.cost.saturating_mul(u64::from(times)));
                    }
                }
            } else if let Some(inner) = atom {
                shape.quantified |= inner.quantified;
                shape.cost = shape.cost.saturating_add(inner.cost);
            }
        }
        Ok((shape, empty))
    }

    /// One atom; `None` for an anchor, which cannot be repeated.
    fn atom(&mut self, depth: usize) -> Result<Option<Shape>, String> {
        let c = self.peek().ok_or("a regular expression ends early")?;
        self.at += 1;
        match c {
            // Anchors only where they mean the text's ends: zero-width pieces anywhere else
            // (`(?:^|$){16}`) cost PostgreSQL seconds to compile.
            '^' if depth == 0 && self.at == 1 => Ok(None),
            '$' if depth == 0 && self.at == self.chars.len() => Ok(None),
            '^' | '$' => Err("^ and $ may only begin and end the whole regular expression".into()),
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
                Ok(Some(Shape::ATOM))
            }
            '\\' => {
                let escaped = self.peek().ok_or("a regular expression ends with '\\'")?;
                self.at += 1;
                if METACHARACTERS.contains(escaped) || "dDwWsS".contains(escaped) {
                    Ok(Some(Shape::ATOM))
                } else {
                    Err(format!(
                        "the escape \\{escaped} is not allowed in a regular expression"
                    ))
                }
            }
            '*' | '+' | '?' | '{' => Err("a quantifier follows nothing it can repeat".into()),
            ')' => Err("unbalanced ')' in a regular expression".into()),
            _ => Ok(Some(Shape::ATOM)),
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

    /// Consumes a quantifier if one follows, and returns the most times it repeats for the
    /// cost (2 for `*` and `+`: one loop); lazy and possessive forms are refused.
    fn quantifier(&mut self) -> Result<Option<u32>, String> {
        let times = match self.peek() {
            Some('*' | '+') => {
                self.at += 1;
                2
            }
            Some('?') => {
                self.at += 1;
                1
            }
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
                // `{n,}` is `n` copies and a loop.
                high.unwrap_or(low + 2).max(1)
            }
            _ => return Ok(None),
        };
        if matches!(self.peek(), Some('?' | '+' | '*' | '{')) {
            return Err("a quantifier may not follow a quantifier".into());
        }
        Ok(Some(times))
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
            Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
            _ => Err(format!("a repetition count is above {MAX_REPEAT}")),
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
            assert!(matches!(parse(good), Ok(Pattern::General { .. })), "{good}");
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

    #[test]
    fn ordinary_patterns_pass_the_cost_bound() {
        for good in [
            "^user\\d+@",
            "(admin|owner)",
            "[a-z]{2,8}",
            "^[A-Z][a-z]+ [A-Z][a-z]+$",
            "\\d{4}-\\d{2}-\\d{2}",
            "(?:dev|stg|prd)-[a-z0-9]{1,16}",
            ".{32}",
        ] {
            let parsed = parse(good).unwrap_or_else(|why| panic!("{good}: {why}"));
            assert!(parsed.cost() <= MAX_REGEX_COST, "{good}");
        }
    }

    #[test]
    fn costly_patterns_are_refused_by_name() {
        let chained = format!("{}x", "a{255}".repeat(27));
        let classes = format!("{}c", "[^b]{255}".repeat(18));
        let many_repeats = format!("{}c", ".{1,32}".repeat(5));
        let alternatives = (0..17)
            .map(|i| format!("a{i}"))
            .collect::<Vec<_>>()
            .join("|");
        let wide_group = format!("(?:{}){{32}}", "abcde");
        for (bad, says) in [
            (chained.as_str(), "above 32"),
            (classes.as_str(), "above 32"),
            (many_repeats.as_str(), "too costly"),
            ("a{33}", "above 32"),
            (alternatives.as_str(), "alternatives"),
            (wide_group.as_str(), "too costly"),
            ("(?:^|$){16}", "begin and end"),
            ("(?:^|$){32}z", "begin and end"),
            ("a^b", "begin and end"),
            ("(a$)", "begin and end"),
            ("(|a){32}", "empty"),
            ("(a|){8}", "empty"),
            ("(){32}a", "empty"),
            ("a|", "empty"),
        ] {
            let why = parse(bad).expect_err(bad);
            assert!(why.contains(says), "{bad}: {why}");
        }
        assert_eq!(
            parse(".{1,32}.{1,32}.{1,32}.{1,32}").map(|p| p.cost()),
            Ok(128)
        );
        assert_eq!(parse("a*b+c?").map(|p| p.cost()), Ok(5));
        assert_eq!(parse("(ab|cd){3,}").map(|p| p.cost()), Ok(20));
    }
}
