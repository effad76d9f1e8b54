//! A key's own rate limit and quota: `demo keys create --rate/--quota` stores them, `demo keys
//! list` shows them, and the running server's `/api` routes enforce them per key: over the
//! limit, 429 with `Retry-After`, `RateLimit-Policy`, `RateLimit` and
//! `{"error":"rate_limited"}`, while other keys carry on.

mod common;

use common::{Server, http};
use serde_json::Value;

fn create(server: &Server, limits: &[&str]) -> (String, String) {
    let mut args = vec!["keys", "create", "--account", "acme", "--scopes", "read"];
    args.extend_from_slice(limits);
    let created: Value = serde_json::from_str(&server.cli(&args)).unwrap();
    (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    )
}

async fn assert_limited(res: reqwest::Response, policy: &str) {
    assert_eq!(res.status(), 429);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .unwrap_or_else(|| panic!("a 429 carries {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let retry_after: u64 = header("retry-after").parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(header("ratelimit-policy"), policy);
    assert!(
        header("ratelimit").contains(";r=0;"),
        "{}",
        header("ratelimit")
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
}

#[tokio::test]
async fn a_key_over_its_own_rate_or_quota_gets_429_and_other_keys_do_not() {
    let server = Server::start(&[]);
    let (rated_id, rated) = create(&server, &["--rate", "2/m"]);
    let (quota_id, quoted) = create(&server, &["--quota", "3/day"]);
    let (plain_id, plain) = create(&server, &[]);

    let listed: Value = serde_json::from_str(&server.cli(&["keys", "list"])).unwrap();
    let listed = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            listed(&rated_id)["rate"].clone(),
            listed(&rated_id)["quota"].clone()
        ),
        ("2/m".into(), Value::Null)
    );
    assert_eq!(
        (
            listed(&quota_id)["rate"].clone(),
            listed(&quota_id)["quota"].clone()
        ),
        (Value::Null, "3/day".into())
    );
    assert_eq!(
        (
            listed(&plain_id)["rate"].clone(),
            listed(&plain_id)["quota"].clone()
        ),
        (Value::Null, Value::Null)
    );

    let client = http();
    let whoami = format!("{}/api/whoami", server.url);
    for _ in 0..2 {
        let res = client
            .get(&whoami)
            .bearer_auth(&rated)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let refused = client
        .get(&whoami)
        .bearer_auth(&rated)
        .send()
        .await
        .unwrap();
    assert_limited(refused, r#""key-rate";q=2;w=60"#).await;
    // A key with the same limits shares their policy, not the budget: it has its own two.
    let (_, twin) = create(&server, &["--rate", "2/m"]);
    for _ in 0..2 {
        let res = client.get(&whoami).bearer_auth(&twin).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["ratelimit-policy"], r#""key-rate";q=2;w=60"#);
    }
    let refused = client.get(&whoami).bearer_auth(&twin).send().await.unwrap();
    assert_limited(refused, r#""key-rate";q=2;w=60"#).await;

    for _ in 0..3 {
        let res = client
            .get(&whoami)
            .header("x-api-key", &quoted)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["ratelimit-policy"],
            r#""key-quota";q=3;w=86400"#
        );
    }
    let refused = client
        .get(&whoami)
        .header("x-api-key", &quoted)
        .send()
        .await
        .unwrap();
    assert_limited(refused, r#""key-quota";q=3;w=86400"#).await;
    // The quota counts every /api route of the key.
    let admin = format!("{}/api/admin", server.url);
    let refused = client
        .get(&admin)
        .header("x-api-key", &quoted)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);

    // A key without limits, of the same account, is not limited nor told of a limit.
    for _ in 0..10 {
        let res = client
            .get(&whoami)
            .bearer_auth(&plain)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("ratelimit-policy").is_none());
        assert!(res.headers().get("retry-after").is_none());
    }
}
