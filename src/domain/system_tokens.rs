//! System tokens: what other services (and `spacectl`) present to call identity's system
//! APIs, such as `Domain.get_public_key`. They are made by the admin command line, signed
//! with the root key, expire, and can be revoked.

use chrono::{DateTime, TimeDelta, Utc};

use super::fields::quoted;
use crate::error::{Error, Result};

/// The `did` of every system token: SpaceONE's root domain, which is not a domain here.
pub const ROOT_DOMAIN_ID: &str = "domain-root";

/// The longest lifetime a system token may have: 10 years.
pub const MAX_LIFETIME: TimeDelta = TimeDelta::days(3650);

/// What a system token is for (its `aud`): 1 to 128 visible characters, such as
/// `cost-analysis` or `spacectl-ops`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemTokenName(String);

impl SystemTokenName {
    /// Checks a name.
    pub fn parse(value: &str) -> Result<Self> {
        if value.is_empty() {
            return Err(Error::required("name"));
        }
        if value.chars().count() > 128 {
            return Err(Error::invalid("name", "must be at most 128 characters"));
        }
        if value
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || super::fields::is_invisible(c))
        {
            return Err(Error::invalid(
                "name",
                format!(
                    "{} must not contain spaces, control or invisible formatting characters",
                    quoted(value)
                ),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads a lifetime such as `30d`, `12h`, `90m` or `3600s` (a bare number is seconds): more
/// than zero and at most `MAX_LIFETIME`.
pub fn parse_lifetime(value: &str) -> Result<TimeDelta> {
    let invalid = || {
        Error::invalid(
            "expires-in",
            format!(
                "{} is not a duration such as 30d, 12h, 90m or 3600s",
                quoted(value)
            ),
        )
    };
    let (digits, unit) = match value.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => value.split_at(at),
        None => (value, "s"),
    };
    let amount: i64 = digits.parse().map_err(|_| invalid())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    let lifetime = amount
        .checked_mul(seconds_per_unit)
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(invalid)?;
    if lifetime <= TimeDelta::zero() {
        return Err(Error::invalid("expires-in", "must be more than zero"));
    }
    if lifetime > MAX_LIFETIME {
        return Err(Error::invalid("expires-in", "must be at most 3650d"));
    }
    Ok(lifetime)
}

/// An issued system token as the database keeps it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemToken {
    /// The token's `jti`: 32 lowercase hex characters.
    pub jti: String,
    /// What it is for (its `aud`).
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working on its own.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl SystemToken {
    /// Whether it still opens the system APIs at `now`.
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_take_a_unit() {
        assert_eq!(parse_lifetime("30d").unwrap(), TimeDelta::days(30));
        assert_eq!(parse_lifetime("12h").unwrap(), TimeDelta::hours(12));
        assert_eq!(parse_lifetime("90m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse_lifetime("3600s").unwrap(), TimeDelta::seconds(3600));
        assert_eq!(parse_lifetime("60").unwrap(), TimeDelta::seconds(60));
        assert_eq!(parse_lifetime("3650d").unwrap(), MAX_LIFETIME);
        for bad in [
            "",
            "d",
            "0d",
            "-1d",
            "1y",
            "1.5h",
            "3651d",
            "1 d",
            "99999999999999999999s",
            "9223372036854776s",
            "106751991167300d",
        ] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_visible_and_short() {
        assert_eq!(
            SystemTokenName::parse("cost-analysis").unwrap().as_str(),
            "cost-analysis"
        );
        assert!(SystemTokenName::parse("").is_err());
        assert!(SystemTokenName::parse("a b").is_err());
        assert!(SystemTokenName::parse("a\u{0}").is_err());
        assert!(SystemTokenName::parse("a\u{200b}b").is_err());
        assert!(SystemTokenName::parse("\u{202e}txt.exe").is_err());
        assert!(SystemTokenName::parse(&"x".repeat(129)).is_err());
    }
}
