//! The dashboard: `GET /`, `POST /dashboard/keys`, `POST /dashboard/keys/{id}/revoke`.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde_json::{Value, json};
use std::time::Duration;

use tower_apikey::cli::parse_duration;
use tower_apikey::{KeyInfo, NewKey};

use crate::app::AppState;
use crate::session::{SESSION_SCOPES, Session};
use crate::templates::format_unix;

/// The largest dashboard form read.
const MAX_FORM: usize = 4 * 1024;
/// The longest key name.
const MAX_NAME: usize = 64;
/// The lifetimes the form offers (besides "never").
const EXPIRY_CHOICES: [&str; 3] = ["7d", "30d", "90d"];

/// What a page says besides the key list.
#[derive(Default)]
struct Flash {
    error: Option<String>,
    notice: Option<String>,
    new_key: Option<Value>,
}

fn page(state: &AppState, status: StatusCode, template: &str, context: &Value) -> Response {
    match state.templates.render(template, context) {
        Ok(html) => (status, [(CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, template, "rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

fn message(state: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    page(
        state,
        status,
        "message.html",
        &json!({ "title": title, "message": text }),
    )
}

fn key_row(info: &KeyInfo, now: i64) -> Value {
    let status = if info.revoked_at.is_some() {
        "revoked"
    } else if info.effective_expiry().is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": info.id,
        "name": info.name.as_deref().unwrap_or("—"),
        "prefix": format!("{}…{}", info.display_prefix, info.last_four),
        "scopes": if info.scopes.is_empty() { "—".to_owned() } else { info.scopes.join(" ") },
        "created": format_unix(info.created_at),
        "last_used": info.last_used_at.map_or_else(|| "never".to_owned(), format_unix),
        "expires": info.effective_expiry().map_or_else(|| "never".to_owned(), format_unix),
        "status": status,
    })
}

fn providers(state: &AppState) -> Vec<Value> {
    state
        .oauth
        .provider_names()
        .into_iter()
        .map(|name| {
            let label = match name {
                "github" => "GitHub",
                "oidc" => "OpenID Connect",
                other => other,
            };
            json!({ "name": name, "label": label })
        })
        .collect()
}

/// The dashboard for `session` (or the anonymous page), with `flash`.
async fn dashboard(
    state: &AppState,
    session: Option<&Session>,
    status: StatusCode,
    flash: Flash,
) -> Response {
    let Some(session) = session else {
        let context = json!({ "providers": providers(state), "error": flash.error });
        return page(state, status, "dashboard.html", &context);
    };
    let account = session.user();
    let (keys, error) = match state.keys.list(Some(&account.id)).await {
        Ok(mut keys) => {
            keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
            let now = tower_apikey::record::now();
            (keys.iter().map(|k| key_row(k, now)).collect(), flash.error)
        }
        Err(error) => {
            tracing::warn!(%error, "listing keys failed");
            (
                Vec::new(),
                Some(
                    "Your keys cannot be listed right now: the key store is unavailable."
                        .to_owned(),
                ),
            )
        }
    };
    let context = json!({
        "user": account,
        "csrf_token": session.csrf_token(),
        "keys": keys,
        "allowed_scopes": SESSION_SCOPES,
        "expiry_choices": EXPIRY_CHOICES,
        "new_key": flash.new_key,
        "notice": flash.notice,
        "error": error,
    });
    page(state, status, "dashboard.html", &context)
}

/// `GET /`.
pub(crate) async fn home(
    State(state): State<AppState>,
    session: Option<Extension<Session>>,
) -> Response {
    let session = session.map(|Extension(s)| s);
    dashboard(&state, session.as_ref(), StatusCode::OK, Flash::default()).await
}

/// The form's fields, or the response refusing it (400 malformed, 403 bad CSRF token).
fn read_form(
    state: &AppState,
    session: &Session,
    body: &Bytes,
) -> Result<Vec<(String, String)>, Box<Response>> {
    if body.len() > MAX_FORM {
        return Err(Box::new(message(
            state,
            StatusCode::PAYLOAD_TOO_LARGE,
            "Form too large",
            "The form is larger than 4 KiB.",
        )));
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let csrf: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str())
        .collect();
    if csrf.len() != 1 || !session.verify_csrf(csrf[0]) {
        tracing::info!(reason = "csrf", "dashboard form refused");
        return Err(Box::new(message(
            state,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The form's security token is missing or does not match your session. Reload the dashboard and try again.",
        )));
    }
    Ok(fields)
}

/// The one value of `name`; an error message when it is repeated.
fn field<'a>(fields: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut values = fields
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(format!("The field `{name}` was sent twice."));
    }
    Ok(first)
}

/// A key from the dashboard form.
struct KeyForm<'a> {
    name: &'a str,
    scopes: Vec<&'a str>,
    expires_in: Option<Duration>,
}

