//! API-key parsing (`tower_apikey::KeyFormat::parse`, `KeyDigest::from_hex`): any string is
//! a key of the exact layout with a matching checksum, or a `ParseError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_apikey::KeyFormat;
use tower_apikey::key::ID_LEN;
use tower_apikey::record::KeyDigest;

fn check(format: &KeyFormat, text: &str) {
    let Ok(parsed) = format.parse(text) else {
        return;
    };
    assert_eq!(
        text.len(),
        format.key_len(),
        "a key of the wrong length was accepted"
    );
    let head = format!("{}_{}_", format.prefix(), parsed.env());
    assert!(
        text.starts_with(&head),
        "a key with another prefix was accepted"
    );
    assert_eq!(parsed.id(), &text[head.len()..head.len() + ID_LEN]);
    assert!(
        text[head.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric()),
        "a key with characters outside base62 was accepted"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(&KeyFormat::default(), text);
    check(&KeyFormat::new("acme2").expect("a valid prefix"), text);
    if let Some(digest) = KeyDigest::from_hex(text) {
        assert_eq!(digest.to_hex(), text.to_ascii_lowercase());
    }
});
