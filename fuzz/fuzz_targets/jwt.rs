//! JWS and JWT decoding (`tower_jwt::jws`, `JwtVerifier::verify`) with an HS256 issuer.
//!
//! Input: the first byte picks the mode.
//! * even: the rest is the token text, verified as it is;
//! * odd: the rest is `header JSON` 0x00 `payload bytes`, encoded and signed with the
//!   issuer's secret, so the header and claim rules behind the signature are fuzzed too.
//!
//! Every refusal is a 401. Only a token whose signature is the HS256 of its signing input
//! under the secret may pass, with the configured issuer and a subject.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use jsonwebtoken::EncodingKey;
use libfuzzer_sys::fuzz_target;
use tower_jwt::{Algorithm, IssuerConfig, JwtVerifier, Key, KeySet};

const ISSUER: &str = "https://issuer.example";
const SECRET: &[u8] = b"a fuzzing HS256 secret, 32 bytes+";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    keys: KeySet,
    verifier: JwtVerifier,
    signer: EncodingKey,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let config = IssuerConfig::builder(ISSUER)
            .audience("api")
            .hmac_secret(SECRET)
            .build()
            .expect("the issuer configuration is valid");
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a tokio runtime"),
            keys: KeySet::new([Key::hmac(Algorithm::HS256, SECRET).expect("a valid secret")]),
            verifier: JwtVerifier::new(config).expect("a valid verifier"),
            signer: EncodingKey::from_secret(SECRET).expect("a valid secret"),
        }
    })
}

fn signature(input: &str, signer: &EncodingKey) -> String {
    jsonwebtoken::crypto::sign(input.as_bytes(), signer, Algorithm::HS256)
        .expect("HS256 signs any input")
}

/// Whether `token` ends in the canonical HS256 signature of what precedes its last dot.
fn genuine(token: &str, signer: &EncodingKey) -> bool {
    token
        .rsplit_once('.')
        .is_some_and(|(input, sig)| signature(input, signer) == sig)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let token = if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        text.to_owned()
    } else {
        let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let (header, payload) = rest.split_at(split);
        let payload = payload.get(1..).unwrap_or_default();
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = signature(&input, &fixture.signer);
        format!("{input}.{signature}")
    };
    let genuine = genuine(&token, &fixture.signer);

    match fixture.keys.verify_jws(&token) {
        Ok(_) => assert!(genuine, "a JWS not signed with the key was accepted"),
        Err(error) => assert_eq!(error.status(), StatusCode::UNAUTHORIZED),
    }

    let verified = fixture
        .runtime
        .block_on(fixture.verifier.verify::<serde_json::Value>(&token));
    match verified {
        Ok(identity) => {
            assert!(genuine, "a JWT not signed with the key was accepted");
            assert_eq!(identity.issuer(), ISSUER);
            assert!(
                !identity.subject().is_empty(),
                "a JWT without a subject was accepted"
            );
        }
        Err(error) => assert_eq!(error.status(), StatusCode::UNAUTHORIZED, "{error:?}"),
    }
});
