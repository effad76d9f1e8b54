//! The `apikey` binary end to end, against SQLite and PostgreSQL, and a key it creates
//! used on a router sharing the store.
#![cfg(feature = "cli")]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{app, bearer, send};
use serde_json::Value;
use tower_apikey::ApiKeys;

fn apikey(url: &str, args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_apikey"))
        .env("APIKEY_DATABASE_URL", url)
        .env_remove("APIKEY_PEPPER")
        .args(args)
        .output()
        .expect("run apikey");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, stderr)
}

/// Runs every command against `url` while a server shares the store. With `push`, the
/// server listens for PostgreSQL notifications and keeps a 60 s cache: a CLI revocation
/// must still reach it within 2 s. Without, the cache TTL is 1 s.
async fn full_cycle(url: &str, server_store: tower_apikey::SqlApiKeyStore, push: bool) {
    let ttl = Duration::from_secs(if push { 60 } else { 1 });
    let server = ApiKeys::builder(server_store.clone())
        .cache_ttl(ttl)
        .build()
        .unwrap();
    let _listener = if push {
        Some(server_store.listen(&server).await.unwrap())
    } else {
        None
    };
    let app = app(&server);

    let (ok, created, err) = apikey(
        url,
        &[
            "create",
            "--account",
            "acme",
            "--scopes",
            "read admin",
            "--expires-in",
            "30d",
            "--env",
            "test",
            "--name",
            "ci",
        ],
    );
    assert!(ok, "{err}");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_test_") && key.len() == 69, "{key}");
    assert_eq!(created["account"], "acme");
    assert_eq!(created["scopes"], serde_json::json!(["read", "admin"]));
    let expires_at = created["expires_at"].as_i64().unwrap();
    let expected = tower_apikey::record::now() + 30 * 86_400;
    assert!(
        (expected - expires_at).abs() <= 5,
        "{expires_at} vs {expected}"
    );
    let fields: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "account",
            "expires_at",
            "id",
            "key",
            "metadata",
            "quota",
            "rate",
            "scopes",
            "tenant"
        ]
    );
    assert_eq!(
        (&created["tenant"], &created["rate"], &created["quota"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(created["metadata"], serde_json::json!({}));

    // The key works at once on a server sharing the store.
    let answer = send(&app, bearer("/admin", &key)).await;
    assert_eq!(answer.status, 200, "{answer:?}");

    // list: JSON array, never the secret or a digest
    let (ok, listed, err) = apikey(url, &["list", "--account", "acme"]);
    assert!(ok, "{err}");
    let text = listed.to_string();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["name"], "ci");
    assert!(!text.contains(&key[20..63]), "{text}");
    assert!(!text.contains("digest"), "{text}");
    let (_, everyone, _) = apikey(url, &["list"]);
    assert_eq!(everyone.as_array().unwrap().len(), 1);

    // rotate: a new key as create prints it; both valid during the grace
    let (ok, rotated, err) = apikey(url, &["rotate", &id, "--grace", "24h"]);
    assert!(ok, "{err}");
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, key);
    assert_eq!(rotated["account"], "acme");
    assert_eq!(send(&app, bearer("/admin", &new_key)).await.status, 200);
    assert_eq!(send(&app, bearer("/admin", &key)).await.status, 200);

    // revoke: refused by the server within its cache TTL
    let new_id = rotated["id"].as_str().unwrap().to_owned();
    let (ok, revoked, err) = apikey(url, &["revoke", &new_id]);
    assert!(ok, "{err}");
    assert_eq!(revoked, serde_json::json!({"id": new_id, "revoked": true}));
    let revoked_at = std::time::Instant::now();
    let deadline = if push {
        Duration::from_secs(2)
    } else {
        ttl + Duration::from_millis(500)
    };
    loop {
        let answer = send(&app, bearer("/admin", &new_key)).await;
        if answer.status == 401 {
            assert_eq!(answer.reason, Some("revoked"));
            break;
        }
        assert!(
            revoked_at.elapsed() < deadline,
            "still accepted after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // errors: unknown id, bad duration, bad scope
    let (ok, _, err) = apikey(url, &["revoke", "000000000000"]);
    assert!(!ok);
    assert!(err.contains("no such record: key 000000000000"), "{err}");
    let (ok, _, err) = apikey(
        url,
        &["create", "--account", "a", "--expires-in", "3 weeks"],
    );
    assert!(!ok);
    assert!(err.contains("invalid duration"), "{err}");
    let (ok, _, err) = apikey(url, &["create", "--account", "a", "--scopes", "a\"b"]);
    assert!(!ok);
    assert!(err.contains("scope"), "{err}");

    // tenant, metadata, the key's own rate and quota: printed, listed, refused when malformed
    let (ok, limited, err) = apikey(
        url,
        &[
            "create",
            "--account",
            "globex",
            "--tenant",
            "globex-us",
            "--metadata",
            r#"{"plan":"pro","seats":3}"#,
            "--rate",
            "5/s",
            "--quota",
            "1000/month",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(limited["tenant"], "globex-us");
    assert_eq!(
        limited["metadata"],
        serde_json::json!({"plan": "pro", "seats": 3})
    );
    assert_eq!(
        (&limited["rate"], &limited["quota"]),
        (&"5/s".into(), &"1000/month".into())
    );
    let (ok, listed, err) = apikey(url, &["list", "--account", "globex"]);
    assert!(ok, "{err}");
    assert_eq!(listed[0]["tenant"], "globex-us");
    assert_eq!(listed[0]["metadata"]["plan"], "pro");
    assert_eq!(listed[0]["rate"], "5/s");
    assert_eq!(listed[0]["quota"], "1000/month");
    for (flag, value, expected) in [
        ("--rate", "5/day", "invalid rate: expected N/s or N/m"),
        ("--rate", "0/s", "invalid rate: expected N/s or N/m"),
        ("--quota", "5/m", "invalid quota: expected N/day or N/month"),
        ("--metadata", "[1,2]", "expected a JSON object"),
        ("--metadata", "{plan:", "not valid JSON"),
    ] {
        let (ok, _, err) = apikey(url, &["create", "--account", "a", flag, value]);
        assert!(!ok, "{flag} {value}");
        assert!(err.contains(expected), "{flag} {value}: {err}");
    }
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(5000));
    let (ok, _, err) = apikey(url, &["create", "--account", "a", "--metadata", &big]);
    assert!(!ok);
    assert!(
        err.contains("invalid metadata: must be at most 4096 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn cli_end_to_end_on_sqlite() {
    let path = std::env::temp_dir().join(format!("{}.db", common::unique("cli")));
    let url = format!("sqlite://{}", path.display());
    // The CLI creates and migrates the file on first use.
    let (ok, listed, err) = apikey(&url, &["list"]);
    assert!(ok, "{err}");
    assert_eq!(listed, serde_json::json!([]));
    let server_store = tower_apikey::store::connect(&url).await.unwrap();
    full_cycle(&url, server_store, false).await;
    common::remove_sqlite(&path);
}

#[tokio::test]
async fn cli_end_to_end_on_postgres() {
    let pg = common::PgSchema::new("cli").await;
    let url = format!(
        "{}?options=-c%20search_path%3D{}",
        common::postgres_url(),
        pg.schema
    );
    full_cycle(&url, pg.store.clone(), true).await;
    pg.drop_schema().await;
}
