//! The key format: `{prefix}_{env}_{id}{secret}{checksum}`.
//!
//! After the environment come 61 letters and digits (base62): a 12-character public key id,
//! a 43-character secret (256 bits from the operating system's CSPRNG) and a 6-character
//! CRC32 of everything before it. A key with the default prefix is 69 characters long:
//!
//! ```text
//! sk_live_ 3kTMd9aQx2Lp 7fH...43 chars...Zq 0bX91c
//!          └ id (12)    └ secret (43)       └ CRC32 (6)
//! ```
//!
//! The checksum lets a mistyped, truncated or forged key be refused without a store lookup,
//! and the fixed layout gives secret scanners a precise pattern ([`KEY_REGEX`]).
//!
//! ```
//! use tower_apikey::{Env, KeyFormat};
//!
//! let format = KeyFormat::default();
//! let key = format.generate(Env::Live).unwrap();
//! assert!(key.expose().starts_with("sk_live_"));
//! assert_eq!(key.expose().len(), format.key_len());
//! let parsed = format.parse(key.expose()).unwrap();
//! assert_eq!(parsed.id(), key.id());
//!
//! // Debug never shows the secret.
//! assert!(!format!("{key:?}").contains(key.expose()));
//!
//! // One changed character fails the checksum.
//! let mut typo = key.expose().to_owned();
//! let last = typo.pop().unwrap();
//! typo.push(if last == 'a' { 'b' } else { 'a' });
//! assert!(format.parse(&typo).is_err());
//! ```

use std::fmt;
use std::str::FromStr;

use auth_core::{ConfigError, ConfigErrorKind};
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

/// The secret-scanner pattern for keys with the default `sk` prefix.
///
/// Use [`KeyFormat::regex`] for a custom prefix.
pub const KEY_REGEX: &str = r"\bsk_(?:live|test)_[0-9A-Za-z]{61}\b";

/// Length of the public key id.
pub const ID_LEN: usize = 12;
/// Length of the secret part: 43 base62 characters carry 256 bits.
pub const SECRET_LEN: usize = 43;
/// Length of the base62-encoded CRC32 checksum.
pub const CHECKSUM_LEN: usize = 6;
/// Characters after `{prefix}_{env}_`.
pub const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECKSUM_LEN;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const MAX_PREFIX_LEN: usize = 16;

/// The environment a key belongs to, written into the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Env {
    /// Production keys: `sk_live_…`.
    Live,
    /// Test-mode keys: `sk_test_…`.
    Test,
}

impl Env {
    /// `live` or `test`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Test => "test",
        }
    }
}

impl fmt::Display for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Env {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "live" => Ok(Self::Live),
            "test" => Ok(Self::Test),
            other => Err(format!(
                "unknown environment `{other}` (expected live or test)"
            )),
        }
    }
}

/// Why a string is not a key of this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// It does not start with `{prefix}_`: not a key of this format at all (perhaps a JWT).
    #[error("not a key with this prefix")]
    ForeignPrefix,
    /// It starts like one of our keys but the layout is wrong.
    #[error("malformed key")]
    Malformed,
    /// The layout is right but the checksum does not match.
    #[error("bad key checksum")]
    BadChecksum,
}

/// The operating system's random number generator failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomError(String);

/// A key's layout: the type prefix (default `sk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: String,
    /// The CRC32 of `{prefix}_live_` and of `{prefix}_test_`: a key's checksum resumes from
    /// it, so only the id and the secret are hashed per key.
    head_crc: [u32; 2],
}

impl Default for KeyFormat {
    fn default() -> Self {
        Self::with_prefix("sk".to_owned())
    }
}

