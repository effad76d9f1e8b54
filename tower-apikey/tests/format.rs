//! The published secret-scanner regex matches every generated key and nothing shorter,
//! longer or differently prefixed.

use regex::Regex;
use tower_apikey::{Env, KEY_REGEX, KeyFormat};

#[test]
fn the_published_regex_finds_keys_in_text() {
    let re = Regex::new(KEY_REGEX).unwrap();
    let format = KeyFormat::default();
    assert_eq!(format.regex(), KEY_REGEX);
    for env in [Env::Live, Env::Test] {
        let key = format.generate(env).unwrap();
        let leaked = format!("config:\n  API_KEY=\"{}\"\n", key.expose());
        assert_eq!(re.find(&leaked).unwrap().as_str(), key.expose());
        assert!(!re.is_match(&key.expose()[..68]), "one short");
        assert!(!re.is_match(&format!("{}x", key.expose())), "one long");
        assert!(!re.is_match(&key.expose().replace("sk_", "pk_")));
    }
    let custom = KeyFormat::new("acme").unwrap();
    let re = Regex::new(&custom.regex()).unwrap();
    let key = custom.generate(Env::Live).unwrap();
    assert!(key.expose().starts_with("acme_live_"));
    assert!(re.is_match(key.expose()));
    assert_eq!(key.expose().len(), custom.key_len());
}
