//! The demo's configuration, read from `DEMO_*` environment variables (all optional).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rand::RngCore as _;
use url::Url;

use crate::users::Users;

/// The password-login users when `DEMO_USERS` is unset, served only when both `DEMO_ADDR`
/// and `DEMO_PUBLIC_URL` are loopback: their passwords are published in the README.
pub const DEFAULT_USERS: &str =
    "alice:alice-password:read write;admin:admin-password:read write admin";

/// The audience of the demo's own access tokens.
pub const DEMO_AUDIENCE: &str = "demo-api";

/// An OAuth client registration (`*_CLIENT_ID` / `*_CLIENT_SECRET`).
#[derive(Clone)]
pub struct ClientCredentials {
    /// The client id.
    pub id: String,
    /// The client secret (never printed).
    pub secret: String,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// The PEM files of `DEMO_TLS_CERT` / `DEMO_TLS_KEY` (the server speaks HTTPS with them)
/// and of `DEMO_TLS_CLIENT_CA`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `DEMO_TLS_CLIENT_CA`: the CA certificate(s) a client certificate must chain to. With
    /// it, the server asks every client for a certificate (RFC 8705 certificate-bound
    /// tokens); a client without one still connects.
    pub client_ca: Option<PathBuf>,
}

/// Everything the server and the CLI read from the environment.
#[derive(Clone)]
pub struct Config {
    /// `DEMO_ADDR`, default `127.0.0.1:3000`.
    pub addr: SocketAddr,
    /// `DEMO_DATABASE_URL`, default `sqlite://demo.db`.
    pub database_url: String,
    /// `DEMO_REDIS_URL`: revocations, refresh families and sessions shared through Redis.
    pub redis_url: Option<String>,
    /// `DEMO_JWT_SECRET`: comma-separated HS256 secrets (>= 32 bytes each, at most 8),
    /// newest first: the first signs, every one verifies (by `kid`), so the secret can be
    /// rotated without logging everyone out. Empty means a random secret per start.
    pub jwt_secrets: Vec<Vec<u8>>,
    /// `DEMO_JWT_ISSUER`, default `demo`.
    pub jwt_issuer: String,
    /// `DEMO_OIDC_ISSUER`: also accept its access tokens, and log in with it.
    pub oidc_issuer: Option<String>,
    /// `DEMO_OIDC_AUDIENCE`, default `demo-api`.
    pub oidc_audience: String,
    /// `DEMO_OIDC_CLIENT_ID` / `DEMO_OIDC_CLIENT_SECRET`.
    pub oidc_client: Option<ClientCredentials>,
    /// `DEMO_OIDC_INTROSPECTION`: `on` also accepts the issuer's opaque access tokens,
    /// checked at its RFC 7662 introspection endpoint with the `DEMO_OIDC_CLIENT_*`
    /// credentials; `off` (default).
    pub oidc_introspection: bool,
    /// `DEMO_OIDC_REDIRECT_URI`: overrides `{public_url}/oauth/oidc/callback` (for a
    /// provider whose registered redirect URI differs, e.g. behind a proxy).
    pub oidc_redirect_uri: Option<String>,
    /// `DEMO_OIDC_POST_LOGOUT_REDIRECT_URI`: where the OpenID provider sends the browser
    /// after ending its session; with it, logging out of an OpenID session also ends the
    /// provider's (RP-Initiated Logout, when the provider has an `end_session_endpoint`).
    pub oidc_post_logout_redirect_uri: Option<String>,
    /// `DEMO_GITHUB_CLIENT_ID` / `DEMO_GITHUB_CLIENT_SECRET`.
    pub github_client: Option<ClientCredentials>,
    /// `DEMO_PUBLIC_URL`, default `http://{addr}`.
    pub public_url: String,
    /// `DEMO_USERS`; `None` when unset: the accounts of [`DEFAULT_USERS`], which the server
    /// serves only on loopback (see [`Config::users`]).
    pub users: Option<Users>,
    /// `DEMO_COOKIE_KEY`: comma-separated keys of 64+ bytes each, newest first (the first
    /// seals, any opens: see tower-oauth's `cookie_keys`); one random key per start by
    /// default.
    pub cookie_keys: Vec<Vec<u8>>,
    /// `DEMO_KEY_CACHE_TTL`: how long an API-key record is cached (default 30 s); a key
    /// revoked by another process (the CLI) is refused within this bound.
    pub key_cache_ttl: Duration,
    /// `DEMO_USAGE_FLUSH`: how often API keys' last-use times and usage counts are written
    /// to the key store (default 60 s, at least 1 s); the dashboard shows them this late.
    pub usage_flush: Duration,
    /// `DEMO_JWT_CACHE`: `on` (default) keeps a verified-token cache; `off` verifies every
    /// token's signature on every request (for benchmarks).
    pub jwt_cache: bool,
    /// `DEMO_BENCH_FLOORS`: `off` (default); `on` adds the `/bench/whoami*` routes, which
    /// answer the whoami JSON for a fixed principal *without checking any credential*, so
    /// a load run can measure what a route costs before authentication (see
    /// `BENCHMARKS.md`). Never turn it on for a server others can reach.
    pub bench_floors: bool,
    /// `DEMO_TLS_CERT` / `DEMO_TLS_KEY`: serve HTTPS (HTTP/1.1 and HTTP/2) with this pair,
    /// reloaded at SIGHUP; with `DEMO_TLS_CLIENT_CA`, client certificates too.
    pub tls: Option<TlsFiles>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field(
                "jwt_secrets",
                &format_args!("[{} redacted]", self.jwt_secrets.len()),
            )
            .field("jwt_issuer", &self.jwt_issuer)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("oidc_client", &self.oidc_client)
            .field("oidc_introspection", &self.oidc_introspection)
            .field("github_client", &self.github_client)
            .field("public_url", &self.public_url)
            .field("users", &self.users)
            .field("cookie_keys", &self.cookie_keys.len())
            .field("key_cache_ttl", &self.key_cache_ttl)
            .field("usage_flush", &self.usage_flush)
            .field("jwt_cache", &self.jwt_cache)
            .field("bench_floors", &self.bench_floors)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A URL with its password, if any, replaced.
fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// `DEMO_PUBLIC_URL` when unset: `http://{addr}`, or `https://{addr}` with TLS.
fn default_public_url(tls: bool, addr: SocketAddr) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}")
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// An `on` / `off` variable, `default` when unset.
fn switch(name: &str, default: bool) -> Result<bool, String> {
    match var(name).as_deref() {
        None => Ok(default),
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(format!("{name} must be on or off, not {other:?}")),
    }
}