impl KeyFormat {
    /// A format with type prefix `prefix`: 1 to 16 lowercase ASCII letters or digits,
    /// starting with a letter (`sk`, `pk`, `acme`).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] when the prefix breaks those rules.
    pub fn new(prefix: impl Into<String>) -> Result<Self, ConfigError> {
        let prefix = prefix.into();
        let valid = !prefix.is_empty()
            && prefix.len() <= MAX_PREFIX_LEN
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "prefix",
                "must be 1 to 16 lowercase ASCII letters or digits, starting with a letter",
            ));
        }
        Ok(Self::with_prefix(prefix))
    }

    /// The CRC32 of `{prefix}_{env}_`.
    fn head_crc(&self, env: Env) -> u32 {
        match env {
            Env::Live => self.head_crc[0],
            Env::Test => self.head_crc[1],
        }
    }

    fn with_prefix(prefix: String) -> Self {
        let head_crc = [Env::Live, Env::Test]
            .map(|env| crc32fast::hash(format!("{prefix}_{}_", env.as_str()).as_bytes()));
        Self { prefix, head_crc }
    }

    /// The type prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The length of every key of this format.
    #[must_use]
    pub fn key_len(&self) -> usize {
        self.prefix.len() + "_live_".len() + BODY_LEN
    }

    /// The secret-scanner regex for this prefix (equal to [`KEY_REGEX`] for `sk`).
    #[must_use]
    pub fn regex(&self) -> String {
        format!(
            r"\b{}_(?:live|test)_[0-9A-Za-z]{{{BODY_LEN}}}\b",
            self.prefix
        )
    }

    /// Generates a new key for `env` from the operating system's CSPRNG.
    ///
    /// # Errors
    ///
    /// [`RandomError`] if the operating system cannot supply randomness.
    pub fn generate(&self, env: Env) -> Result<ApiKey, RandomError> {
        let mut key = String::with_capacity(self.key_len());
        key.push_str(&self.prefix);
        key.push('_');
        key.push_str(env.as_str());
        key.push('_');
        let head = key.len();
        random_base62(&mut key, ID_LEN + SECRET_LEN)?;
        let crc = crc32fast::hash(key.as_bytes());
        push_base62_u32(&mut key, crc);
        Ok(ApiKey {
            id_range: (head, head + ID_LEN),
            env,
            key,
        })
    }

    /// Checks `key`'s layout and checksum. Touches no store.
    ///
    /// # Errors
    ///
    /// [`ParseError::ForeignPrefix`] when `key` does not start with `{prefix}_`,
    /// [`ParseError::Malformed`] or [`ParseError::BadChecksum`] when it does but is not a key.
    pub fn parse<'k>(&self, key: &'k str) -> Result<ParsedKey<'k>, ParseError> {
        let rest = key
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('_'))
            .ok_or(ParseError::ForeignPrefix)?;
        let (env, body) = if let Some(body) = rest.strip_prefix("live_") {
            (Env::Live, body)
        } else if let Some(body) = rest.strip_prefix("test_") {
            (Env::Test, body)
        } else {
            return Err(ParseError::Malformed);
        };
        if body.len() != BODY_LEN || !is_alphanumeric(body.as_bytes()) {
            return Err(ParseError::Malformed);
        }
        let (signed, checksum) = body.split_at(ID_LEN + SECRET_LEN);
        let expected = decode_base62_u32(checksum).ok_or(ParseError::BadChecksum)?;
        let mut crc = crc32fast::Hasher::new_with_initial(self.head_crc(env));
        crc.update(signed.as_bytes());
        if crc.finalize() != expected {
            return Err(ParseError::BadChecksum);
        }
        Ok(ParsedKey {
            id: &body[..ID_LEN],
            env,
        })
    }
}

/// Whether every byte is `[0-9A-Za-z]`: every request with a key runs it, so eight bytes
/// at a time with no branch (SWAR; the last eight bytes overlap the words before them).
fn is_alphanumeric(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte that is not a letter or a digit. On the low seven bits of a
    // byte `t`, `(0x7f + n - t) & (t + 0x7f - m)` has its high bit set exactly when
    // m < t < n, with no carry between bytes.
    let outside = |word: &[u8; 8]| {
        let x = u64::from_ne_bytes(*word);
        let t = x & !HIGH;
        let digit =
            (ONES * (0x7f + u64::from(b'9') + 1) - t) & (t + ONES * (0x7f - u64::from(b'0') + 1));
        let folded = t | (ONES * 0x20); // capitals onto small letters
        let letter = (ONES * (0x7f + u64::from(b'z') + 1) - folded)
            & (folded + ONES * (0x7f - u64::from(b'a') + 1));
        (!(digit | letter) | x) & HIGH
    };
    match (bytes.as_chunks::<8>().0, bytes.last_chunk::<8>()) {
        (words, Some(last)) => words.iter().fold(outside(last), |acc, w| acc | outside(w)) == 0,
        (_, None) => bytes.iter().all(u8::is_ascii_alphanumeric),
    }
}

