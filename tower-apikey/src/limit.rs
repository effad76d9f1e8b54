//! [`KeyLimit`]: a key's own rate (`N/s`, `N/m`) or quota (`N/day`, `N/month`), stored with
//! the key and handed to a rate limiter through [`ApiKeyIdentity`](crate::ApiKeyIdentity).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::keys::KeyError;

/// The period a [`KeyLimit`] counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Per {
    /// A rate: `N/s`.
    Second,
    /// A rate: `N/m`.
    Minute,
    /// A quota: `N/day`, renewed at midnight UTC.
    Day,
    /// A quota: `N/month`, renewed on the first of the month (UTC).
    Month,
}

impl Per {
    fn suffix(self) -> &'static str {
        match self {
            Self::Second => "s",
            Self::Minute => "m",
            Self::Day => "day",
            Self::Month => "month",
        }
    }

    fn is_rate(self) -> bool {
        matches!(self, Self::Second | Self::Minute)
    }
}

/// `count` requests per [`Per`]: a key's own rate limit (`100/s`, `600/m`) or quota
/// (`10000/day`, `1000000/month`). Written and shown as `N/unit`.
///
/// ```
/// use tower_apikey::{KeyLimit, Per};
///
/// let rate = KeyLimit::parse_rate("100/s").unwrap();
/// assert_eq!((rate.count(), rate.per()), (100, Per::Second));
/// assert_eq!(rate.to_string(), "100/s");
/// assert_eq!(KeyLimit::parse_quota("5000/month").unwrap().per(), Per::Month);
/// assert!(KeyLimit::parse_rate("100/day").is_err()); // a quota, not a rate
/// assert!(KeyLimit::parse_quota("0/day").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyLimit {
    count: u64,
    per: Per,
}

const RATE_FORMS: &str = "expected N/s or N/m with N a whole number from 1";
const QUOTA_FORMS: &str = "expected N/day or N/month with N a whole number from 1";

impl KeyLimit {
    /// Parses a rate: `N/s` or `N/m`, `N` ≥ 1.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidInput`] (field `rate`) naming the accepted forms.
    pub fn parse_rate(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
            .filter(|limit| limit.per.is_rate())
            .ok_or(KeyError::InvalidInput {
                field: "rate",
                message: RATE_FORMS,
            })
    }

    /// Parses a quota: `N/day` or `N/month`, `N` ≥ 1.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidInput`] (field `quota`) naming the accepted forms.
    pub fn parse_quota(text: &str) -> Result<Self, KeyError> {
        Self::parse(text)
            .filter(|limit| !limit.per.is_rate())
            .ok_or(KeyError::InvalidInput {
                field: "quota",
                message: QUOTA_FORMS,
            })
    }

    /// Any of the four forms, as stored; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (count, unit) = text.split_once('/')?;
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let count: u64 = count.parse().ok().filter(|&n| n >= 1)?;
        let per = match unit {
            "s" => Per::Second,
            "m" => Per::Minute,
            "day" => Per::Day,
            "month" => Per::Month,
            _ => return None,
        };
        Some(Self { count, per })
    }

    /// Requests admitted per period (at least 1).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The period.
    #[must_use]
    pub fn per(&self) -> Per {
        self.per
    }

    /// Whether this is a rate (`/s`, `/m`) rather than a quota (`/day`, `/month`).
    pub(crate) fn is_rate(&self) -> bool {
        self.per.is_rate()
    }
}

impl fmt::Display for KeyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.per.suffix())
    }
}

impl Serialize for KeyLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid limit `{text}`: expected N/s, N/m, N/day or N/month"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_quotas_parse_and_print_back() {
        for (text, per) in [("1/s", Per::Second), ("600/m", Per::Minute)] {
            let rate = KeyLimit::parse_rate(text).unwrap();
            assert_eq!(rate.per(), per);
            assert_eq!(rate.to_string(), text);
            assert!(KeyLimit::parse_quota(text).is_err());
        }
        for (text, per) in [
            ("10/day", Per::Day),
            ("18446744073709551615/month", Per::Month),
        ] {
            let quota = KeyLimit::parse_quota(text).unwrap();
            assert_eq!(quota.per(), per);
            assert_eq!(quota.to_string(), text);
            assert!(KeyLimit::parse_rate(text).is_err());
        }
    }

    #[test]
    fn malformed_limits_are_refused_with_the_accepted_forms() {
        for bad in [
            "",
            "/s",
            "10",
            "0/s",
            "-1/s",
            "+1/s",
            "1.5/s",
            "10/h",
            "10/ s",
            " 10/s",
            "10/S",
            "10/sec",
            "10//s",
            "18446744073709551616/s",
        ] {
            let error = KeyLimit::parse_rate(bad).unwrap_err().to_string();
            assert_eq!(
                error, "invalid rate: expected N/s or N/m with N a whole number from 1",
                "{bad:?}"
            );
        }
        let error = KeyLimit::parse_quota("10/week").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid quota: expected N/day or N/month with N a whole number from 1"
        );
    }

    #[test]
    fn serialises_as_its_text() {
        let rate = KeyLimit::parse_rate("5/m").unwrap();
        assert_eq!(serde_json::to_value(rate).unwrap(), "5/m");
        let back: KeyLimit = serde_json::from_value("5/m".into()).unwrap();
        assert_eq!(back, rate);
        assert!(serde_json::from_value::<KeyLimit>("5/year".into()).is_err());
    }
}