impl Config {
    /// Reads the environment.
    ///
    /// # Errors
    ///
    /// A message naming the variable that is malformed.
    pub fn from_env() -> Result<Self, String> {
        let addr: SocketAddr = var("DEMO_ADDR")
            .as_deref()
            .unwrap_or("127.0.0.1:3000")
            .parse()
            .map_err(|_| "DEMO_ADDR must be an address such as 127.0.0.1:3000".to_owned())?;
        let jwt_secrets = match var("DEMO_JWT_SECRET") {
            Some(secrets) => jwt_secrets(&secrets)?,
            None => Vec::new(),
        };
        let cookie_keys = match var("DEMO_COOKIE_KEY") {
            Some(keys) => cookie_keys(&keys)?,
            None => vec![random_bytes(64)],
        };
        let users = var("DEMO_USERS")
            .map(|spec| Users::parse(&spec).map_err(|e| format!("DEMO_USERS: {e}")))
            .transpose()?;
        let key_cache_ttl = match var("DEMO_KEY_CACHE_TTL") {
            Some(ttl) => tower_apikey::cli::parse_duration(&ttl)
                .map_err(|e| format!("DEMO_KEY_CACHE_TTL: {e}"))?,
            None => tower_apikey::DEFAULT_CACHE_TTL,
        };
        let usage_flush = match var("DEMO_USAGE_FLUSH") {
            Some(every) => tower_apikey::cli::parse_duration(&every)
                .map_err(|e| format!("DEMO_USAGE_FLUSH: {e}"))?,
            None => tower_apikey::DEFAULT_TOUCH_INTERVAL,
        };
        if usage_flush < Duration::from_secs(1) {
            return Err("DEMO_USAGE_FLUSH must be at least 1s".to_owned());
        }
        let pair = |id: &str, secret: &str| -> Result<Option<ClientCredentials>, String> {
            match (var(id), var(secret)) {
                (Some(id), Some(secret)) => Ok(Some(ClientCredentials { id, secret })),
                (None, None) => Ok(None),
                _ => Err(format!("set both {id} and {secret}, or neither")),
            }
        };
        let oidc_issuer = var("DEMO_OIDC_ISSUER");
        let oidc_client = pair("DEMO_OIDC_CLIENT_ID", "DEMO_OIDC_CLIENT_SECRET")?;
        if oidc_client.is_some() && oidc_issuer.is_none() {
            return Err("DEMO_OIDC_CLIENT_ID needs DEMO_OIDC_ISSUER".to_owned());
        }
        let oidc_introspection = switch("DEMO_OIDC_INTROSPECTION", false)?;
        if oidc_introspection && oidc_client.is_none() {
            return Err("DEMO_OIDC_INTROSPECTION=on needs DEMO_OIDC_ISSUER, DEMO_OIDC_CLIENT_ID and DEMO_OIDC_CLIENT_SECRET".to_owned());
        }
        let client_ca = var("DEMO_TLS_CLIENT_CA").map(PathBuf::from);
        let tls = match (var("DEMO_TLS_CERT"), var("DEMO_TLS_KEY")) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
                client_ca,
            }),
            (None, None) if client_ca.is_some() => {
                return Err(
                    "DEMO_TLS_CLIENT_CA needs DEMO_TLS_CERT and DEMO_TLS_KEY: client \
                     certificates are read by the demo's own HTTPS listener"
                        .to_owned(),
                );
            }
            (None, None) => None,
            _ => return Err("set both DEMO_TLS_CERT and DEMO_TLS_KEY, or neither".to_owned()),
        };
        let public_url = var("DEMO_PUBLIC_URL").map_or_else(
            || default_public_url(tls.is_some(), addr),
            |u| u.trim_end_matches('/').to_owned(),
        );
        Ok(Self {
            addr,
            database_url: var("DEMO_DATABASE_URL").unwrap_or_else(|| "sqlite://demo.db".to_owned()),
            redis_url: var("DEMO_REDIS_URL"),
            jwt_secrets,
            jwt_issuer: var("DEMO_JWT_ISSUER").unwrap_or_else(|| "demo".to_owned()),
            oidc_issuer,
            oidc_audience: var("DEMO_OIDC_AUDIENCE").unwrap_or_else(|| DEMO_AUDIENCE.to_owned()),
            oidc_client,
            oidc_introspection,
            oidc_redirect_uri: var("DEMO_OIDC_REDIRECT_URI"),
            oidc_post_logout_redirect_uri: var("DEMO_OIDC_POST_LOGOUT_REDIRECT_URI"),
            github_client: pair("DEMO_GITHUB_CLIENT_ID", "DEMO_GITHUB_CLIENT_SECRET")?,
            public_url,
            users,
            cookie_keys,
            key_cache_ttl,
            usage_flush,
            jwt_cache: switch("DEMO_JWT_CACHE", true)?,
            bench_floors: switch("DEMO_BENCH_FLOORS", false)?,
            tls,
        })
    }

    /// Records the address the listener is bound to: the one `DEMO_ADDR` names, or with
    /// port 0 the port the system picked. A public URL left to its default then names that
    /// port, so the origin browsers send matches it.
    pub fn bound_to(&mut self, bound: SocketAddr) {
        if self.public_url == default_public_url(self.tls.is_some(), self.addr) {
            self.public_url = default_public_url(self.tls.is_some(), bound);
        }
        self.addr = bound;
    }

    /// Whether the server is reachable from this machine only: `DEMO_ADDR` binds a
    /// loopback address and `DEMO_PUBLIC_URL` names one.
    #[must_use]
    pub fn loopback_only(&self) -> bool {
        self.addr.ip().is_loopback()
            && Url::parse(&self.public_url).is_ok_and(|url| match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            })
    }

    /// Whether cookies go without `Secure` and without the `__Host-` / `__Secure-`
    /// prefixes: only for a plain `http://` public URL when the server is
    /// [`loopback_only`](Self::loopback_only). Bound to `0.0.0.0`, it serves the network,
    /// and its cookies keep `Secure` whatever the public URL says.
    #[must_use]
    pub fn insecure_loopback(&self) -> bool {
        self.loopback_only() && Url::parse(&self.public_url).is_ok_and(|url| url.scheme() == "http")
    }

    /// Whether responses carry `Strict-Transport-Security`: the server speaks TLS, or a
    /// proxy does in front of it (`DEMO_PUBLIC_URL` is `https://`).
    #[must_use]
    pub fn hsts(&self) -> bool {
        self.tls.is_some() || self.public_url.starts_with("https://")
    }

    /// Whether the server may listen as configured: HTTPS anywhere; plain http only on a
    /// loopback `DEMO_ADDR`, or behind a proxy that serves the `https://` `DEMO_PUBLIC_URL`.
    ///
    /// # Errors
    ///
    /// Plain http on an address others can reach, with no https in front of it.
    pub fn check_listener(&self) -> Result<(), String> {
        if self.tls.is_some()
            || self.addr.ip().is_loopback()
            || self.public_url.starts_with("https://")
        {
            return Ok(());
        }
        Err(format!(
            "refusing to serve plain http on {}, which others can reach: set DEMO_TLS_CERT and \
             DEMO_TLS_KEY (`demo cert` makes a local pair), bind a loopback DEMO_ADDR, or set an \
             https:// DEMO_PUBLIC_URL when a proxy terminates TLS in front of the demo",
            self.addr
        ))
    }

    /// The password-login users: `DEMO_USERS`, or the accounts of [`DEFAULT_USERS`] when it
    /// is unset and the server is [`loopback_only`](Self::loopback_only).
    ///
    /// # Errors
    ///
    /// Without `DEMO_USERS` on a server others can reach: its default accounts' passwords
    /// are public.
    pub fn users(&self) -> Result<Users, String> {
        match &self.users {
            Some(users) => Ok(users.clone()),
            None if self.loopback_only() => {
                tracing::warn!(
                    "DEMO_USERS is not set: the password logins alice/alice-password and \
                     admin/admin-password work (loopback only)"
                );
                Users::parse(DEFAULT_USERS)
            }
            None => Err(format!(
                "DEMO_USERS must be set: DEMO_ADDR ({}) or DEMO_PUBLIC_URL ({}) is not a \
                 loopback address, and the default accounts' passwords are published",
                self.addr, self.public_url
            )),
        }
    }
}

