//! JWK and JWK-set parsing (`tower_jwt::jwk`: `Key::from_jwk`, `KeySet::from_jwks`): any
//! text is a key or a configuration error, never a panic, and an accepted set is usable:
//! not empty, no `kid` twice, not a mix of secrets and public keys.
#![no_main]

use std::collections::HashSet;

use jsonwebtoken::AlgorithmFamily;
use libfuzzer_sys::fuzz_target;
use tower_jwt::{Key, KeySet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = Key::from_jwk(text) {
        // A key is pinned to one algorithm; using it on a junk JWS is a refusal.
        let set = KeySet::new([key]);
        assert!(set.verify_jws("e30.e30.AAAA").is_err());
    }
    if let Ok(set) = KeySet::from_jwks(text) {
        let keys = set.keys();
        assert!(!keys.is_empty(), "an empty JWK set was accepted");
        let secrets = keys
            .iter()
            .filter(|key| key.algorithm().family() == AlgorithmFamily::Hmac)
            .count();
        assert!(
            secrets == 0 || secrets == keys.len(),
            "a JWK set mixing secrets and public keys was accepted"
        );
        let mut kids = HashSet::new();
        for kid in keys.iter().filter_map(Key::kid) {
            assert!(
                kids.insert(kid),
                "a JWK set with a duplicate kid was accepted"
            );
        }
    }
});
