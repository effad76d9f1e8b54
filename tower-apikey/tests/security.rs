//! Every rule of SECURITY.md, section 'API keys', as a request against a real router.

mod common;

use std::time::Duration;

use auth_core::AuthErrorKind;
use common::{Counting, app, bearer, send, x_api_key};
use http::Request;
use tower_apikey::{ApiKeys, Env, KeyFormat, MemoryApiKeyStore, NewKey};

fn keys_over(store: impl tower_apikey::ApiKeyStore) -> ApiKeys {
    ApiKeys::builder(store).build().unwrap()
}

#[tokio::test]
async fn a_valid_key_authenticates_by_bearer_or_x_api_key() {
    let keys = keys_over(MemoryApiKeyStore::new());
    let created = keys
        .create(NewKey::new("acme").scopes(["read"]))
        .await
        .unwrap();
    let app = app(&keys);
    for request in [
        bearer("/whoami", created.key.expose()),
        x_api_key("/whoami", created.key.expose()),
    ] {
        let answer = send(&app, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body, "acme");
    }
    // the Principal seen by the handler: method api_key, subject = account, scopes
    let request = bearer("/whoami", created.key.expose());
    let mut svc = tower::ServiceBuilder::new().layer(keys.layer()).service_fn(
        |req: Request<axum::body::Body>| async move {
            let p = req
                .extensions()
                .get::<auth_core::Principal>()
                .unwrap()
                .clone();
            Ok::<_, std::convert::Infallible>(http::Response::new(format!(
                "{} {} {:?}",
                p.method(),
                p.subject(),
                p.scopes()
            )))
        },
    );
    let response = tower::ServiceExt::ready(&mut svc).await.unwrap();
    let response = tower_service::Service::call(response, request)
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], br#"api_key acme ["read"]"#);

    // The key's expiry reaches the Principal.
    let expiring = keys
        .create(NewKey::new("acme").expires_at(4_000_000_000))
        .await
        .unwrap();
    let identity = auth_core::Authenticate::authenticate(
        &mut keys.authenticator(),
        &bearer("/", expiring.key.expose()),
    )
    .await
    .unwrap();
    let principal = auth_core::Identity::principal(&identity);
    assert_eq!(
        principal.expires_at(),
        Some(std::time::UNIX_EPOCH + Duration::from_secs(4_000_000_000))
    );
    assert_eq!(identity.key().id, expiring.info.id);
}

