//! A Redis that crashes and comes back empty, under load, with two instances: revoked
//! tokens and refresh families stay refused everywhere, the first request after the return
//! succeeds, the subscription comes back, and the revocations held in memory are
//! republished for an instance started afterwards. Each test runs its own `redis-server`.
#![cfg(all(feature = "redis", feature = "issuing"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use testkit::RedisServer;
use tower_jwt::issuer::{Grant, RedisRefreshFamilyStore, RefreshError, SigningKey, TokenIssuer};
use tower_jwt::revocation::{RedisRevocationStore, RevocationStatus, RevocationStore, TokenRef};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";
const PREFIX: &str = "outage:";

struct Instance {
    issuer: TokenIssuer,
    revocations: Arc<RedisRevocationStore>,
}

async fn instance(url: &str) -> Instance {
    let key = SigningKey::hs256("hs-1", b"0123456789abcdef0123456789abcdef").unwrap();
    let families = RedisRefreshFamilyStore::connect(url, PREFIX).await.unwrap();
    let revocations = Arc::new(
        RedisRevocationStore::builder(url)
            .key_prefix(PREFIX)
            .connect()
            .await
            .unwrap(),
    );
    let issuer = TokenIssuer::builder(ISS, AUD, key)
        .family_store(Arc::new(families))
        .revocation_store(Arc::clone(&revocations) as Arc<dyn RevocationStore>)
        .build()
        .unwrap();
    Instance {
        issuer,
        revocations,
    }
}

fn token(jti: &str) -> TokenRef<'_> {
    TokenRef {
        issuer: ISS,
        jti: Some(jti),
        subject: "alice",
        issued_at: SystemTime::now(),
    }
}

/// Polls `done` every 10 ms for up to `within`.
async fn eventually(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn refused(result: &Result<impl Sized, RefreshError>) -> bool {
    matches!(
        result,
        Err(RefreshError::Invalid | RefreshError::Reused | RefreshError::Revoked)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_under_load_forgets_no_revocation() {
    let started = Instant::now();
    let mut redis = RedisServer::start();
    let url = redis.url();
    let (a, b) = (instance(&url).await, instance(&url).await);

    // Before the crash: a logout (access token and family revoked), a replayed refresh
    // token (family revoked), a live login.
    let logged_out = a.issuer.issue(&Grant::new("alice")).await.unwrap();
    a.issuer
        .logout(
            Some(logged_out.access.as_str()),
            Some(logged_out.refresh.as_str()),
        )
        .await
        .unwrap();
    let replayed = a.issuer.issue(&Grant::new("bob")).await.unwrap();
    let renewed = a.issuer.refresh(replayed.refresh.as_str()).await.unwrap();
    assert!(matches!(
        b.issuer.refresh(replayed.refresh.as_str()).await,
        Err(RefreshError::Reused)
    ));
    let revoked_jti = logged_out.access.jti().to_owned();
    eventually(Duration::from_secs(2), "the logout reaches B", || {
        b.revocations.check(&token(&revoked_jti)) == RevocationStatus::Revoked
    })
    .await;

    // Load on A through the crash: logins, refreshes of revoked families, checks of the
    // revoked access token on both instances. None may ever be accepted.
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let rounds = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, accepted, rounds) = (stop.clone(), accepted.clone(), rounds.clone());
        let (a_issuer, a_rev, b_rev) = (
            a.issuer.clone(),
            Arc::clone(&a.revocations),
            Arc::clone(&b.revocations),
        );
        let (jti, dead) = (
            revoked_jti.clone(),
            [
                logged_out.refresh.as_str().to_owned(),
                replayed.refresh.as_str().to_owned(),
                renewed.refresh.as_str().to_owned(),
            ],
        );
        tokio::spawn(async move {
            // Bounded: at most 100,000 rounds, and the test stops it.
            for round in 0..100_000 {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let _ = a_issuer.issue(&Grant::new("load")).await;
                let refresh = a_issuer.refresh(&dead[round % 3]).await;
                if refresh.is_ok() {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                for store in [&a_rev, &b_rev] {
                    if store.check(&token(&jti)) != RevocationStatus::Revoked {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
                rounds.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| redis.stop());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| redis.restart());

    // The first request after the return succeeds, on the quiet instance B (its connection
    // died unnoticed) as on the loaded A.
    let first_b = b.issuer.issue(&Grant::new("dave")).await;
    assert!(
        first_b.is_ok(),
        "first login on B after Redis returned: {first_b:?}"
    );
    let first_a = a.issuer.issue(&Grant::new("erin")).await;
    assert!(
        first_a.is_ok(),
        "first login on A after Redis returned: {first_a:?}"
    );

    // Revoked refresh families stay refused on both instances (Redis lost them: their
    // tokens name a family it does not know, which is refused too).
    for instance in [&a, &b] {
        for dead in [&logged_out.refresh, &replayed.refresh, &renewed.refresh] {
            let result = instance.issuer.refresh(dead.as_str()).await;
            assert!(refused(&result), "{result:?}");
        }
        assert_eq!(
            instance.revocations.check(&token(&revoked_jti)),
            RevocationStatus::Revoked
        );
    }

    // The subscription comes back: a revocation made on A after the restart reaches B.
    eventually(Duration::from_secs(10), "both stores in sync again", || {
        a.revocations.is_fresh() && b.revocations.is_fresh()
    })
    .await;
    let dave = first_b.unwrap();
    a.issuer
        .logout(Some(dave.access.as_str()), Some(dave.refresh.as_str()))
        .await
        .unwrap();
    let dave_jti = dave.access.jti().to_owned();
    eventually(
        Duration::from_secs(2),
        "a revocation after the restart reaches B",
        || b.revocations.check(&token(&dave_jti)) == RevocationStatus::Revoked,
    )
    .await;
    assert!(refused(&b.issuer.refresh(dave.refresh.as_str()).await));

    // Republished from memory: an instance started after the crash knows the revocation
    // made before it.
    let c = instance(&url).await;
    assert_eq!(
        c.revocations.check(&token(&revoked_jti)),
        RevocationStatus::Revoked,
        "a revocation made before Redis lost it was not republished"
    );

    stop.store(true, Ordering::Release);
    tokio::time::timeout(Duration::from_secs(10), load)
        .await
        .expect("the load stops")
        .unwrap();
    assert!(rounds.load(Ordering::Relaxed) > 10, "the load ran");
    assert_eq!(
        accepted.load(Ordering::Relaxed),
        0,
        "a revoked token or family was accepted during the outage"
    );
    eprintln!("redis outage test: {:?}", started.elapsed());
}