/// `DEMO_JWT_SECRET`: comma-separated secrets, newest first, each at least 32 bytes.
fn jwt_secrets(value: &str) -> Result<Vec<Vec<u8>>, String> {
    let secrets: Vec<Vec<u8>> = value.split(',').map(|s| s.as_bytes().to_vec()).collect();
    if secrets.len() > 8 {
        return Err("DEMO_JWT_SECRET holds at most 8 comma-separated secrets".to_owned());
    }
    if let Some(position) = secrets.iter().position(|s| s.len() < 32) {
        return Err(format!(
            "DEMO_JWT_SECRET: secret {} must be at least 32 bytes",
            position + 1
        ));
    }
    Ok(secrets)
}

/// The keys of `DEMO_COOKIE_KEY`: comma-separated, each at least 64 bytes, at most 8.
fn cookie_keys(spec: &str) -> Result<Vec<Vec<u8>>, String> {
    let keys: Vec<Vec<u8>> = spec.split(',').map(|k| k.as_bytes().to_vec()).collect();
    if keys.len() > 8 {
        return Err("DEMO_COOKIE_KEY holds at most 8 keys".to_owned());
    }
    if let Some(position) = keys.iter().position(|key| key.len() < 64) {
        return Err(format!(
            "DEMO_COOKIE_KEY: key {} of {} is shorter than 64 bytes (keys are separated by commas)",
            position + 1,
            keys.len()
        ));
    }
    Ok(keys)
}

