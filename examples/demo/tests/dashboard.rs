//! The dashboard over HTTPS (a `demo cert` pair), logged in through the OpenID provider:
//! security headers on every page, keys with ticked scopes, rotation with a grace period
//! and revocation, each behind a confirmation page.

mod common;

use common::oidc::{DemoEnv, Jar, OidcProvider};
use common::tls::Pair;
use common::{Server, TempDir, csrf_token, find_key, key_id, key_row};
use serde_json::Value;

/// Asserts the headers every page carries over HTTPS.
fn assert_page_headers(res: &reqwest::Response) {
    let headers = res.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["strict-transport-security"], "max-age=31536000");
    assert_eq!(headers["cache-control"], "no-store");
}

struct Dashboard {
    server: Server,
    client: reqwest::Client,
    jar: Jar,
    _provider: OidcProvider,
    _dir: TempDir,
}

impl Dashboard {
    /// A demo over HTTPS (with `extra` environment), and a user logged in through the
    /// provider.
    async fn log_in(extra: &[(&'static str, &str)]) -> Self {
        let dir = TempDir::new();
        let pair = Pair::generate(&dir.0);
        let provider = OidcProvider::start();
        let mut env = provider.demo_env();
        env.extend(pair.env());
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let server = Server::start(&env);
        assert!(server.url.starts_with("https://"), "{}", server.url);
        let client = pair.client();
        let (jar, session) =
            common::oidc::log_in(&client, &provider, &server.url, "__Host-session").await;
        assert!(session.contains("Secure"), "over HTTPS: {session}");
        Self {
            server,
            client,
            jar,
            _provider: provider,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.server.url))
            .header("cookie", self.jar.header())
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.server.url))
            .header("cookie", self.jar.header())
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `/api/whoami` with `key`: the status and the JSON body (`Null` when refused).
    async fn whoami(&self, key: &str) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}/api/whoami", self.server.url))
            .header("x-api-key", key)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let dash = Dashboard::log_in(&[]).await;
    let anonymous = dash
        .client
        .get(format!("{}/", dash.server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    assert_page_headers(&anonymous);

    let home = dash.get("/").await;
    assert_eq!(home.status(), 200);
    assert_page_headers(&home);
    let page = home.text().await.unwrap();
    assert!(page.contains("oidc:alice"), "{page}");
    assert!(
        !page.contains("<script") && !page.contains("style="),
        "no inline script or style: {page}"
    );
    let token = csrf_token(&page);

    // The page showing a new key: not cached, and the copy script is a same-origin file.
    let created = dash
        .post(
            "/dashboard/keys",
            &[("csrf_token", &token), ("scopes", "read")],
        )
        .await;
    assert_eq!(created.status(), 200);
    assert_page_headers(&created);
    let page = created.text().await.unwrap();
    assert!(
        page.contains(r#"<script src="/static/dashboard.js" defer></script>"#),
        "{page}"
    );
    let script = dash.get("/static/dashboard.js").await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(script.headers()["x-content-type-options"], "nosniff");
    assert!(script.text().await.unwrap().contains("clipboard"));

    // Refusals and the API carry them too.
    let refused = dash.post("/dashboard/keys", &[("scopes", "read")]).await;
    assert_eq!(refused.status(), 403);
    assert_page_headers(&refused);
    let api = dash
        .client
        .get(format!("{}/api/whoami", dash.server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        api.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test]
async fn keys_are_created_with_ticked_scopes_rotated_with_grace_and_revoked_after_confirmation() {
    let dash = Dashboard::log_in(&[]).await;
    let page = dash.get("/").await.text().await.unwrap();
    for scope in ["read", "write"] {
        assert!(
            page.contains(&format!(
                r#"<input type="checkbox" name="scopes" value="{scope}""#
            )),
            "{page}"
        );
    }
    let token = csrf_token(&page);

    // Two ticked boxes: one `scopes` field each.
    let res = dash
        .post(
            "/dashboard/keys",
            &[
                ("csrf_token", &token),
                ("name", "ci"),
                ("scopes", "read"),
                ("scopes", "write"),
                ("expires_in", "90d"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let first = find_key(&page);
    let first_id = key_id(&first);
    assert!(page.contains("shown only once"), "{page}");
    let (status, me) = dash.whoami(&first).await;
    assert_eq!(status, 200);
    assert_eq!(me["scopes"], serde_json::json!(["read", "write"]));

    // Rotation: the confirmation page offers the grace periods, 24 h selected.
    let confirm = dash
        .get(&format!("/dashboard/keys/{first_id}/rotate"))
        .await;
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    assert!(
        page.contains(&format!(r#"action="/dashboard/keys/{first_id}/rotate""#)),
        "{page}"
    );
    assert!(
        page.contains(r#"<option value="24h" selected>for 24h</option>"#),
        "{page}"
    );
    let res = dash
        .post(
            &format!("/dashboard/keys/{first_id}/rotate"),
            &[("csrf_token", &token), ("grace", "forever")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Choose a grace period"));
    let res = dash
        .post(
            &format!("/dashboard/keys/{first_id}/rotate"),
            &[("grace", "1h")],
        )
        .await;
    assert_eq!(res.status(), 403, "no CSRF token");

    let res = dash
        .post(
            &format!("/dashboard/keys/{first_id}/rotate"),
            &[("csrf_token", &token), ("grace", "1h")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = res.text().await.unwrap();
    let second = find_key(&page);
    assert_ne!(second, first);
    assert!(
        page.contains(&format!("Key {first_id} rotated")) && page.contains("keeps working until"),
        "{page}"
    );
    // Both work during the grace period; the new key has the same scopes.
    assert_eq!(dash.whoami(&first).await.0, 200);
    let (status, me) = dash.whoami(&second).await;
    assert_eq!(status, 200);
    assert_eq!(me["scopes"], serde_json::json!(["read", "write"]));
    let page = dash.get("/").await.text().await.unwrap();
    let old_row = key_row(&page, first_id);
    assert!(old_row.contains("expiring"), "{old_row}");
    assert!(!old_row.contains("Rotate"), "already replaced: {old_row}");

    // Revocation: the confirmation page revokes nothing; its form does.
    let second_id = key_id(&second);
    let confirm = dash
        .get(&format!("/dashboard/keys/{second_id}/revoke"))
        .await;
    assert_eq!(confirm.status(), 200);
    let page = confirm.text().await.unwrap();
    assert!(page.contains("This cannot be undone"), "{page}");
    assert!(
        page.contains(&format!(r#"action="/dashboard/keys/{second_id}/revoke""#)),
        "{page}"
    );
    assert_eq!(dash.whoami(&second).await.0, 200, "not revoked by the GET");
    let res = dash
        .post(
            &format!("/dashboard/keys/{second_id}/revoke"),
            &[("csrf_token", &csrf_token(&page))],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("Key {second_id} revoked."))
    );
    assert_eq!(dash.whoami(&second).await.0, 401);
    let res = dash
        .post(
            &format!("/dashboard/keys/{second_id}/rotate"),
            &[("csrf_token", &token), ("grace", "1h")],
        )
        .await;
    assert_eq!(res.status(), 409, "a revoked key is not rotated");

    // Rotation without grace: the old key is refused at once.
    let res = dash
        .post(
            "/dashboard/keys",
            &[("csrf_token", &token), ("scopes", "read")],
        )
        .await;
    let third = find_key(&res.text().await.unwrap());
    let res = dash
        .post(
            &format!("/dashboard/keys/{}/rotate", key_id(&third)),
            &[("csrf_token", &token), ("grace", "")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let fourth = find_key(&res.text().await.unwrap());
    assert_eq!(dash.whoami(&third).await.0, 401);
    assert_eq!(dash.whoami(&fourth).await.0, 200);

    // Another user's key, or none: 404 on both pages and both actions.
    for path in ["revoke", "rotate"] {
        let res = dash
            .get(&format!("/dashboard/keys/nosuchkey000/{path}"))
            .await;
        assert_eq!(res.status(), 404, "{path}");
        let res = dash
            .post(
                &format!("/dashboard/keys/nosuchkey000/{path}"),
                &[("csrf_token", &token)],
            )
            .await;
        assert_eq!(res.status(), 404, "{path}");
    }
}

/// The `<svg …>` start tag of the usage chart in key `id`'s row of `page`, and the row's
/// totals in words.
fn usage_chart(page: &str, id: &str) -> (String, String) {
    let row = key_row(page, id);
    let svg = &row[row.find("<svg").expect("a usage chart in the row")..];
    let totals = &row[row
        .find(r#"<small class="usage-totals muted">"#)
        .expect("totals")..];
    let totals = &totals[totals.find('>').unwrap() + 1..totals.find("</small>").unwrap()];
    (svg[..=svg.find('>').unwrap()].to_owned(), totals.to_owned())
}

#[tokio::test]
async fn the_key_row_charts_accepted_rate_limited_and_refused_requests() {
    // The key store writes counts every second instead of every minute.
    let dash = Dashboard::log_in(&[("DEMO_USAGE_FLUSH", "1s")]).await;
    let token = csrf_token(&dash.get("/").await.text().await.unwrap());
    let res = dash
        .post(
            "/dashboard/keys",
            &[
                ("csrf_token", &token),
                ("scopes", "read"),
                ("quota", "2/day"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    let key = find_key(&page);
    let id = key_id(&key);
    let (empty, totals) = usage_chart(&page, id);
    assert!(
        empty.contains(r#"data-accepted="0" data-refused="0" data-limited="0""#),
        "{empty}"
    );
    assert_eq!(
        totals,
        "Last 24 hours: 0 accepted (0 rate-limited), 0 refused"
    );
    // Two requests within the quota, three over it (accepted by the key layer, then
    // refused by the key's quota), one after the key is revoked.
    for expected in [200, 200, 429, 429, 429] {
        assert_eq!(dash.whoami(&key).await.0, expected);
    }
    let res = dash
        .post(
            &format!("/dashboard/keys/{id}/revoke"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(dash.whoami(&key).await.0, 401);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let wanted = r#"data-accepted="5" data-refused="1" data-limited="3""#;
    let (chart, totals) = loop {
        let (chart, totals) = usage_chart(&dash.get("/").await.text().await.unwrap(), id);
        if chart.contains(wanted) || std::time::Instant::now() > deadline {
            break (chart, totals);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert!(
        chart.contains(&format!(
            r#": 5 accepted (3 rate-limited), 1 refused" {wanted}>"#
        )),
        "{chart}"
    );
    assert_eq!(
        totals,
        "Last 24 hours: 5 accepted (3 rate-limited), 1 refused"
    );
}

#[tokio::test]
async fn keys_are_created_with_a_rate_and_quota_checked_by_the_key_parsers() {
    let dash = Dashboard::log_in(&[]).await;
    let token = csrf_token(&dash.get("/").await.text().await.unwrap());
    for (rate, quota, message) in [
        ("5/day", "", "invalid rate: expected N/s or N/m"),
        ("0/s", "", "invalid rate: expected N/s or N/m"),
        ("", "100/s", "invalid quota: expected N/day or N/month"),
        ("5/s", "many", "invalid quota: expected N/day or N/month"),
    ] {
        let res = dash
            .post(
                "/dashboard/keys",
                &[
                    ("csrf_token", &token),
                    ("scopes", "read"),
                    ("rate", rate),
                    ("quota", quota),
                ],
            )
            .await;
        assert_eq!(res.status(), 400, "rate {rate:?}, quota {quota:?}");
        // The templates escape `/` as `&#x2f;`.
        let page = res.text().await.unwrap().replace("&#x2f;", "/");
        assert!(page.contains(message), "{message}: {page}");
        assert!(!page.contains("sk_live_"), "nothing created: {page}");
        assert!(!page.contains("data-key-id="), "nothing created: {page}");
    }

    let res = dash
        .post(
            "/dashboard/keys",
            &[
                ("csrf_token", &token),
                ("scopes", "read"),
                ("rate", "5/s"),
                ("quota", "1000/day"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap().replace("&#x2f;", "/");
    let key = find_key(&page);
    let row = key_row(&page, key_id(&key));
    assert!(
        row.contains(
            r#"<td class="limits"><span class="rate">5/s</span><br><span class="quota">1000/day</span></td>"#
        ),
        "{row}"
    );
    assert_eq!(dash.whoami(&key).await.0, 200);
    let listed: Value = serde_json::from_str(&dash.server.cli(&["keys", "list"])).unwrap();
    assert_eq!(listed[0]["rate"], "5/s", "{listed}");
    assert_eq!(listed[0]["quota"], "1000/day", "{listed}");
}
