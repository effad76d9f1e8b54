//! RFC 9701 JWT answers. A local endpoint plays the issuer (its JWKS holds the RSA key of
//! `tests/data/client-rsa2048.pem`, kid `as-1`) and answers signed, forged, unsigned or
//! mis-addressed JWTs: only a JWT signed by the issuer's key, with the right `typ`, `iss`,
//! `aud` and a recent `iat`, is read; anything else is a malformed answer (503). The real
//! provider's JWT answers are covered in `provider.rs`.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::read_verdict;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower_introspect::Introspection;

const ISSUER: &str = "https://as.example";
const JWKS: &str = r#"{"keys":[{"kty":"RSA","n":"lVDevQP9issTW9LxtgbiKffTaebmESk6WlDMiB7UH1hh9v3HDjiGvRHiGkYenXvbs8K9j3zFE02FFyCdeefKGfrpmi-PGGdtYTSupy-NNfdd-Ye0fFKybDhOf87tQ3PriFvffPHd4ijzNWb56wPf4mq9w-kxMvI7n7aF7vD4K5xshLnj68GFjTN63w8_fg0ptTD1HiSALtfy9R7dHcRFOBiftJg3xh9iPHJhfHrJEjxBV293Vvxk6XJOlmdAep7RmVtJAL0Uj1j7nsN0q31bdwNsIqH2wbeGLxjf-Mo-zS6quYREhyWANMPJvHnoeQD4q2El2jB6I-G-i0JjQ76TmQ","e":"AQAB","kid":"as-1","alg":"RS256","use":"sig"}]}"#;
const ISSUER_KEY: &[u8] = include_bytes!("data/client-rsa2048.pem");
const FORGER_KEY: &[u8] = include_bytes!("data/forger-rsa2048.pem");
const MEDIA_TYPE: &str = "application/token-introspection+jwt";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A valid JWT answer's claims: alice, active, scope `read`.
fn claims() -> Value {
    json!({
        "iss": ISSUER, "aud": "intro-rs", "iat": now(),
        "token_introspection": {
            "active": true, "sub": "alice", "scope": "read", "iss": ISSUER, "exp": now() + 600,
        },
    })
}

fn header(typ: Option<&str>) -> Header {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("as-1".into());
    header.typ = typ.map(str::to_owned);
    header
}

fn sign(header: &Header, claims: &Value, pem: &[u8]) -> String {
    tower_jwt::ensure_crypto_backend().unwrap();
    jsonwebtoken::encode(header, claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

fn signed(edit: impl FnOnce(&mut Value)) -> String {
    let mut c = claims();
    edit(&mut c);
    sign(&header(Some("token-introspection+jwt")), &c, ISSUER_KEY)
}

/// The answer of each case, with its media type.
fn answer(case: &str) -> (&'static str, String) {
    let typed = Some("token-introspection+jwt");
    let jwt = match case {
        "valid" => signed(|_| {}),
        "valid-application-typ" => sign(
            &header(Some("application/token-introspection+jwt")),
            &claims(),
            ISSUER_KEY,
        ),
        "inactive" => signed(|c| c["token_introspection"] = json!({ "active": false })),
        "forged" => sign(&header(typed), &claims(), FORGER_KEY),
        "unsigned" => {
            let head = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"token-introspection+jwt"}"#);
            let body = URL_SAFE_NO_PAD.encode(claims().to_string());
            format!("{head}.{body}.")
        }
        "stripped-signature" => {
            let jwt = signed(|_| {});
            format!("{}.", &jwt[..jwt.rfind('.').unwrap()])
        }
        "no-typ" => sign(&header(None), &claims(), ISSUER_KEY),
        "jwt-typ" => sign(&header(Some("JWT")), &claims(), ISSUER_KEY),
        "other-iss" => signed(|c| c["iss"] = json!("https://evil.example")),
        "other-aud" => signed(|c| c["aud"] = json!("another-client")),
        "no-aud" => signed(|c| drop(c.as_object_mut().unwrap().remove("aud"))),
        "no-iat" => signed(|c| drop(c.as_object_mut().unwrap().remove("iat"))),
        "old-iat" => signed(|c| c["iat"] = json!(now() - 3600)),
        "future-iat" => signed(|c| c["iat"] = json!(now() + 3600)),
        "expired" => signed(|c| c["exp"] = json!(now() - 120)),
        "no-answer" => signed(|c| drop(c.as_object_mut().unwrap().remove("token_introspection"))),
        "answer-string" => signed(|c| c["token_introspection"] = json!("active")),
        "json" => {
            return (
                "application/json",
                r#"{"active":true,"sub":"alice","scope":"read"}"#.to_owned(),
            );
        }
        "jwt-as-json" => return ("application/json", signed(|_| {})),
        _ => unreachable!("{case}"),
    };
    (MEDIA_TYPE, jwt)
}

/// The issuer: `/jwks`, and `/introspect/{case}` (which requires `Accept` for a JWT answer).
async fn issuer() -> String {
    let app = Router::new()
        .route(
            "/jwks",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], JWKS) }),
        )
        .route(
            "/introspect/{case}",
            post(|Path(case): Path<String>, headers: HeaderMap| async move {
                if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some(MEDIA_TYPE) {
                    return StatusCode::NOT_ACCEPTABLE.into_response();
                }
                let (media_type, body) = answer(&case);
                ([(header::CONTENT_TYPE, media_type)], body).into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The status and the refusal's reason for one request to `/read`, introspected at `case`.
async fn ask(url: &str, case: &str) -> (StatusCode, Option<&'static str>) {
    let introspection = Introspection::builder(ISSUER)
        .endpoint(format!("{url}/introspect/{case}"))
        .client_id("intro-rs")
        .client_secret("intro-rs-secret")
        .jwt_responses()
        .jwks_url(format!("{url}/jwks"))
        .insecure_http_loopback()
        .build()
        .unwrap();
    read_verdict(&introspection).await
}

#[tokio::test]
async fn a_jwt_answer_signed_by_the_issuer_is_read() {
    let url = issuer().await;
    assert_eq!(ask(&url, "valid").await, (StatusCode::OK, None));
    assert_eq!(
        ask(&url, "valid-application-typ").await,
        (StatusCode::OK, None)
    );
    assert_eq!(
        ask(&url, "inactive").await,
        (StatusCode::UNAUTHORIZED, Some("inactive"))
    );
}

#[tokio::test]
async fn forged_unsigned_and_misaddressed_jwt_answers_are_503() {
    let url = issuer().await;
    for case in [
        "forged",
        "unsigned",
        "stripped-signature",
        "no-typ",
        "jwt-typ",
        "other-iss",
        "other-aud",
        "no-aud",
        "no-iat",
        "old-iat",
        "future-iat",
        "expired",
        "no-answer",
        "answer-string",
    ] {
        assert_eq!(
            ask(&url, case).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("invalid_introspection_response")
            ),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_plain_json_answer_is_refused_when_a_jwt_was_asked_for() {
    let url = issuer().await;
    for case in ["json", "jwt-as-json"] {
        assert_eq!(
            ask(&url, case).await,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("introspection_unavailable")
            ),
            "{case}"
        );
    }
}
