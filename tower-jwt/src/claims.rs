//! The registered claims (RFC 7519 §4.1) this crate checks, parsed in one strict pass.
//!
//! The parser refuses what jsonwebtoken lets through: an `iss` that is not a string, a
//! duplicated registered claim, a `NumericDate` that is not a number. Beside the registered
//! claims it captures the few top-level claims the issuers' rules name (roles, tenant), so
//! the payload is read once for all of them; the application's own claim type is
//! deserialized separately.

use std::fmt;

use auth_core::AuthError;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error;

/// The registered claims of a token, plus the captured extra claims.
#[derive(Debug, Default)]
pub(crate) struct Registered {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    pub(crate) aud: Option<Vec<String>>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) jti: Option<String>,
    /// `scope`, else `scp`, split on spaces.
    pub(crate) scopes: Vec<String>,
    /// `cnf.jkt` (RFC 9449 §6.1): the thumbprint of the DPoP key the token is bound to.
    pub(crate) jkt: Option<String>,
    /// `cnf["x5t#S256"]` (RFC 8705 §3.1): the SHA-256 thumbprint of the client certificate
    /// the token is bound to.
    pub(crate) x5t: Option<String>,
    /// One slot per name given to [`parse`], in order.
    pub(crate) extras: Vec<Option<serde_json::Value>>,
}

/// Parses the decoded payload. `extra_names` are top-level claim names to capture.
pub(crate) fn parse(payload: &[u8], extra_names: &[Box<str>]) -> Result<Registered, AuthError> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let registered = RegisteredSeed { extra_names }
        .deserialize(&mut deserializer)
        .map_err(|_| error::malformed())?;
    deserializer.end().map_err(|_| error::malformed())?;
    Ok(registered)
}

struct RegisteredSeed<'a> {
    extra_names: &'a [Box<str>],
}

enum Field {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
    Scope,
    Scp,
    Cnf,
    Extra(usize),
    Other,
}

struct FieldSeed<'a> {
    extra_names: &'a [Box<str>],
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldSeed<'_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "iss" => Field::Iss,
            "sub" => Field::Sub,
            "aud" => Field::Aud,
            "exp" => Field::Exp,
            "nbf" => Field::Nbf,
            "iat" => Field::Iat,
            "jti" => Field::Jti,
            "scope" => Field::Scope,
            "scp" => Field::Scp,
            "cnf" => Field::Cnf,
            other => match self.extra_names.iter().position(|n| &**n == other) {
                Some(index) => Field::Extra(index),
                None => Field::Other,
            },
        })
    }
}