/// `n` bytes from a CSPRNG seeded by the OS.
#[must_use]
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(addr: &str, public_url: &str, users: Option<&str>) -> Config {
        Config {
            addr: addr.parse().unwrap(),
            database_url: "sqlite::memory:".to_owned(),
            redis_url: None,
            jwt_secrets: Vec::new(),
            jwt_issuer: "demo".to_owned(),
            oidc_issuer: None,
            oidc_audience: DEMO_AUDIENCE.to_owned(),
            oidc_client: None,
            oidc_introspection: false,
            oidc_redirect_uri: None,
            oidc_post_logout_redirect_uri: None,
            github_client: None,
            public_url: public_url.to_owned(),
            users: users.map(|spec| Users::parse(spec).unwrap()),
            cookie_keys: vec![random_bytes(64)],
            key_cache_ttl: Duration::from_secs(30),
            usage_flush: Duration::from_secs(60),
            jwt_cache: true,
            bench_floors: false,
            tls: None,
        }
    }

    #[test]
    fn a_default_public_url_names_the_bound_port_and_a_set_one_is_kept() {
        let bound: SocketAddr = "127.0.0.1:4567".parse().unwrap();
        let mut bound_config = config("127.0.0.1:0", "http://127.0.0.1:0", None);
        bound_config.bound_to(bound);
        assert_eq!(
            (bound_config.addr, bound_config.public_url.as_str()),
            (bound, "http://127.0.0.1:4567")
        );
        let mut bound_config = config_with_tls("127.0.0.1:0", "https://127.0.0.1:0");
        bound_config.bound_to(bound);
        assert_eq!(bound_config.public_url, "https://127.0.0.1:4567");
        let mut bound_config = config("127.0.0.1:0", "http://localhost:8080", None);
        bound_config.bound_to(bound);
        assert_eq!(
            (bound_config.addr, bound_config.public_url.as_str()),
            (bound, "http://localhost:8080")
        );
    }

    fn config_with_tls(addr: &str, public_url: &str) -> Config {
        Config {
            tls: Some(TlsFiles {
                cert: "cert.pem".into(),
                key: "key.pem".into(),
                client_ca: None,
            }),
            ..config(addr, public_url, None)
        }
    }

    #[test]
    fn insecure_cookies_need_both_the_address_and_the_public_url_on_loopback() {
        for (addr, url, insecure) in [
            ("127.0.0.1:3000", "http://127.0.0.1:3000", true),
            ("[::1]:3000", "http://localhost:3000", true),
            ("0.0.0.0:3000", "http://127.0.0.1:3000", false),
            ("[::]:3000", "http://[::1]:3000", false),
            ("192.0.2.7:3000", "http://localhost:3000", false),
            ("127.0.0.1:3000", "http://demo.example:3000", false),
            ("127.0.0.1:3000", "https://127.0.0.1:3000", false),
        ] {
            assert_eq!(
                config(addr, url, None).insecure_loopback(),
                insecure,
                "{addr} {url}"
            );
        }
    }

    #[test]
    fn the_default_accounts_are_served_on_loopback_only() {
        let local = config("127.0.0.1:3000", "http://127.0.0.1:3000", None);
        assert!(
            local
                .users()
                .unwrap()
                .check("alice", "alice-password")
                .is_some()
        );
        for (addr, url) in [
            ("0.0.0.0:3000", "http://127.0.0.1:3000"),
            ("127.0.0.1:3000", "https://demo.example"),
        ] {
            let error = config(addr, url, None).users().unwrap_err();
            assert!(error.contains("DEMO_USERS must be set"), "{error}");
            let users = config(addr, url, Some("carol:carol-pw")).users().unwrap();
            assert!(users.check("carol", "carol-pw").is_some());
            assert!(users.check("alice", "alice-password").is_none());
        }
    }

    #[test]
    fn plain_http_is_served_on_loopback_or_behind_an_https_proxy_only() {
        for (addr, url, tls, allowed, hsts) in [
            (
                "127.0.0.1:3000",
                "http://127.0.0.1:3000",
                false,
                true,
                false,
            ),
            ("[::1]:3000", "http://localhost:3000", false, true, false),
            ("0.0.0.0:3000", "https://demo.example", false, true, true),
            ("0.0.0.0:3000", "http://demo.example", false, false, false),
            (
                "192.0.2.7:3000",
                "http://127.0.0.1:3000",
                false,
                false,
                false,
            ),
            ("0.0.0.0:3000", "https://0.0.0.0:3000", true, true, true),
            ("127.0.0.1:3000", "https://127.0.0.1:3000", true, true, true),
        ] {
            let mut config = config(addr, url, None);
            if tls {
                config.tls = Some(TlsFiles {
                    cert: "cert.pem".into(),
                    key: "key.pem".into(),
                    client_ca: None,
                });
            }
            let checked = config.check_listener();
            assert_eq!(checked.is_ok(), allowed, "{addr} {url} tls={tls}");
            if let Err(message) = checked {
                assert!(
                    message.contains("refusing to serve plain http"),
                    "{message}"
                );
            }
            assert_eq!(config.hsts(), hsts, "{addr} {url} tls={tls}");
        }
    }

    #[test]
    fn cookie_keys_are_a_comma_separated_list() {
        let (a, b) = ("a".repeat(64), "b".repeat(70));
        assert_eq!(
            cookie_keys(&format!("{a},{b}")).unwrap(),
            [a.as_bytes(), b.as_bytes()]
        );
        let error = cookie_keys(&format!("{a},short")).unwrap_err();
        assert!(error.contains("key 2 of 2"), "{error}");
        assert!(cookie_keys(&format!("{a},")).is_err(), "an empty key");
        assert!(cookie_keys(&[a.as_str(); 9].join(",")).is_err());
        assert_eq!(cookie_keys(&[a.as_str(); 8].join(",")).unwrap().len(), 8);
    }
}
