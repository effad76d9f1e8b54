//! tower-oauth's committed test OpenID provider (`oidc-provider`, npm, started by the
//! shared test kit) as the demo's login provider, and a login walk over HTTP.

pub use testkit::{Jar, OidcProvider, ensure_npm_installed};

/// The redirect URI registered for the provider's clients (see `provider.mjs`): the
/// provider redirects there and the test (or the browser script) forwards the callback to
/// the demo, which sends this URI in its token request (`DEMO_OIDC_REDIRECT_URI`).
pub const REGISTERED_REDIRECT: &str = "https://app.example.test/oauth/op/callback";
pub const CLIENT_ID: &str = "rp-rs256";
pub const CLIENT_SECRET: &str = "rp-rs256-secret";

/// The demo's environment for logging in with a running provider.
pub trait DemoEnv {
    /// `DEMO_OIDC_*` for this provider and the registered client.
    fn demo_env(&self) -> Vec<(&'static str, String)>;
}

impl DemoEnv for OidcProvider {
    fn demo_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DEMO_OIDC_ISSUER", self.issuer.clone()),
            ("DEMO_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("DEMO_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("DEMO_OIDC_REDIRECT_URI", REGISTERED_REDIRECT.to_owned()),
        ]
    }
}

/// Walks the provider's redirects (login and consent are automatic in `provider.mjs`)
/// from `authorize_url` until it redirects to the registered redirect URI; returns that
/// URL's query string.
pub async fn authorize(client: &reqwest::Client, authorize_url: &str) -> String {
    let mut jar = Jar::default();
    let mut url = url::Url::parse(authorize_url).unwrap();
    for _ in 0..12 {
        let res = client
            .get(url.clone())
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap();
        jar.store(&res);
        let status = res.status();
        let Some(location) = res.headers().get("location") else {
            panic!("the provider answered {status} without a redirect");
        };
        let next = url.join(location.to_str().unwrap()).unwrap();
        if next.as_str().starts_with(REGISTERED_REDIRECT) {
            return next.query().unwrap_or("").to_owned();
        }
        url = next;
    }
    panic!("too many provider redirects");
}

/// Starts an OIDC login at the demo at `server_url` and walks `provider`'s redirects with
/// `client`: the demo's cookies so far and the query the provider sends to the callback.
pub async fn start_login(
    client: &reqwest::Client,
    provider: &OidcProvider,
    server_url: &str,
) -> (Jar, String) {
    let mut jar = Jar::default();
    let res = client
        .get(format!("{server_url}/oauth/oidc/login?return_to=/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    jar.store(&res);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&provider.issuer), "{location}");
    for param in ["state=", "nonce=", "code_challenge_method=S256"] {
        assert!(location.contains(param), "{location}");
    }
    let query = authorize(client, &location).await;
    (jar, query)
}

/// Logs in to the demo at `server_url` through `provider` with `client` (login, the
/// provider's redirects, callback to `/`); returns the demo's cookies, holding the session,
/// and the `Set-Cookie` value of the session cookie `session_cookie`.
pub async fn log_in(
    client: &reqwest::Client,
    provider: &OidcProvider,
    server_url: &str,
    session_cookie: &str,
) -> (Jar, String) {
    let (mut jar, query) = start_login(client, provider, server_url).await;
    let res = client
        .get(format!("{server_url}/oauth/oidc/callback?{query}"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{:?}", res.headers());
    assert_eq!(res.headers()["location"], "/");
    let cookie = super::set_cookie(&res, session_cookie)
        .unwrap_or_else(|| panic!("a {session_cookie} cookie"));
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    jar.store(&res);
    (jar, cookie)
}
