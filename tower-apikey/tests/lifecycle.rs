//! Revocation across instances, rotation with grace, store outages, last-used batching,
//! readiness and redaction.

mod common;

use std::time::{Duration, Instant};

use common::{Counting, PgSchema, app, bearer, send};
use tower_apikey::{ApiKeyStore, ApiKeys, MemoryApiKeyStore, NewKey, SqlApiKeyStore};

fn instance(store: impl ApiKeyStore, ttl: Duration) -> ApiKeys {
    ApiKeys::builder(store).cache_ttl(ttl).build().unwrap()
}

/// Revoke on A: refused at once on A; B (same store, own cache) still has it cached, then
/// refuses it within its cache TTL.
async fn revocation_reaches_a_second_instance(a_store: SqlApiKeyStore, b_store: SqlApiKeyStore) {
    let ttl = Duration::from_secs(2);
    let a = instance(a_store, ttl);
    let b = instance(b_store, ttl);
    let (app_a, app_b) = (app(&a), app(&b));
    let created = a.create(NewKey::new("acme")).await.unwrap();
    let key = created.key.expose();
    assert_eq!(send(&app_a, bearer("/whoami", key)).await.status, 200);
    assert_eq!(send(&app_b, bearer("/whoami", key)).await.status, 200);

    let revoked_at = Instant::now();
    assert!(a.revoke(&created.info.id).await.unwrap());
    let on_a = send(&app_a, bearer("/whoami", key)).await;
    assert_eq!(on_a.status, 401, "refused at once on the revoking instance");
    assert_eq!(on_a.reason, Some("revoked"));

    // B refuses it no later than its TTL after the revocation.
    loop {
        let on_b = send(&app_b, bearer("/whoami", key)).await;
        if on_b.status == 401 {
            assert_eq!(on_b.reason, Some("revoked"));
            break;
        }
        assert_eq!(on_b.status, 200);
        assert!(
            revoked_at.elapsed() < ttl + Duration::from_millis(500),
            "B still accepted the key {:?} after revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(revoked_at.elapsed() <= ttl + Duration::from_millis(500));
}

#[tokio::test]
async fn revocation_across_instances_sqlite() {
    let (a, path) = common::sqlite_store().await;
    let b = tower_apikey::store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    revocation_reaches_a_second_instance(a, b).await;
    common::remove_sqlite(&path);
}

#[tokio::test]
async fn revocation_across_instances_postgres() {
    let pg = PgSchema::new("revoke").await;
    let b = pg.another_instance().await;
    revocation_reaches_a_second_instance(pg.store.clone(), b.clone()).await;
    b.close().await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn rotation_keeps_both_keys_valid_until_the_grace_ends() {
    let pg = PgSchema::new("rotate").await;
    let keys = instance(pg.store.clone(), Duration::from_secs(30));
    let app = app(&keys);
    let old = keys
        .create(NewKey::new("acme").scopes(["read", "admin"]).name("ci"))
        .await
        .unwrap();
    assert_eq!(
        send(&app, bearer("/admin", old.key.expose())).await.status,
        200
    );

    let new = keys
        .rotate(&old.info.id, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_ne!(new.key.expose(), old.key.expose());
    assert_eq!(new.info.account, "acme");
    assert_eq!(new.info.scopes, ["read", "admin"]);
    assert_eq!(new.info.name.as_deref(), Some("ci"));
    assert_eq!(
        send(&app, bearer("/admin", old.key.expose())).await.status,
        200
    );
    assert_eq!(
        send(&app, bearer("/admin", new.key.expose())).await.status,
        200
    );
    let old_info = keys.info(&old.info.id).await.unwrap().unwrap();
    assert_eq!(old_info.replaced_by.as_deref(), Some(new.info.id.as_str()));
    assert!(old_info.grace_ends_at.is_some());
    assert_eq!(keys.info("000000000000").await.unwrap(), None);

    // A rotation with no grace ends the old key at once (through the same handle).
    let newer = keys.rotate(&new.info.id, Duration::ZERO).await.unwrap();
    let answer = send(&app, bearer("/admin", new.key.expose())).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.reason, Some("expired"));
    assert_eq!(
        send(&app, bearer("/admin", newer.key.expose()))
            .await
            .status,
        200
    );

    // When a short grace runs out, the old key is refused.
    let last = keys
        .rotate(&newer.info.id, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        send(&app, bearer("/admin", newer.key.expose()))
            .await
            .status,
        401
    );
    assert_eq!(
        send(&app, bearer("/admin", last.key.expose())).await.status,
        200
    );

    // Revoked keys cannot be rotated.
    keys.revoke(&last.info.id).await.unwrap();
    assert!(keys.rotate(&last.info.id, Duration::ZERO).await.is_err());
    pg.drop_schema().await;
}

#[tokio::test]
async fn a_store_outage_serves_cached_keys_and_answers_503_otherwise() {
    let (store, path) = common::sqlite_store().await;
    let keys = instance(store.clone(), Duration::from_secs(30));
    let app = app(&keys);
    let warm = keys.create(NewKey::new("acme")).await.unwrap();
    let cold = keys.create(NewKey::new("acme")).await.unwrap();
    assert_eq!(
        send(&app, bearer("/whoami", warm.key.expose()))
            .await
            .status,
        200
    );

    store.close().await;
    assert_eq!(
        send(&app, bearer("/whoami", warm.key.expose()))
            .await
            .status,
        200,
        "the cache answers without the store"
    );
    let answer = send(&app, bearer("/whoami", cold.key.expose())).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.reason, Some("store_unavailable"));
    assert!(answer.challenge.is_none(), "a 503 is not a challenge");
    // Malformed keys still get their 401 without the store.
    assert_eq!(
        send(&app, bearer("/whoami", "sk_live_nope")).await.status,
        401
    );
    common::remove_sqlite(&path);
}

#[tokio::test]
async fn last_use_is_written_in_batches_never_on_the_request_path() {
    let store = Counting::new(MemoryApiKeyStore::new());
    let keys = ApiKeys::builder(store.clone())
        .touch_interval(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let app = app(&keys);
    let a = keys.create(NewKey::new("acme")).await.unwrap();
    let b = keys.create(NewKey::new("acme")).await.unwrap();
    for _ in 0..50 {
        assert_eq!(
            send(&app, bearer("/whoami", a.key.expose())).await.status,
            200
        );
        assert_eq!(
            send(&app, bearer("/whoami", b.key.expose())).await.status,
            200
        );
    }
    // 100 requests take far less than the 2 s interval, so each key is queued once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let batches = store.touches.lock().unwrap().clone();
    let writes: Vec<&(String, i64)> = batches.iter().flatten().collect();
    assert_eq!(
        writes.len(),
        2,
        "one write per key per interval: {batches:?}"
    );
    assert!(writes.iter().any(|(id, _)| *id == a.info.id));
    let listed = keys.list(Some("acme")).await.unwrap();
    let now = tower_apikey::record::now();
    assert!(
        listed
            .iter()
            .all(|k| k.last_used_at.is_some_and(|t| (now - 4..=now).contains(&t))),
        "{listed:?}"
    );
}

#[tokio::test]
async fn the_layer_drives_readiness_and_skips_the_inner_service_on_refusal() {
    let keys = instance(MemoryApiKeyStore::new(), Duration::from_secs(30));
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    let (mut service, mut handle) =
        tower_test::mock::spawn_layer::<http::Request<()>, http::Response<String>, _>(keys.layer());

    handle.allow(0);
    assert!(
        service.poll_ready().is_pending(),
        "readiness comes from the inner service"
    );
    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let request = http::Request::builder()
        .header("authorization", format!("Bearer {}", created.key.expose()))
        .body(())
        .unwrap();
    let response = tokio::spawn(service.call(request));
    let (request, send_response) = handle.next_request().await.unwrap();
    let identity = request
        .extensions()
        .get::<tower_apikey::ApiKeyIdentity>()
        .unwrap();
    assert_eq!(identity.account(), "acme");
    send_response.send_response(http::Response::new(String::new()));
    assert_eq!(response.await.unwrap().unwrap().status(), 200);

    handle.allow(1);
    assert!(service.poll_ready().is_ready());
    let refused = service
        .call(
            http::Request::builder()
                .header("x-api-key", "sk_live_bad")
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(
        handle.poll_request().is_pending(),
        "inner service not called"
    );
}

#[tokio::test]
async fn a_pepper_changes_what_is_stored() {
    let store = MemoryApiKeyStore::new();
    let peppered = ApiKeys::builder(store.clone())
        .pepper(vec![9u8; 32])
        .build()
        .unwrap();
    let plain = instance(store.clone(), Duration::from_secs(30));
    let created = peppered.create(NewKey::new("acme")).await.unwrap();
    assert_eq!(
        send(&app(&peppered), bearer("/whoami", created.key.expose()))
            .await
            .status,
        200
    );
    assert_eq!(
        send(&app(&plain), bearer("/whoami", created.key.expose()))
            .await
            .status,
        401,
        "without the pepper the digest does not match"
    );
    let err = ApiKeys::builder(store)
        .pepper(b"short".to_vec())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), auth_core::ConfigErrorKind::WeakKey);
}

#[tokio::test]
async fn debug_output_and_logs_never_show_a_secret() {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let store = MemoryApiKeyStore::new();
    let keys = ApiKeys::builder(store.clone())
        .pepper(vec![42u8; 32])
        .build()
        .unwrap();
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    let secret = &created.key.expose()[20..63];
    let app = app(&keys);
    send(&app, bearer("/whoami", created.key.expose())).await;
    let mut typo = created.key.expose().to_owned();
    typo.replace_range(30..31, if &typo[30..31] == "z" { "y" } else { "z" });
    send(&app, bearer("/whoami", &typo)).await;
    let record = store.lookup(&created.info.id).await.unwrap().unwrap();
    let printed = format!(
        "{created:?} {:?} {record:?} {keys:?} {:?} {:?}",
        created.key,
        keys.authenticator(),
        keys.list(None).await.unwrap()
    );
    assert!(!printed.contains(secret), "{printed}");
    assert!(!printed.contains(&record.digest.to_hex()), "{printed}");
    assert!(printed.contains("redacted"));
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("outcome"), "the outcomes are logged: {logs}");
    assert!(
        !logs.contains(secret) && !logs.contains(&typo[20..63]),
        "{logs}"
    );
}

#[tokio::test]
async fn builder_refuses_unsafe_settings() {
    use auth_core::ConfigErrorKind;
    let err = |b: tower_apikey::ApiKeysBuilder| b.build().unwrap_err().kind();
    let b = || ApiKeys::builder(MemoryApiKeyStore::new());
    assert_eq!(
        err(b().cache_ttl(Duration::ZERO)),
        ConfigErrorKind::InvalidValue
    );
    assert_eq!(
        err(b().cache_ttl(Duration::from_secs(7200))),
        ConfigErrorKind::InvalidValue
    );
    assert_eq!(err(b().cache_capacity(0)), ConfigErrorKind::InvalidValue);
    assert_eq!(
        err(b().touch_interval(Some(Duration::from_millis(10)))),
        ConfigErrorKind::InvalidValue
    );
    let outside_runtime = std::thread::spawn(|| {
        ApiKeys::builder(MemoryApiKeyStore::new())
            .build()
            .unwrap_err()
            .kind()
    });
    assert_eq!(outside_runtime.join().unwrap(), ConfigErrorKind::Setup);
    let no_tracking = std::thread::spawn(|| {
        ApiKeys::builder(MemoryApiKeyStore::new())
            .touch_interval(None)
            .build()
            .is_ok()
    });
    assert!(no_tracking.join().unwrap());
}
