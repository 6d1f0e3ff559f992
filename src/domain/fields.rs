//! Validated user fields. Each type can only be built by a constructor that checks it, and
//! each error names the request field it came from.

use std::str::FromStr;

use crate::error::{Error, Result};

/// A user id: unique within a domain, usually an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    /// Longest accepted user id, in characters.
    pub const MAX_LEN: usize = 255;

    /// Checks a user id: present, at most 255 characters, no white space or control characters.
    pub fn parse(value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(Error::required("user_id"));
        }
        if value.chars().count() > Self::MAX_LEN {
            return Err(Error::invalid("user_id", "must be at most 255 characters"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid(
                "user_id",
                "must not contain white space or control characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A well-formed e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks an address against RFC 5322's addr-spec (as the `email_address` crate reads it),
    /// at most 254 characters, with a dot in the domain part.
    pub fn parse(value: &str) -> Result<Self> {
        let invalid =
            || Error::invalid("email", format!("'{value}' is not a valid e-mail address"));
        if value.len() > 254 || value.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let address = email_address::EmailAddress::from_str(value).map_err(|_| invalid())?;
        if !address.domain().contains('.') || address.domain().starts_with('[') {
            return Err(invalid());
        }
        Ok(Self(value.to_owned()))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: at most 128 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    /// Checks a display name.
    pub fn parse(value: &str) -> Result<Self> {
        if value.chars().count() > 128 {
            return Err(Error::invalid("name", "must be at most 128 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(Error::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(value.to_owned()))
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
                format!("'{value}' is not a language code such as en, ko or ja"),
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
pub struct Timezone(chrono_tz::Tz);

impl Timezone {
    /// Checks a time zone against the IANA database.
    pub fn parse(value: &str) -> Result<Self> {
        chrono_tz::Tz::from_str(value).map(Self).map_err(|_| {
            Error::invalid(
                "timezone",
                format!("'{value}' is not an IANA time zone such as UTC or Asia/Seoul"),
            )
        })
    }

    /// The zone's canonical name.
    pub fn as_str(&self) -> &str {
        self.0.name()
    }
}

/// Free-form tags: a JSON object kept exactly as given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tags(serde_json::Map<String, serde_json::Value>);

impl Tags {
    /// Wraps a JSON object.
    pub fn new(map: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(map)
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
    fn names_are_bounded() {
        assert!(Name::parse("Wonny").is_ok());
        assert!(Name::parse(&"n".repeat(129)).is_err());
        assert!(Name::parse("a\u{0}b").is_err());
    }
}
