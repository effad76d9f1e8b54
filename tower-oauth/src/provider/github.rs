//! GitHub's user: the REST `user` and `user/emails` endpoints.

use serde::Deserialize;
use serde_json::Value;

use super::ProviderIdentity;
use crate::http_client::{CappedClient, FetchError};

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

fn get(http: &CappedClient, url: String, token: &str) -> reqwest::RequestBuilder {
    http.inner()
        .get(url)
        .bearer_auth(token)
        .header(http::header::ACCEPT, "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
}

/// Fetches the logged-in GitHub user with `token`. The e-mail is the primary verified one
/// from `user/emails` (the `email` member of `user` is the public profile address, which
/// GitHub does not promise is verified).
pub(crate) async fn fetch_user(
    http: &CappedClient,
    api: &str,
    provider: &str,
    token: &str,
) -> Result<ProviderIdentity, FetchError> {
    let user: Value = http.json(get(http, format!("{api}/user"), token)).await?;
    let subject = match user.get("id") {
        Some(Value::Number(id)) if id.is_u64() => id.to_string(),
        _ => return Err(FetchError::Json),
    };
    let text = |member: &str| user.get(member).and_then(Value::as_str).map(str::to_owned);
    let emails: Vec<Email> = http
        .json(get(http, format!("{api}/user/emails"), token))
        .await?;
    let email = emails.into_iter().find(|e| e.primary && e.verified);
    Ok(ProviderIdentity {
        provider: provider.to_owned(),
        issuer: None,
        subject,
        email_verified: email.is_some(),
        email: email.map(|e| e.email),
        name: text("name"),
        username: text("login"),
        claims: user,
    })
}
