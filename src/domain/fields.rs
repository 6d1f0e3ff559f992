//! Validated user fields. Each type can only be built by a constructor that checks it, and
//! each error names the request field it came from.

use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

use super::UserId;
use crate::error::{Error, Result};

/// Longest part of a refused value an error quotes back, in characters.
const QUOTE_CHARS: usize = 40;

/// A refused value as an error quotes it: escaped, and cut to its first `QUOTE_CHARS`
/// characters, so an error about a megabyte of input stays a short, printable line.
pub fn quoted(value: &str) -> String {
    let total = value.chars().count();
    let head: String = value.chars().take(QUOTE_CHARS).collect();
    if total > QUOTE_CHARS {
        format!("'{}'... ({total} characters)", head.escape_debug())
    } else {
        format!("'{}'", head.escape_debug())
    }
}

/// An account name as uniqueness and sign-in throttling compare it: NFKC, lower-cased, so
/// `Bob@x.io`, `bob@x.io` and `ｂｏｂ@x.io` name one account. It takes any text, valid user
/// id or not, since throttling counts whatever a caller typed.
pub fn account_key(text: &str) -> String {
    text.nfkc().collect::<String>().to_lowercase()
}

/// Whether `c` is an invisible formatting character (Unicode category Cf: zero-width
/// spaces and joiners, bidirectional overrides, the BOM, tag characters, ...). In an id or a
/// name they make two values look alike, or text display in another order than stored.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}' | '\u{600}'..='\u{605}' | '\u{61C}' | '\u{6DD}' | '\u{70F}' | '\u{890}'..='\u{891}'
        | '\u{8E2}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// `text` in Unicode NFC, the form ids and names are stored in.
pub fn normalized(text: &str) -> String {
    text.nfc().collect()
}

/// `value` in Unicode NFC, refused (as `field`) when it holds a control or invisible
/// formatting character.
fn visible_nfc(field: &'static str, value: &str) -> Result<String> {
    if value.chars().any(|c| c.is_control() || is_invisible(c)) {
        return Err(Error::invalid(
            field,
            "must not contain control or invisible formatting characters",
        ));
    }
    Ok(normalized(value))
}

impl UserId {
    /// Longest accepted user id, in characters.
    pub const MAX_LEN: usize = 255;
    /// Longest uniqueness key (`account_key`) of an accepted user id, in bytes.
    pub const MAX_KEY_BYTES: usize = 1024;

    /// Checks a user id: present, at most 255 characters, no white space, control or
    /// invisible formatting characters; kept in Unicode NFC.
    pub fn parse(value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(Error::required("user_id"));
        }
        if value.chars().count() > Self::MAX_LEN {
            return Err(Error::invalid("user_id", "must be at most 255 characters"));
        }
        if value.chars().any(char::is_whitespace) {
            return Err(Error::invalid("user_id", "must not contain white space"));
        }
        // Compatibility forms can expand a character many times over; the uniqueness key
        // must stay small enough for a database index.
        if account_key(value).len() > Self::MAX_KEY_BYTES {
            return Err(Error::invalid("user_id", "is too long once normalized"));
        }
        visible_nfc("user_id", value).map(Self::new)
    }
}

/// A well-formed e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// A value read back from the database, where only checked values are written.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// Checks an address against RFC 5322's addr-spec (as the `email_address` crate reads it),
    /// at most 254 characters, with a dot in the domain part.
    pub fn parse(value: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(
                "email",
                format!("{} is not a valid e-mail address", quoted(value)),
            )
        };
        if value.len() > 254 || value.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let value = visible_nfc("email", value)?;
        let address = email_address::EmailAddress::from_str(&value).map_err(|_| invalid())?;
        if !address.domain().contains('.') || address.domain().starts_with('[') {
            return Err(invalid());
        }
        Ok(Self(value))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: at most 128 characters, no control or invisible formatting characters;
