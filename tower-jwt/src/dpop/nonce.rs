//! Server-provided DPoP nonces (RFC 9449 §8, §9) that need no shared state: a nonce is a
//! time slot's number and an HMAC over it, keyed by a secret the instances share.
//!
//! A nonce is `base64url(slot ‖ tag)`: the slot (`now / slot length`) as 8 big-endian bytes
//! and the first 16 bytes of HMAC-SHA-256(secret, origin ‖ 0 ‖ slot). The nonce of the
//! current slot and of the one before are accepted, so a nonce lives between one and two
//! slot lengths.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes of the HMAC tag kept in a nonce.
const TAG_LEN: usize = 16;
/// Bytes of a decoded nonce: the slot and the tag.
const NONCE_LEN: usize = 8 + TAG_LEN;

/// What a proof's `nonce` claim is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// The current slot's nonce.
    Current,
    /// The previous slot's: accepted, and the response carries a fresh one.
    Previous,
    /// Absent, forged, from another secret or origin, or older.
    Refused,
}

/// Mints and checks nonces. The keyed HMAC state is computed once and cloned per use.
#[derive(Clone)]
pub(crate) struct Nonces {
    /// HMAC-SHA-256 keyed by the secret, with the origin already absorbed.
    mac: Hmac<Sha256>,
    slot_secs: u64,
}

impl Nonces {
    /// `secret` is at least 32 bytes and `slot_secs` positive (checked by the builder).
    pub(crate) fn new(secret: &[u8], origin: &str, slot_secs: u64) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(origin.as_bytes());
        mac.update(&[0]);
        Self { mac, slot_secs }
    }

    fn slot(&self, now: i64) -> u64 {
        u64::try_from(now).unwrap_or(0) / self.slot_secs
    }

    fn mac(&self, slot: u64) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(&slot.to_be_bytes());
        mac
    }

    /// The nonce of the slot `now` (seconds) falls in.
    pub(crate) fn mint(&self, now: i64) -> String {
        let slot = self.slot(now);
        let tag = self.mac(slot).finalize().into_bytes();
        let mut bytes = [0u8; NONCE_LEN];
        bytes[..8].copy_from_slice(&slot.to_be_bytes());
        bytes[8..].copy_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Judges `nonce` at `now` (seconds). The tag is compared in constant time.
    pub(crate) fn check(&self, nonce: Option<&str>, now: i64) -> Freshness {
        let Some(nonce) = nonce else {
            return Freshness::Refused;
        };
        let mut bytes = [0u8; NONCE_LEN];
        if nonce.len() != 32
            || URL_SAFE_NO_PAD
                .decode_slice(nonce, &mut bytes)
                .ok()
                .is_none_or(|n| n != NONCE_LEN)
        {
            return Freshness::Refused;
        }
        let mut slot = [0u8; 8];
        slot.copy_from_slice(&bytes[..8]);
        let slot = u64::from_be_bytes(slot);
        let current = self.slot(now);
        let freshness = if slot == current {
            Freshness::Current
        } else if current.checked_sub(1) == Some(slot) {
            Freshness::Previous
        } else {
            return Freshness::Refused;
        };
        if self.mac(slot).verify_truncated_left(&bytes[8..]).is_ok() {
            freshness
        } else {
            Freshness::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a shared nonce secret of 32 bytes or more";
    const ORIGIN: &str = "https://api.example.com";

    #[test]
    fn a_nonce_lives_for_its_slot_and_the_next() {
        let nonces = Nonces::new(SECRET, ORIGIN, 60);
        let t = 1_800_000_000; // The start of a slot: 1_800_000_000 is a multiple of 60.
        let nonce = nonces.mint(t);
        assert_eq!(nonce.len(), 32);
        assert_eq!(nonce, nonces.mint(t + 59), "one nonce per slot");
        assert_ne!(nonce, nonces.mint(t + 60));
        assert_eq!(nonces.check(Some(&nonce), t), Freshness::Current);
        assert_eq!(nonces.check(Some(&nonce), t + 59), Freshness::Current);
        assert_eq!(nonces.check(Some(&nonce), t + 60), Freshness::Previous);
        assert_eq!(nonces.check(Some(&nonce), t + 119), Freshness::Previous);
        assert_eq!(nonces.check(Some(&nonce), t + 120), Freshness::Refused);
        assert_eq!(
            nonces.check(Some(&nonce), t - 1),
            Freshness::Refused,
            "a future slot"
        );
    }

    #[test]
    fn instances_sharing_the_secret_and_origin_accept_each_others_nonces() {
        let t = 1_800_000_030;
        let a = Nonces::new(SECRET, ORIGIN, 60);
        let b = Nonces::new(SECRET, ORIGIN, 60);
        assert_eq!(b.check(Some(&a.mint(t)), t), Freshness::Current);
        let other_secret = Nonces::new(b"another secret, also 32 bytes long!!", ORIGIN, 60);
        assert_eq!(other_secret.check(Some(&a.mint(t)), t), Freshness::Refused);
        let other_origin = Nonces::new(SECRET, "https://other.example.com", 60);
        assert_eq!(other_origin.check(Some(&a.mint(t)), t), Freshness::Refused);
    }

    #[test]
    fn forged_and_malformed_nonces_are_refused() {
        let t = 1_800_000_000;
        let nonces = Nonces::new(SECRET, ORIGIN, 60);
        let nonce = nonces.mint(t);
        let mut bytes = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        // The current slot with another tag.
        bytes[NONCE_LEN - 1] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&bytes);
        // A valid tag moved to another slot.
        let mut moved = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        moved[7] ^= 1;
        let moved = URL_SAFE_NO_PAD.encode(&moved);
        for bad in [
            None,
            Some(""),
            Some(forged.as_str()),
            Some(moved.as_str()),
            Some(&nonce[..31]),
            Some("********************************"),
            Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ] {
            assert_eq!(nonces.check(bad, t), Freshness::Refused, "{bad:?}");
        }
    }

    #[test]
    fn clocks_before_the_epoch_or_at_the_end_of_time_do_not_panic() {
        let nonces = Nonces::new(SECRET, ORIGIN, 60);
        let early = nonces.mint(-5);
        assert_eq!(nonces.check(Some(&early), 0), Freshness::Current);
        let late = nonces.mint(i64::MAX);
        assert_eq!(nonces.check(Some(&late), i64::MAX), Freshness::Current);
    }
}
