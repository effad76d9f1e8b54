//! Logging out of an OpenID session, both ways, against the real `oidc-provider`: the
//! provider ends its session and posts a logout token to `POST /oauth/backchannel-logout`,
//! which ends that session on the demo (and only that one); the demo's logout
//! (`DEMO_OIDC_POST_LOGOUT_REDIRECT_URI`) sends the browser on to the provider's
//! end-session endpoint, which ends the provider's session and comes back.

mod common;

use common::oidc::{Jar, OidcProvider, REGISTERED_REDIRECT};
use common::{Server, http};
use serde_json::{Value, json};
use url::Url;

const AFTER_LOGOUT: &str = "https://app.example.test/logged-out";

/// A browser: the demo's cookies and the provider's, no redirect followed by itself.
#[derive(Default)]
struct Browser {
    demo: Jar,
    provider: Jar,
}

/// The value of `name="…" value="…"` (or of `attribute="…"`) after `marker` in `page`.
fn between(page: &str, marker: &str) -> String {
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

impl Browser {
    /// Logs in at the demo through the provider.
    async fn log_in(&mut self, server: &Server) {
        let client = http();
        let res = client
            .get(format!("{}/oauth/oidc/login?return_to=/", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        self.demo.store(&res);
        let mut url = Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
        let query = loop {
            let res = client
                .get(url.clone())
                .header("cookie", self.provider.header())
                .send()
                .await
                .unwrap();
            self.provider.store(&res);
            let next = url
                .join(res.headers()["location"].to_str().unwrap())
                .unwrap();
            if next.as_str().starts_with(REGISTERED_REDIRECT) {
                break next.query().unwrap().to_owned();
            }
            url = next;
        };
        let res = client
            .get(format!("{}/oauth/oidc/callback?{query}", server.url))
            .header("cookie", self.demo.header())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        self.demo.store(&res);
    }

    async fn whoami(&self, server: &Server) -> u16 {
        http()
            .get(format!("{}/api/whoami", server.url))
            .header("cookie", self.demo.header())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Confirms the provider's logout page at `url`; returns where the provider redirects.
    async fn end_provider_session(&mut self, url: &str) -> Url {
        let client = http();
        let url = Url::parse(url).unwrap();
        let res = client
            .get(url.clone())
            .header("cookie", self.provider.header())
            .send()
            .await
            .unwrap();
        self.provider.store(&res);
        assert_eq!(res.status(), 200);
        let page = res.text().await.unwrap();
        let action = url.join(&between(&page, "action=\"")).unwrap();
        let xsrf = between(&page, "name=\"xsrf\" value=\"");
        let res = client
            .post(action.clone())
            .header("cookie", self.provider.header())
            .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        action
            .join(res.headers()["location"].to_str().unwrap())
            .unwrap()
    }
}

#[tokio::test]
async fn provider_and_demo_initiated_logouts() {
    let provider = OidcProvider::start();
    // The demo's address is needed for its registration, before it starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let res = reqwest::Client::new()
        .post(format!("{}/reg", provider.issuer))
        .json(&json!({
            "redirect_uris": [REGISTERED_REDIRECT],
            "post_logout_redirect_uris": [AFTER_LOGOUT],
            "backchannel_logout_uri": format!("http://127.0.0.1:{port}/oauth/backchannel-logout"),
            "backchannel_logout_session_required": true,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let client: Value = res.json().await.unwrap();
    let addr = format!("127.0.0.1:{port}");
    let server = Server::start(&[
        ("DEMO_ADDR", addr.as_str()),
        ("DEMO_OIDC_ISSUER", provider.issuer.as_str()),
        ("DEMO_OIDC_CLIENT_ID", client["client_id"].as_str().unwrap()),
        (
            "DEMO_OIDC_CLIENT_SECRET",
            client["client_secret"].as_str().unwrap(),
        ),
        ("DEMO_OIDC_REDIRECT_URI", REGISTERED_REDIRECT),
        ("DEMO_OIDC_POST_LOGOUT_REDIRECT_URI", AFTER_LOGOUT),
    ]);

    let (mut first, mut second) = (Browser::default(), Browser::default());
    first.log_in(&server).await;
    second.log_in(&server).await;
    assert_eq!(first.whoami(&server).await, 200);
    assert_eq!(second.whoami(&server).await, 200);

    // The provider ends the first browser's session: the demo hears of it.
    let client_id = client["client_id"].as_str().unwrap();
    first
        .end_provider_session(&format!(
            "{}/session/end?client_id={client_id}",
            provider.issuer
        ))
        .await;
    assert_eq!(first.whoami(&server).await, 401);
    assert_eq!(
        second.whoami(&server).await,
        200,
        "another provider session"
    );

    // The second logs out at the demo: on to the provider, and back.
    let page = http()
        .get(format!("{}/", server.url))
        .header("cookie", second.demo.header())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = between(&page, "name=\"csrf_token\" value=\"");
    let res = http()
        .post(format!("{}/oauth/logout", server.url))
        .header("cookie", second.demo.header())
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let end_session = res.headers()["location"].to_str().unwrap().to_owned();
    let parsed = Url::parse(&end_session).unwrap();
    assert!(
        end_session.starts_with(&format!("{}/session/end?", provider.issuer)),
        "{end_session}"
    );
    let param = |name: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("client_id").as_deref(), Some(client_id));
    assert_eq!(
        param("post_logout_redirect_uri").as_deref(),
        Some(AFTER_LOGOUT)
    );
    assert!(param("id_token_hint").is_some_and(|t| t.split('.').count() == 3));
    let state = param("state").unwrap();
    assert_eq!(
        second.whoami(&server).await,
        401,
        "ended before the redirect"
    );
    let back = second.end_provider_session(&end_session).await;
    assert!(back.as_str().starts_with(AFTER_LOGOUT), "{back}");
    assert!(back.as_str().contains(&format!("state={state}")), "{back}");
}
