//! A minimal browser: follows the provider's redirects (carrying its cookies) until it
//! redirects back to the application.

use http::header::LOCATION;
use testkit::Jar;
use url::Url;

pub const APP: &str = "https://app.example.test";

/// The provider side of a browser: its own cookie jar, no redirects followed automatically.
pub struct ProviderBrowser {
    http: reqwest::Client,
    jar: Jar,
}

impl ProviderBrowser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: Jar::new(),
        }
    }

    /// Walks from the authorization URL through the provider's login and consent until the
    /// provider redirects to the application; returns that callback URL.
    pub async fn authorize(&mut self, authorize_url: &str) -> Url {
        let mut url = Url::parse(authorize_url).unwrap();
        for _ in 0..12 {
            let res = self
                .http
                .get(url.clone())
                .header("cookie", self.jar.header())
                .send()
                .await
                .unwrap();
            self.jar.store(&res);
            let status = res.status();
            let Some(location) = res.headers().get(LOCATION) else {
                panic!(
                    "provider answered {status} without redirect: {}",
                    res.text().await.unwrap_or_default()
                );
            };
            let next = url.join(location.to_str().unwrap()).unwrap();
            if next.as_str().starts_with(APP) {
                return next;
            }
            url = next;
        }
        panic!("too many provider redirects");
    }
}

impl ProviderBrowser {
    /// Ends the provider's session through its end-session endpoint `url` (RP-Initiated
    /// Logout): loads the confirmation form and submits it with `logout=yes`. Returns where
    /// the provider then redirects.
    pub async fn end_session(&mut self, url: &str) -> Url {
        let url = Url::parse(url).unwrap();
        let res = self
            .http
            .get(url.clone())
            .header("cookie", self.jar.header())
            .send()
            .await
            .unwrap();
        self.jar.store(&res);
        assert_eq!(res.status(), 200, "the provider's logout confirmation");
        let page = res.text().await.unwrap();
        let between = |start: &str| {
            let from = page
                .find(start)
                .unwrap_or_else(|| panic!("{start} in {page}"))
                + start.len();
            page[from..][..page[from..].find('"').unwrap()].to_owned()
        };
        let action = url.join(&between("action=\"")).unwrap();
        let xsrf = between("name=\"xsrf\" value=\"");
        let res = self
            .http
            .post(action.clone())
            .header("cookie", self.jar.header())
            .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
            .send()
            .await
            .unwrap();
        self.jar.store(&res);
        let status = res.status();
        let Some(location) = res.headers().get(LOCATION) else {
            panic!(
                "logout confirmation answered {status}: {}",
                res.text().await.unwrap_or_default()
            );
        };
        action.join(location.to_str().unwrap()).unwrap()
    }
}

/// The query parameter `name` of `url`.
pub fn param(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with query parameter `name` set to `value`.
pub fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut parsed = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(pairs);
    parsed.to_string()
}

/// `path?query` of an application URL.
pub fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}