/// A key that passed [`KeyFormat::parse`]: its public id and environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedKey<'k> {
    id: &'k str,
    env: Env,
}

impl<'k> ParsedKey<'k> {
    /// The public key id (safe to log and display).
    #[must_use]
    pub fn id(&self) -> &'k str {
        self.id
    }

    /// The environment.
    #[must_use]
    pub fn env(&self) -> Env {
        self.env
    }
}

/// A freshly generated key in plaintext: show it to its owner once, then drop it.
///
/// Its `Debug` shows only the public id; [`expose`](ApiKey::expose) is the one way to read
/// the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    key: String,
    env: Env,
    id_range: (usize, usize),
}

impl ApiKey {
    /// The full key, secret included.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// The public key id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.key[self.id_range.0..self.id_range.1]
    }

    /// The environment.
    #[must_use]
    pub fn env(&self) -> Env {
        self.env
    }

    /// What may be displayed to identify the key: `{prefix}_{env}_{id}`.
    #[must_use]
    pub fn display_prefix(&self) -> &str {
        &self.key[..self.id_range.1]
    }

    /// The last four characters, for "ends in …" displays.
    #[must_use]
    pub fn last_four(&self) -> &str {
        &self.key[self.key.len() - 4..]
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id())
            .field("env", &self.env)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Appends `n` uniformly random base62 characters from the OS CSPRNG (rejection sampling).
fn random_base62(out: &mut String, n: usize) -> Result<(), RandomError> {
    let mut pushed = 0;
    let mut buf = [0u8; 64];
    while pushed < n {
        OsRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| RandomError(e.to_string()))?;
        // 248 = 4 * 62: bytes at or above it would bias the distribution.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if pushed == n {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(b % 62)]));
            pushed += 1;
        }
    }
    Ok(())
}

fn push_base62_u32(out: &mut String, mut value: u32) {
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    out.extend(digits.iter().map(|&b| char::from(b)));
}

/// Marks a byte outside [`ALPHABET`] in [`DIGITS`].
const NOT_A_DIGIT: u8 = u8::MAX;