/// kept in Unicode NFC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// A value read back from the database, where only checked values are written.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// Checks a display name.
    pub fn parse(value: &str) -> Result<Self> {
        if value.chars().count() > 128 {
            return Err(Error::invalid("name", "must be at most 128 characters"));
        }
        visible_nfc("name", value).map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language code: ISO 639-1 letters, optionally with a region (`en`, `ko`, `ja`, `zh-CN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    /// A value read back from the database, where only checked values are written.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// Checks a language code.
    pub fn parse(value: &str) -> Result<Self> {
        let (lang, region) = match value.split_once('-') {
            Some((lang, region)) => (lang, Some(region)),
            None => (value, None),
        };
        let lang_ok = lang.len() == 2 && lang.chars().all(|c| c.is_ascii_lowercase());
        let region_ok =
            region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()));
        if !(lang_ok && region_ok) {
            return Err(Error::invalid(
                "language",
                format!(
                    "{} is not a language code such as en, ko or ja",
                    quoted(value)
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A real IANA time zone name, such as `UTC` or `Asia/Seoul`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timezone(String);

impl Timezone {
    /// A value read back from the database, where only checked values are written.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    /// Checks a time zone against the IANA database.
    pub fn parse(value: &str) -> Result<Self> {
        chrono_tz::Tz::from_str(value)
            .map(|tz| Self(tz.name().to_owned()))
            .map_err(|_| {
                Error::invalid(
                    "timezone",
                    format!(
                        "{} is not an IANA time zone such as UTC or Asia/Seoul",
                        quoted(value)
                    ),
                )
            })
    }

    /// The zone's canonical name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form tags: a JSON object kept exactly as given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tags(serde_json::Map<String, serde_json::Value>);

impl Tags {
    /// Largest accepted tags, serialized as JSON, in bytes.
    pub const MAX_BYTES: usize = 16 * 1024;
    /// Deepest accepted nesting of objects and arrays (the tags object itself is level 1).
    pub const MAX_DEPTH: usize = 8;

    /// Checks tags a caller sent: at most `MAX_BYTES` of JSON and `MAX_DEPTH` levels deep,
    /// so what is stored can always be read back and sent again.
    pub fn parse(map: serde_json::Map<String, serde_json::Value>) -> Result<Self> {
        fn depth(value: &serde_json::Value) -> usize {
            match value {
                serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
                serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
                _ => 0,
            }
        }
        fn holds_nul(value: &serde_json::Value) -> bool {
            match value {
                serde_json::Value::String(text) => text.contains('\0'),
                serde_json::Value::Array(items) => items.iter().any(holds_nul),
                serde_json::Value::Object(map) => map
                    .iter()
                    .any(|(key, value)| key.contains('\0') || holds_nul(value)),
                _ => false,
            }
        }
        let tags = Self(map);
        let json = tags.to_json();
        if holds_nul(&json) {
            return Err(Error::invalid(
                "tags",
                "keys and values must not contain NUL characters",
            ));
        }
        if depth(&json) > Self::MAX_DEPTH {
            return Err(Error::invalid(
                "tags",
                format!("must be nested at most {} levels deep", Self::MAX_DEPTH),
            ));
        }
        let bytes = json.to_string().len();
        if bytes > Self::MAX_BYTES {
            return Err(Error::invalid(
                "tags",
                format!(
                    "must be at most {} bytes as JSON, got {bytes}",
                    Self::MAX_BYTES
                ),
            ));
        }
        Ok(tags)
    }

    /// Reads tags from stored JSON; anything but an object reads as no tags.
    pub fn from_json(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Object(map) => Self(map),
            _ => Self::default(),
        }
    }

    /// The tags as a JSON object.
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The tags as a JSON value, for storage.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_must_be_present_short_and_without_spaces() {
        assert!(UserId::parse("wonny@cloudforet.io").is_ok());
        assert!(matches!(
            UserId::parse(""),
            Err(Error::RequiredParameter { .. })
        ));
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse(&"x".repeat(256)).is_err());
        // U+FDFA expands to 18 characters (33 bytes) under NFKC.
        assert!(UserId::parse(&"\u{fdfa}".repeat(40)).is_err());
    }

    #[test]
    fn emails_must_be_well_formed() {
        assert!(Email::parse("wonny@cloudforet.io").is_ok());
        for bad in [
            "",
            "wonny",
            "wonny@",
            "@cloudforet.io",
            "a b@c.io",
            "x@localhost",
            "x@[1.2.3.4]",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_are_short_codes() {
        for good in ["en", "ko", "ja", "zh-CN"] {
            assert!(Language::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "english", "EN", "e", "en-", "en-us", "en_US"] {
            assert!(Language::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(
            Timezone::parse("Asia/Seoul").unwrap().as_str(),
            "Asia/Seoul"
        );
        assert!(Timezone::parse("UTC").is_ok());
        for bad in ["", "Mars/Base", "utc+9", "KST9"] {
            assert!(Timezone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refused_values_are_quoted_short_and_escaped() {
        assert_eq!(quoted("Mars/Base"), "'Mars/Base'");
        assert_eq!(quoted("a\u{0}\nb"), "'a\\0\\nb'");
        let long = quoted(&"x".repeat(1_000_000));
        assert!(long.len() < 80, "{long}");
        assert!(long.ends_with("(1000000 characters)"), "{long}");
    }

    #[test]
    fn ids_and_names_refuse_invisible_characters_and_are_kept_nfc() {
        for bad in [
            "bob\u{200B}@x.io",
            "bob\u{202E}oi.x@",
            "\u{FEFF}bob",
            "bob\u{E0041}",
        ] {
            assert!(UserId::parse(bad).is_err(), "{bad:?}");
            assert!(Name::parse(bad).is_err(), "{bad:?}");
        }
        let decomposed = "Jose\u{301}@x.io";
        assert_eq!(
            UserId::parse(decomposed).unwrap().as_str(),
            "Jos\u{e9}@x.io"
        );
        assert_eq!(account_key("Bob@X.io"), account_key("bob@x.io"));
        assert_eq!(account_key("\u{ff42}ob@x.io"), account_key("bob@x.io"));
        assert_eq!(Name::parse("Jose\u{301}").unwrap().as_str(), "Jos\u{e9}");
    }

    #[test]
    fn tags_are_bounded_in_size_and_depth() {
        let object = |value: serde_json::Value| value.as_object().unwrap().clone();
        assert!(Tags::parse(object(serde_json::json!({"team": "ops"}))).is_ok());
        assert!(Tags::parse(object(serde_json::json!({"te\u{0}am": "ops"}))).is_err());
        assert!(Tags::parse(object(serde_json::json!({"team": ["o\u{0}ps"]}))).is_err());
        let big = object(serde_json::json!({"blob": "x".repeat(Tags::MAX_BYTES)}));
        assert!(Tags::parse(big).is_err());
        let mut deep = serde_json::json!("leaf");
        for _ in 0..Tags::MAX_DEPTH {
            deep = serde_json::json!({ "k": deep });
        }
        assert!(Tags::parse(object(deep.clone())).is_ok(), "{deep}");
        assert!(Tags::parse(object(serde_json::json!({ "k": deep }))).is_err());
    }

    #[test]
    fn names_are_bounded() {
        assert!(Name::parse("Wonny").is_ok());
        assert!(Name::parse(&"n".repeat(129)).is_err());
        assert!(Name::parse("a\u{0}b").is_err());
    }
}