#[tokio::test]
async fn malformed_and_bad_checksum_keys_are_refused_before_any_store_lookup() {
    let store = Counting::new(MemoryApiKeyStore::new());
    let keys = keys_over(store.clone());
    let app = app(&keys);
    let good = keys.create(NewKey::new("acme")).await.unwrap();
    let k = good.key.expose();
    let mut flipped = k.to_owned();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let secret_typo = format!(
        "{}{}{}",
        &k[..30],
        if &k[30..31] == "x" { "y" } else { "x" },
        &k[31..]
    );
    let malformed = [
        flipped.clone(),
        secret_typo,
        k[..k.len() - 1].to_owned(),
        format!("{k}A"),
        "sk_live_short".to_owned(),
        "sk_prod_".to_owned() + &k[8..],
        format!("sk_live_{}", "A".repeat(61)),
    ];
    for bad in &malformed {
        for request in [bearer("/whoami", bad), x_api_key("/whoami", bad)] {
            let answer = send(&app, request).await;
            assert_eq!(answer.status, 401, "{bad}: {answer:?}");
            assert_eq!(answer.reason, Some("malformed"), "{bad}");
        }
    }
    assert_eq!(store.lookups(), 0, "no malformed key reached the store");

    // A well-formed unknown key costs one lookup, then the negative cache answers.
    let unknown = KeyFormat::default().generate(Env::Live).unwrap();
    for _ in 0..3 {
        let answer = send(&app, bearer("/whoami", unknown.expose())).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.reason, Some("not_found"));
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn unknown_malformed_revoked_expired_and_early_keys_get_the_identical_401() {
    let keys = keys_over(MemoryApiKeyStore::new());
    let app = app(&keys);
    let now = tower_apikey::record::now();
    let revoked = keys.create(NewKey::new("acme")).await.unwrap();
    keys.revoke(&revoked.info.id).await.unwrap();
    let expired = keys
        .create(NewKey::new("acme").expires_at(now - 1))
        .await
        .unwrap();
    let early = keys
        .create(NewKey::new("acme").not_before(now + 3600))
        .await
        .unwrap();
    let valid = keys.create(NewKey::new("acme")).await.unwrap();
    // A key with a valid id and checksum but another secret.
    let forged = {
        let format = KeyFormat::default();
        let other = format.generate(Env::Live).unwrap();
        let body = format!("sk_live_{}{}", valid.key.id(), &other.expose()[20..63]);
        let crc = crc32fast_hash(&body);
        body + &crc
    };
    assert!(KeyFormat::default().parse(&forged).is_ok());
    let unknown = KeyFormat::default().generate(Env::Live).unwrap();
    let cases = [
        (unknown.expose().to_owned(), "not_found"),
        (with_last_char_changed(unknown.expose()), "malformed"),
        (revoked.key.expose().to_owned(), "revoked"),
        (expired.key.expose().to_owned(), "expired"),
        (early.key.expose().to_owned(), "not_yet_valid"),
        (forged, "not_found"),
    ];
    let mut answers = Vec::new();
    for (key, reason) in cases {
        let answer = send(&app, bearer("/whoami", &key)).await;
        assert_eq!(answer.status, 401, "{reason}: {answer:?}");
        assert_eq!(answer.reason, Some(reason));
        assert!(
            !answer.body.contains(&key[8..]),
            "the body never echoes the key"
        );
        answers.push((answer.challenge.unwrap(), answer.body));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every refusal looks the same: {answers:#?}"
    );
    assert!(
        answers[0].0.contains(r#"error="invalid_token""#),
        "{}",
        answers[0].0
    );
    assert_eq!(
        send(&app, bearer("/whoami", valid.key.expose()))
            .await
            .status,
        200
    );
}

/// Base62 CRC32, as the key format computes it (re-derived here to forge a key).
fn crc32fast_hash(body: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut v = crc32(body.as_bytes());
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope() {
    let keys = keys_over(MemoryApiKeyStore::new());
    let app = app(&keys);
    let reader = keys
        .create(NewKey::new("r").scopes(["read"]))
        .await
        .unwrap();
    let admin = keys
        .create(NewKey::new("a").scopes(["read", "admin"]))
        .await
        .unwrap();
    let answer = send(&app, bearer("/admin", reader.key.expose())).await;
    assert_eq!(answer.status, 403);
    let challenge = answer.challenge.unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="admin""#), "{challenge}");
    assert_eq!(
        send(&app, bearer("/admin", admin.key.expose()))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn query_string_keys_only_by_insecure_opt_in() {
    let store = MemoryApiKeyStore::new();
    let keys = keys_over(store.clone());
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    let uri = format!("/whoami?api_key={}", created.key.expose());
    let get = || {
        Request::builder()
            .uri(&uri)
            .body(axum::body::Body::empty())
            .unwrap()
    };

    let answer = send(&app(&keys), get()).await;
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.reason,
        Some("missing"),
        "a query key is not even looked at"
    );
    assert_eq!(answer.challenge.as_deref(), Some(r#"Bearer realm="api""#));

    let opted_in = ApiKeys::builder(store)
        .insecure_allow_query("api_key")
        .build()
        .unwrap();
    let answer = send(&app(&opted_in), get()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "acme");
}

#[tokio::test]
async fn a_bearer_value_that_is_not_our_key_is_no_credential() {
    let keys = keys_over(MemoryApiKeyStore::new());
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    let err = auth_core::Authenticate::authenticate(&mut keys.authenticator(), &bearer("/", jwt))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::MissingCredential);

    // ...so a first-of chain hands it to the next method.
    let jwt_method = move |req: &Request<axum::body::Body>| match req.headers().get("authorization")
    {
        None => Err(auth_core::AuthError::missing()),
        Some(v) if v == format!("Bearer {jwt}").as_str() => Ok(auth_core::Principal::new(
            "jwt-user",
            auth_core::AuthMethod::Jwt,
        )),
        Some(_) => Err(auth_core::AuthError::invalid_credential("bad token")),
    };
    let chain = auth_core::first_of(keys.authenticator(), jwt_method);
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|p: axum::Extension<auth_core::Principal>| async move {
                p.subject().to_owned()
            }),
        )
        .layer(auth_core::AuthLayer::new(chain));
    let answer = send(&app, bearer("/", jwt)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "jwt-user");
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    assert_eq!(
        send(&app, bearer("/", created.key.expose())).await.body,
        "acme"
    );

    // In X-API-Key, anything is meant as a key: a foreign value is a malformed key.
    let answer = send(&app, x_api_key("/", jwt)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.reason, Some("malformed"));
}

#[tokio::test]
async fn two_credentials_are_400() {
    let keys = keys_over(MemoryApiKeyStore::new());
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    let request = Request::builder()
        .uri("/whoami")
        .header("authorization", format!("Bearer {}", created.key.expose()))
        .header("x-api-key", created.key.expose())
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = send(&app(&keys), request).await;
    assert_eq!(answer.status, 400);
    assert!(answer.challenge.unwrap().contains("invalid_request"));
}

#[tokio::test]
async fn expired_and_not_yet_valid_follow_the_clock() {
    let keys = keys_over(MemoryApiKeyStore::new());
    let app = app(&keys);
    let now = tower_apikey::record::now();
    let short = keys
        .create(NewKey::new("acme").expires_in(Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(
        matches!(short.info.expires_at, Some(t) if t == now + 2 || t == now + 3),
        "{:?}",
        short.info.expires_at
    );
    assert_eq!(
        send(&app, bearer("/whoami", short.key.expose()))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let answer = send(&app, bearer("/whoami", short.key.expose())).await;
    assert_eq!(
        answer.status, 401,
        "expiry is checked on every request, cached or not"
    );
    assert_eq!(answer.reason, Some("expired"));
}

/// The key with its last (checksum) character replaced by a different one.
fn with_last_char_changed(key: &str) -> String {
    let (head, last) = key.split_at(key.len() - 1);
    format!("{head}{}", if last == "x" { "y" } else { "x" })
}

#[tokio::test]
async fn outcomes_are_known_before_anything_is_polled() {
    use auth_core::{Authenticate, Outcome};
    use axum::body::Body;
    use tower_apikey::ApiKeyAuthenticator;

    /// "missing", "decided" or "pending".
    fn outcome(auth: &mut ApiKeyAuthenticator, request: &Request<Body>) -> &'static str {
        match auth.authenticate(request) {
            Outcome::Missing => "missing",
            Outcome::Decided(_) => "decided",
            Outcome::Pending(_) => "pending",
        }
    }
    let keys = keys_over(MemoryApiKeyStore::new());
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    let mut auth = keys.authenticator();
    let nothing = Request::builder().body(Body::empty()).unwrap();
    assert_eq!(outcome(&mut auth, &nothing), "missing");
    // A bearer value of another shape is left to the next method.
    assert_eq!(outcome(&mut auth, &bearer("/", "eyJ.x.y")), "missing");
    // Refused or accepted, a key was presented: `first_of` asks no one else.
    assert_eq!(outcome(&mut auth, &x_api_key("/", "eyJ.x.y")), "decided");
    let key = created.key.expose();
    assert_eq!(outcome(&mut auth, &x_api_key("/", key)), "pending"); // store lookup
    let looked_up = auth.authenticate(&x_api_key("/", key)).await.unwrap();
    assert_eq!(looked_up.account(), "acme");
    assert_eq!(outcome(&mut auth, &bearer("/", key)), "decided"); // cache hit
}

/// SECURITY.md, section 'API keys': a deployment configured for one environment refuses keys of the
/// other found in its store, exactly as it refuses an unknown key.
#[tokio::test]
async fn a_deployment_for_one_environment_refuses_keys_of_the_other() {
    let store = MemoryApiKeyStore::new();
    let live_only = ApiKeys::builder(store.clone())
        .environment(Env::Live)
        .build()
        .unwrap();
    let live = live_only.create(NewKey::new("acme")).await.unwrap();
    let test = live_only
        .create(NewKey::new("acme").env(Env::Test))
        .await
        .unwrap();
    let app = app(&live_only);
    assert_eq!(
        send(&app, bearer("/whoami", live.key.expose()))
            .await
            .status,
        200
    );
    let refused = send(&app, bearer("/whoami", test.key.expose())).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.reason, Some("wrong_environment"));
    let unknown = KeyFormat::default().generate(Env::Live).unwrap();
    let unknown = send(&app, bearer("/whoami", unknown.expose())).await;
    assert_eq!(
        (refused.challenge, refused.body),
        (unknown.challenge, unknown.body),
        "the same answer as an unknown key"
    );

    // The reverse, over the same store; without a setting both work.
    let test_only = ApiKeys::builder(store.clone())
        .environment(Env::Test)
        .build()
        .unwrap();
    let app = common::app(&test_only);
    assert_eq!(
        send(&app, bearer("/whoami", test.key.expose()))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&app, bearer("/whoami", live.key.expose()))
            .await
            .status,
        401
    );
    let either = common::app(&ApiKeys::builder(store).build().unwrap());
    assert_eq!(
        send(&either, bearer("/whoami", test.key.expose()))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&either, bearer("/whoami", live.key.expose()))
            .await
            .status,
        200
    );
}