/// The base62 value of every byte, [`NOT_A_DIGIT`] for bytes outside [`ALPHABET`].
const DIGITS: [u8; 256] = {
    let mut digits = [NOT_A_DIGIT; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        digits[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    digits
};

fn decode_base62_u32(s: &str) -> Option<u32> {
    let mut value: u64 = 0;
    for b in s.bytes() {
        let digit = DIGITS[usize::from(b)];
        if digit == NOT_A_DIGIT {
            return None;
        }
        value = value * 62 + u64::from(digit);
    }
    u32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_have_fixed_length() {
        let format = KeyFormat::default();
        for env in [Env::Live, Env::Test] {
            let key = format.generate(env).unwrap();
            assert_eq!(key.expose().len(), 69);
            assert_eq!(key.expose().len(), format.key_len());
            assert_eq!(key.display_prefix().len(), "sk_live_".len() + ID_LEN);
            let parsed = format.parse(key.expose()).unwrap();
            assert_eq!(parsed.id(), key.id());
            assert_eq!(parsed.env(), env);
            assert!(key.expose()[8..].bytes().all(|b| b.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn keys_are_unique() {
        let format = KeyFormat::default();
        let a = format.generate(Env::Live).unwrap();
        let b = format.generate(Env::Live).unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn base62_round_trips_u32_extremes() {
        for v in [0, 1, 61, 62, 0xdead_beef, u32::MAX] {
            let mut s = String::new();
            push_base62_u32(&mut s, v);
            assert_eq!(s.len(), CHECKSUM_LEN);
            assert_eq!(decode_base62_u32(&s), Some(v));
        }
        assert_eq!(decode_base62_u32("zzzzzz"), None, "62^6 - 1 overflows u32");
        for byte in 0..=u8::MAX {
            let text = [b'0', byte];
            let decoded = std::str::from_utf8(&text).ok().and_then(decode_base62_u32);
            let expected = ALPHABET.iter().position(|&a| a == byte);
            assert_eq!(decoded, expected.map(|d| d as u32), "byte {byte}");
        }
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let format = KeyFormat::default();
        let key = format.generate(Env::Test).unwrap();
        let original = key.expose().as_bytes();
        for i in 8..original.len() {
            let mut bytes = original.to_vec();
            bytes[i] = if bytes[i] == b'Q' { b'R' } else { b'Q' };
            let mutated = String::from_utf8(bytes).unwrap();
            assert_eq!(
                format.parse(&mutated).unwrap_err(),
                ParseError::BadChecksum,
                "position {i}"
            );
        }
    }

    #[test]
    fn layouts_are_classified() {
        let format = KeyFormat::default();
        let key = format.generate(Env::Live).unwrap();
        let k = key.expose();
        assert_eq!(
            format.parse("eyJhbGciOi.x.y"),
            Err(ParseError::ForeignPrefix)
        );
        assert_eq!(format.parse("skx_live_abc"), Err(ParseError::ForeignPrefix));
        assert_eq!(format.parse("sk_prod_abc"), Err(ParseError::Malformed));
        assert_eq!(format.parse(&k[..k.len() - 1]), Err(ParseError::Malformed));
        assert_eq!(format.parse(&format!("{k}0")), Err(ParseError::Malformed));
        let dashed = format!("{}-{}", &k[..10], &k[11..]);
        assert_eq!(format.parse(&dashed), Err(ParseError::Malformed));
        let other = KeyFormat::new("pk").unwrap();
        assert_eq!(other.parse(k), Err(ParseError::ForeignPrefix));
    }

    #[test]
    fn the_checksum_resumes_from_the_head() {
        for format in [KeyFormat::default(), KeyFormat::new("acme2").unwrap()] {
            for env in [Env::Live, Env::Test] {
                let key = format.generate(env).unwrap();
                let (signed, _) = key.expose().split_at(key.expose().len() - CHECKSUM_LEN);
                let head = signed.len() - ID_LEN - SECRET_LEN;
                let mut crc = crc32fast::Hasher::new_with_initial(format.head_crc(env));
                crc.update(&signed.as_bytes()[head..]);
                assert_eq!(crc.finalize(), crc32fast::hash(signed.as_bytes()));
                assert!(format.parse(key.expose()).is_ok());
            }
        }
    }

    #[test]
    fn prefix_rules() {
        for bad in ["", "SK", "1sk", "s_k", "sk-", "abcdefghijklmnopq"] {
            assert!(KeyFormat::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(KeyFormat::new("acme2").unwrap().prefix(), "acme2");
    }

    #[test]
    fn alphanumeric_check_agrees_with_std_on_every_byte() {
        for byte in 0..=u8::MAX {
            let mut body = [b'a'; 61];
            body[37] = byte;
            assert_eq!(
                is_alphanumeric(&body),
                byte.is_ascii_alphanumeric(),
                "byte {byte}"
            );
        }
        assert!(is_alphanumeric(b""));
        for len in 1..=24 {
            for at in 0..len {
                for fill in [b'a', b'Z', b'0', b'z', b'9', b'A'] {
                    for byte in 0..=u8::MAX {
                        let mut bytes = vec![fill; len];
                        bytes[at] = byte;
                        let expected = byte.is_ascii_alphanumeric();
                        assert_eq!(is_alphanumeric(&bytes), expected, "{byte} at {at} of {len}");
                    }
                }
            }
        }
    }
}