fn set<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> DeserializeSeed<'de> for RegisteredSeed<'_> {
    type Value = Registered;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Registered, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RegisteredSeed<'_> {
    type Value = Registered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Registered, A::Error> {
        let mut out = Registered {
            extras: vec![None; self.extra_names.len()],
            ..Registered::default()
        };
        let mut scope: Option<Vec<String>> = None;
        let mut scp: Option<Vec<String>> = None;
        let mut cnf_seen: Option<()> = None;
        let names = self.extra_names;
        while let Some(field) = map.next_key_seed(FieldSeed { extra_names: names })? {
            match field {
                Field::Iss => set(&mut out.iss, map.next_value::<String>()?, "iss")?,
                Field::Sub => set(&mut out.sub, map.next_value::<String>()?, "sub")?,
                Field::Aud => set(&mut out.aud, map.next_value::<Audiences>()?.0, "aud")?,
                Field::Exp => set(&mut out.exp, map.next_value::<NumericDate>()?.0, "exp")?,
                Field::Nbf => set(&mut out.nbf, map.next_value::<NumericDate>()?.0, "nbf")?,
                Field::Iat => set(&mut out.iat, map.next_value::<NumericDate>()?.0, "iat")?,
                Field::Jti => set(&mut out.jti, map.next_value::<String>()?, "jti")?,
                Field::Scope => set(&mut scope, map.next_value::<Scopes>()?.0, "scope")?,
                Field::Scp => set(&mut scp, map.next_value::<Scopes>()?.0, "scp")?,
                Field::Cnf => {
                    let cnf = map.next_value::<Confirmation>()?;
                    set(&mut cnf_seen, (), "cnf")?;
                    out.jkt = cnf.jkt;
                    out.x5t = cnf.x5t;
                }
                Field::Extra(i) => {
                    let value = map.next_value::<serde_json::Value>()?;
                    set(&mut out.extras[i], value, "extra claim")?;
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        out.scopes = scope.or(scp).unwrap_or_default();
        Ok(out)
    }
}

/// The `cnf` claim (RFC 7800): an object; of its members `jkt` (a string, RFC 9449 §6.1)
/// and `x5t#S256` (a string, RFC 8705 §3.1) are read, others are skipped.
#[derive(Deserialize)]
struct Confirmation {
    jkt: Option<String>,
    #[serde(rename = "x5t#S256")]
    x5t: Option<String>,
}

/// The latest `NumericDate` accepted: 9999-12-31T23:59:59Z. Later ones (and any before
/// 1970) are refused as malformed, so a token cannot claim to never expire by an `exp` that
/// saturates, and every time derived from a claim fits a `SystemTime` with room to spare.
pub(crate) const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// A `NumericDate`: seconds since the epoch, integer or not (RFC 7519 §2), floored, within
/// `0..=MAX_NUMERIC_DATE`.
struct NumericDate(i64);

fn out_of_range<E: de::Error>() -> E {
    E::custom("a NumericDate outside 1970..=9999")
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                if (0..=MAX_NUMERIC_DATE).contains(&v) {
                    Ok(NumericDate(v))
                } else {
                    Err(out_of_range())
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                self.visit_i64(i64::try_from(v).map_err(|_| out_of_range())?)
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                // Checked before the cast (`as` would saturate); JSON has no NaN or
                // infinities, and the bound is exact in an f64.
                if (0.0..MAX_NUMERIC_DATE as f64 + 1.0).contains(&v) {
                    Ok(NumericDate(v.floor() as i64))
                } else {
                    Err(out_of_range())
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A string or an array of strings, read without buffering the value (serde's untagged
/// enums copy it into an intermediate tree first). For `aud` a string is one item; for
/// `scope` / `scp` every item is split on spaces (`"a b"` is two scopes), keeping the
/// non-empty pieces.
struct Strings<const SPLIT: bool>(Vec<String>);

/// `aud`.
type Audiences = Strings<false>;
/// `scope` / `scp`.
type Scopes = Strings<true>;

impl<const SPLIT: bool> Strings<SPLIT> {
    fn push(&mut self, item: &str) {
        if SPLIT {
            self.0
                .extend(item.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
        } else {
            self.0.push(item.to_owned());
        }
    }
}

impl<'de, const SPLIT: bool> Deserialize<'de> for Strings<SPLIT> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<const SPLIT: bool>;
        impl<'de, const SPLIT: bool> Visitor<'de> for V<SPLIT> {
            type Value = Strings<SPLIT>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let mut out = Strings(Vec::new());
                out.push(v);
                Ok(out)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Strings(Vec::new());
                while seq.next_element_seed(Item(&mut out))?.is_some() {}
                Ok(out)
            }
        }
        deserializer.deserialize_any(V::<SPLIT>)
    }
}

/// One array item of [`Strings`]: must be a string, pushed without an intermediate copy.
struct Item<'a, const SPLIT: bool>(&'a mut Strings<SPLIT>);

impl<'de, const SPLIT: bool> DeserializeSeed<'de> for Item<'_, SPLIT> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<const SPLIT: bool> Visitor<'_> for Item<'_, SPLIT> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }
}

/// Reads a roles-like claim: an array of strings or a space-separated string, following a
/// dotted `path` below the captured top-level value (`realm_access.roles`).
pub(crate) fn strings_at(value: &serde_json::Value, path: &[&str]) -> Vec<String> {
    let mut value = value;
    for segment in path {
        match value.get(segment) {
            Some(inner) => value = inner,
            None => return Vec::new(),
        }
    }
    match value {
        serde_json::Value::String(s) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<Box<str>> {
        n.iter().map(|s| Box::from(*s)).collect()
    }

    #[test]
    fn parses_registered_and_extra_claims() {
        let json = br#"{"iss":"i","sub":"s","aud":["a","b"],"exp":10,"nbf":1.9,"iat":2,
            "jti":"j","scope":"read write","roles":["admin"],"x":{"y":1}}"#;
        let r = parse(json, &names(&["roles"])).unwrap();
        assert_eq!(r.iss.as_deref(), Some("i"));
        assert_eq!(r.aud, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!((r.exp, r.nbf, r.iat), (Some(10), Some(1), Some(2)));
        assert_eq!(r.scopes, ["read", "write"]);
        assert_eq!(strings_at(r.extras[0].as_ref().unwrap(), &[]), ["admin"]);
    }

    #[test]
    fn refuses_array_iss_duplicates_and_wrong_types() {
        for json in [
            &br#"{"iss":["i"]}"#[..],
            br#"{"iss":"a","iss":"b"}"#,
            br#"{"exp":"10"}"#,
            br#"{"sub":null}"#,
            br#"{"aud":[1]}"#,
            br#"[1]"#,
            br#"{"iss":"a"} x"#,
        ] {
            assert!(
                parse(json, &[]).is_err(),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn scopes_are_split_and_audiences_are_not() {
        let r = parse(br#"{"aud":"a b","scope":"  read  write "}"#, &[]).unwrap();
        assert_eq!(r.aud, Some(vec!["a b".to_owned()]));
        assert_eq!(r.scopes, ["read", "write"]);
        let r = parse(br#"{"aud":["a b","c"],"scp":["x y","z",""]}"#, &[]).unwrap();
        assert_eq!(r.aud, Some(vec!["a b".to_owned(), "c".to_owned()]));
        assert_eq!(r.scopes, ["x", "y", "z"]);
        let r = parse(br#"{"scope":"a\u0020b","aud":"\u0061"}"#, &[]).unwrap();
        assert_eq!(r.scopes, ["a", "b"], "escaped strings are decoded first");
        assert_eq!(r.aud, Some(vec!["a".to_owned()]));
        for json in [
            &br#"{"scope":["a",1]}"#[..],
            br#"{"scope":null}"#,
            br#"{"aud":{"a":1}}"#,
            br#"{"scp":[["a"]]}"#,
        ] {
            assert!(
                parse(json, &[]).is_err(),
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }

    #[test]
    fn numeric_dates_outside_1970_to_9999_are_refused() {
        for date in ["0", "1.5", "253402300799", "253402300799.9"] {
            for claim in ["exp", "nbf", "iat"] {
                let json = format!(r#"{{"{claim}":{date}}}"#);
                assert!(parse(json.as_bytes(), &[]).is_ok(), "{json}");
            }
        }
        let r = parse(br#"{"exp":253402300799.9,"iat":1.5}"#, &[]).unwrap();
        assert_eq!((r.exp, r.iat), (Some(MAX_NUMERIC_DATE), Some(1)));
        for date in [
            "253402300800",
            "1180591620717411303424",
            "1.1805916207174113e21",
            "18446744073709551615",
            "9223372036854775807",
            "1e300",
            "-1",
            "-0.5",
            "-1e300",
        ] {
            for claim in ["exp", "nbf", "iat"] {
                let json = format!(r#"{{"{claim}":{date}}}"#);
                assert!(parse(json.as_bytes(), &[]).is_err(), "{json}");
            }
        }
    }

    #[test]
    fn scp_array_is_read_when_scope_is_absent() {
        let r = parse(br#"{"scp":["a","b"]}"#, &[]).unwrap();
        assert_eq!(r.scopes, ["a", "b"]);
    }

    #[test]
    fn dotted_paths_reach_nested_roles() {
        let v = serde_json::json!({"roles": ["r1"], "other": 1});
        assert_eq!(strings_at(&v, &["roles"]), ["r1"]);
        assert!(strings_at(&v, &["missing"]).is_empty());
    }
}
