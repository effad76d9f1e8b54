//! Limits on the registered claims beyond their presence: `NumericDate`s between 1970 and
//! 9999, an optional maximum lifetime per issuer, a required `jti`.

mod common;

use std::time::Duration;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tower_jwt::revocation::{MemoryRevocationStore, Revocation, RevocationStore};

fn with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut c = claims();
    edit(&mut c);
    sign(&header(Algorithm::HS256), &c)
}

// NumericDates beyond the year 9999 (or before 1970) are malformed: an `exp` of 2^70 or
// 1e300 no longer saturates into a token that never expires.
#[tokio::test]
async fn out_of_range_numeric_dates_are_malformed() {
    for claim in ["exp", "nbf", "iat"] {
        for value in [
            json!(2f64.powi(70)),
            json!(1e300),
            json!(u64::MAX),
            json!(253_402_300_800u64),
            json!(-1),
        ] {
            let token = with(|c| c[claim] = value.clone());
            assert_refused(hs_verifier(), &token, "the token is malformed").await;
        }
    }
    // The latest date accepted still makes a time that can be revoked (plus any leeway).
    let far = with(|c| c["exp"] = json!(253_402_300_799u64));
    let identity = hs_verifier()
        .verify::<serde_json::Value>(&far)
        .await
        .unwrap();
    let store = MemoryRevocationStore::builder()
        .leeway(Duration::from_secs(300))
        .build()
        .unwrap();
    store
        .revoke(Revocation::token(ISS, "jti-1", identity.expires_at()))
        .await
        .unwrap();
    assert_eq!(store.len(), 1);
}

// An optional maximum lifetime (`exp - iat`) per issuer.
#[tokio::test]
async fn tokens_living_longer_than_the_maximum_lifetime_are_refused() {
    let capped = || {
        verifier(issuer(verification_key(Algorithm::HS256)).max_lifetime(Duration::from_secs(3600)))
    };
    let long = with(|c| c["exp"] = json!(now() + 3601));
    assert_refused(capped(), &long, "the token's lifetime is too long").await;
    assert_accepted(hs_verifier(), &long).await;
    let backdated = with(|c| {
        c["iat"] = json!(now() - 3000);
        c["exp"] = json!(now() + 700);
    });
    assert_refused(capped(), &backdated, "the token's lifetime is too long").await;
    let within = with(|c| c["exp"] = json!(now() + 3600));
    assert_accepted(capped(), &within).await;
    let err = issuer(verification_key(Algorithm::HS256))
        .max_lifetime(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_lifetime");
}

// RFC 9068 §2.2: access tokens carry a `jti`; required unless allowed missing.
#[tokio::test]
async fn a_jti_is_required_by_default() {
    let no_jti = with(|c| c.as_object_mut().unwrap().remove("jti").map(drop).unwrap());
    assert_refused(hs_verifier(), &no_jti, "the token lacks the `jti` claim").await;
    let empty = with(|c| c["jti"] = json!(""));
    assert_refused(hs_verifier(), &empty, "the token lacks the `jti` claim").await;
    let not_a_string = with(|c| c["jti"] = json!(7));
    assert_refused(hs_verifier(), &not_a_string, "the token is malformed").await;
    let lax = verifier(issuer(verification_key(Algorithm::HS256)).allow_missing_jti());
    assert_accepted(lax, &no_jti).await;

    // The ID-token preset allows it missing: ID tokens carry none.
    let mut h = header(Algorithm::HS256);
    h.typ = None;
    let mut id_claims = claims();
    id_claims.as_object_mut().unwrap().remove("jti");
    let id = verifier(
        tower_jwt::IssuerConfig::id_tokens(ISS, AUD)
            .key(verification_key(Algorithm::HS256).with_kid("k1")),
    );
    assert_accepted(id, &sign(&h, &id_claims)).await;
}