/// The form's key, or a message saying what is wrong.
fn validate(fields: &[(String, String)]) -> Result<KeyForm<'_>, String> {
    let name = field(fields, "name")?.unwrap_or("").trim();
    let scopes = field(fields, "scopes")?.unwrap_or("");
    let expires_in = match field(fields, "expires_in")?.unwrap_or("") {
        "" => None,
        lifetime if EXPIRY_CHOICES.contains(&lifetime) => parse_duration(lifetime).ok(),
        _ => {
            return Err(format!(
                "Choose an expiry from: never, {}.",
                EXPIRY_CHOICES.join(", ")
            ));
        }
    };
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(format!(
            "The name must be at most {MAX_NAME} printable characters."
        ));
    }
    let scopes: Vec<&str> = scopes.split_whitespace().collect();
    if let Some(bad) = scopes.iter().find(|s| !SESSION_SCOPES.contains(s)) {
        let shown: String = bad.chars().take(32).collect();
        return Err(format!(
            "The scope `{shown}` cannot be granted from the dashboard; choose from: {}.",
            SESSION_SCOPES.join(", ")
        ));
    }
    Ok(KeyForm {
        name,
        scopes,
        expires_in,
    })
}

/// `POST /dashboard/keys`: creates a key for the logged-in user and shows it once.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let fields = match read_form(&state, &session, &body) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let invalid = |text: String| Flash {
        error: Some(text),
        ..Flash::default()
    };
    let form = match validate(&fields) {
        Ok(valid) => valid,
        Err(text) => {
            return dashboard(
                &state,
                Some(&session),
                StatusCode::BAD_REQUEST,
                invalid(text),
            )
            .await;
        }
    };
    let mut new = NewKey::new(session.user().id.clone()).scopes(form.scopes);
    if !form.name.is_empty() {
        new = new.name(form.name);
    }
    if let Some(lifetime) = form.expires_in {
        new = new.expires_in(lifetime);
    }
    match state.keys.create(new).await {
        Ok(created) => {
            tracing::info!(id = %created.info.id, account = %created.info.account, "key created");
            let flash = Flash {
                notice: Some(format!("Key {} created.", created.info.id)),
                new_key: Some(json!({ "id": created.info.id, "key": created.key.expose() })),
                ..Flash::default()
            };
            dashboard(&state, Some(&session), StatusCode::OK, flash).await
        }
        Err(error) => {
            tracing::warn!(%error, "creating a key failed");
            let text =
                "The key could not be created: the key store is unavailable. Try again shortly.";
            dashboard(
                &state,
                Some(&session),
                StatusCode::SERVICE_UNAVAILABLE,
                invalid(text.to_owned()),
            )
            .await
        }
    }
}

/// `POST /dashboard/keys/{id}/revoke`: revokes one of the user's keys.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(response) = read_form(&state, &session, &body) {
        return *response;
    }
    let failed = |status, text: &str| {
        let flash = Flash {
            error: Some(text.to_owned()),
            ..Flash::default()
        };
        dashboard(&state, Some(&session), status, flash)
    };
    match state.keys.info(&id).await {
        Ok(Some(info)) if info.account == session.user().id => {}
        Ok(_) => return failed(StatusCode::NOT_FOUND, "You have no key with this id.").await,
        Err(error) => {
            tracing::warn!(%error, "key lookup failed");
            return failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "The key store is unavailable. Try again shortly.",
            )
            .await;
        }
    }
    match state.keys.revoke(&id).await {
        Ok(_) => {
            tracing::info!(%id, "key revoked");
            let flash = Flash {
                notice: Some(format!("Key {id} revoked.")),
                ..Flash::default()
            };
            dashboard(&state, Some(&session), StatusCode::OK, flash).await
        }
        Err(error) => {
            tracing::warn!(%error, "revoking a key failed");
            failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "The key could not be revoked: the key store is unavailable.",
            )
            .await
        }
    }
}
