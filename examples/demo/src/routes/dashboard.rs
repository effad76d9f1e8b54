//! The dashboard: `GET /`, `POST /dashboard/keys`, and per key `…/{id}/rotate` and
//! `…/{id}/revoke` (`GET` asks for confirmation, `POST` acts).

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use http::header::CACHE_CONTROL;
use serde_json::{Value, json};
use std::fmt::Write as _;
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
/// How long a rotated key keeps working, as offered (besides "none": refused at once).
const GRACE_CHOICES: [&str; 3] = ["1h", "24h", "7d"];
/// The grace period selected by default (as `demo keys rotate`).
const DEFAULT_GRACE: &str = "24h";
/// A key whose end (expiry or rotation grace) is this close is shown as expiring.
const EXPIRING_WITHIN: i64 = 7 * 86_400;

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
    let end = info.effective_expiry();
    let status = if info.revoked_at.is_some() {
        "revoked"
    } else if end.is_some_and(|at| at <= now) {
        "expired"
    } else if end.is_some_and(|at| at - now <= EXPIRING_WITHIN) {
        "expiring"
    } else {
        "active"
    };
    let usable = matches!(status, "active" | "expiring");
    json!({
        "id": info.id,
        "name": info.name.as_deref().unwrap_or("—"),
        "prefix": format!("{}…{}", info.display_prefix, info.last_four),
        "scopes": info.scopes,
        "created": format_unix(info.created_at),
        "last_used": info.last_used_at.map_or_else(|| "never".to_owned(), format_unix),
        "expires": end.map_or_else(|| "never".to_owned(), format_unix),
        "replaced_by": info.replaced_by,
        "status": status,
        "can_rotate": usable && info.replaced_by.is_none(),
        "can_revoke": usable,
    })
}

/// A key's last 24 hours of use as an inline SVG bar chart: one bar per hour, its height
/// the hour's requests (scaled to the busiest hour), the part refused drawn over it in the
/// refusal colour. `hours` holds `(hour start, Unix seconds; requests; of them refused)`,
/// in any order; hours older than 24 before the newest are left out, missing hours are
/// empty. Each bar names its hour and counts in a `<title>`; no script, no `style`
/// attribute (the pages' CSP allows neither). Empty input draws nothing.
#[cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "shown in the key rows once the key store reports hourly usage"
    )
)]
pub(crate) fn usage_chart_svg(hours: &[(i64, u64, u64)]) -> String {
    /// `text` safe in HTML / SVG text and attribute values.
    fn escape(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => out.push_str("&amp;"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '"' => out.push_str("&quot;"),
                '\'' => out.push_str("&#39;"),
                c => out.push(c),
            }
        }
        out
    }

    const BAR: u64 = 6;
    const GAP: u64 = 2;
    const HEIGHT: u64 = 32;
    let Some(newest) = hours.iter().map(|(hour, _, _)| hour.div_euclid(3600)).max() else {
        return String::new();
    };
    let mut slots = [(0_u64, 0_u64); 24];
    for &(start, requests, refused) in hours {
        let age = newest - start.div_euclid(3600);
        if let Some(slot) = usize::try_from(23 - age)
            .ok()
            .and_then(|i| slots.get_mut(i))
        {
            slot.0 = slot.0.saturating_add(requests);
            slot.1 = slot.1.saturating_add(refused.min(requests));
        }
    }
    let busiest = slots
        .iter()
        .map(|(requests, _)| *requests)
        .max()
        .unwrap_or(0)
        .max(1);
    // Bar heights in whole pixels: `count` of the busiest hour's HEIGHT.
    let scale = |count: u64| {
        u64::try_from(u128::from(count) * u128::from(HEIGHT) / u128::from(busiest))
            .unwrap_or(HEIGHT)
    };
    let (total, refused): (u64, u64) = slots.iter().fold((0, 0), |(t, r), (q, f)| {
        (t.saturating_add(*q), r.saturating_add(*f))
    });
    let width = 24 * (BAR + GAP);
    let label = escape(&format!(
        "Requests in the 24 hours to {}: {total}, {refused} refused",
        format_unix(newest.saturating_add(1).saturating_mul(3600))
    ));
    let mut svg = format!(
        r#"<svg class="usage-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" role="img" aria-label="{label}"><title>{label}</title>"#
    );
    for (slot, (requests, refused)) in (0_i64..).zip(slots) {
        let x = u64::try_from(slot).unwrap_or(0) * (BAR + GAP);
        let h = scale(requests);
        let hour = format_unix((newest - 23 + slot).saturating_mul(3600));
        let title = escape(&format!("{hour}: {requests} requests, {refused} refused"));
        let _ = write!(
            svg,
            r#"<g><title>{title}</title><rect x="{x}" y="0" width="{BAR}" height="{HEIGHT}" fill="transparent"/>"#
        );
        if h > 0 {
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="{}" width="{BAR}" height="{h}" fill="#2f5bea"/>"##,
                HEIGHT - h
            );
        }
        let r = scale(refused);
        if r > 0 {
            let _ = write!(
                svg,
                r##"<rect x="{x}" y="{}" width="{BAR}" height="{r}" fill="#c4320a"/>"##,
                HEIGHT - r
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
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
    // One space-separated value, or one value per ticked box: both are accepted.
    let mut scopes: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "scopes")
        .flat_map(|(_, v)| v.split_whitespace())
        .collect();
    scopes.sort_unstable();
    scopes.dedup();
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

/// Key `id` if it belongs to the logged-in user; otherwise the dashboard saying why not
/// (404 for another user's key or none, 503 when the store fails).
async fn owned_key(state: &AppState, session: &Session, id: &str) -> Result<KeyInfo, Response> {
    let (status, text) = match state.keys.info(id).await {
        Ok(Some(info)) if info.account == session.user().id => return Ok(info),
        Ok(_) => (StatusCode::NOT_FOUND, "You have no key with this id."),
        Err(error) => {
            tracing::warn!(%error, "key lookup failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The key store is unavailable. Try again shortly.",
            )
        }
    };
    let flash = Flash {
        error: Some(text.to_owned()),
        ..Flash::default()
    };
    Err(dashboard(state, Some(session), status, flash).await)
}

/// The page asking to confirm `action` (`rotate` or `revoke`) on key `id`.
async fn confirm(state: &AppState, session: &Session, id: &str, action: &str) -> Response {
    let info = match owned_key(state, session, id).await {
        Ok(info) => info,
        Err(response) => return response,
    };
    let context = json!({
        "user": session.user(),
        "csrf_token": session.csrf_token(),
        "action": action,
        "key": key_row(&info, tower_apikey::record::now()),
        "grace_choices": GRACE_CHOICES,
        "default_grace": DEFAULT_GRACE,
    });
    page(state, StatusCode::OK, "confirm.html", &context)
}

/// `GET /dashboard/keys/{id}/revoke`: asks to confirm the revocation.
pub(crate) async fn confirm_revoke(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    confirm(&state, &session, &id, "revoke").await
}

/// `GET /dashboard/keys/{id}/rotate`: asks to confirm the rotation and its grace period.
pub(crate) async fn confirm_rotate(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    confirm(&state, &session, &id, "rotate").await
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
    if let Err(response) = owned_key(&state, &session, &id).await {
        return response;
    }
    let (status, flash) = match state.keys.revoke(&id).await {
        Ok(_) => {
            tracing::info!(%id, "key revoked");
            let flash = Flash {
                notice: Some(format!("Key {id} revoked.")),
                ..Flash::default()
            };
            (StatusCode::OK, flash)
        }
        Err(error) => {
            tracing::warn!(%error, "revoking a key failed");
            let flash = Flash {
                error: Some(
                    "The key could not be revoked: the key store is unavailable.".to_owned(),
                ),
                ..Flash::default()
            };
            (StatusCode::SERVICE_UNAVAILABLE, flash)
        }
    };
    dashboard(&state, Some(&session), status, flash).await
}

/// `POST /dashboard/keys/{id}/rotate`: replaces one of the user's keys by a new one, shown
/// once; the old key works until the chosen grace period (`grace`: empty for none, or one of
/// [`GRACE_CHOICES`]) ends.
pub(crate) async fn rotate_key(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = match read_form(&state, &session, &body) {
        Ok(fields) => fields,
        Err(response) => return *response,
    };
    let failed = |status, text: String| {
        let flash = Flash {
            error: Some(text),
            ..Flash::default()
        };
        dashboard(&state, Some(&session), status, flash)
    };
    let grace = match field(&fields, "grace") {
        Ok(None | Some("")) => Duration::ZERO,
        Ok(Some(grace)) if GRACE_CHOICES.contains(&grace) => {
            parse_duration(grace).unwrap_or(Duration::ZERO)
        }
        Ok(Some(_)) => {
            let text = format!(
                "Choose a grace period from: none, {}.",
                GRACE_CHOICES.join(", ")
            );
            return failed(StatusCode::BAD_REQUEST, text).await;
        }
        Err(text) => return failed(StatusCode::BAD_REQUEST, text).await,
    };
    if let Err(response) = owned_key(&state, &session, &id).await {
        return response;
    }
    match state.keys.rotate(&id, grace).await {
        Ok(created) => {
            tracing::info!(%id, new = %created.info.id, ?grace, "key rotated");
            let until = if grace.is_zero() {
                "is refused from now on".to_owned()
            } else {
                let ends = tower_apikey::record::now()
                    .saturating_add(i64::try_from(grace.as_secs()).unwrap_or(i64::MAX));
                format!("keeps working until {}", format_unix(ends))
            };
            let flash = Flash {
                notice: Some(format!(
                    "Key {id} rotated: {} replaces it; the old key {until}.",
                    created.info.id
                )),
                new_key: Some(json!({ "id": created.info.id, "key": created.key.expose() })),
                ..Flash::default()
            };
            dashboard(&state, Some(&session), StatusCode::OK, flash).await
        }
        Err(tower_apikey::KeyError::Store(error))
            if error.kind() == auth_core::StoreErrorKind::NotFound =>
        {
            failed(
                StatusCode::CONFLICT,
                format!("Key {id} is revoked: it cannot be rotated."),
            )
            .await
        }
        Err(error) => {
            tracing::warn!(%error, "rotating a key failed");
            failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "The key could not be rotated: the key store is unavailable.".to_owned(),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;
    /// 2024-02-29 12:00 UTC.
    const NOON: i64 = 1_709_208_000;

    fn info(revoked: bool, expires_in: Option<i64>, now: i64) -> KeyInfo {
        KeyInfo {
            id: "abcdefabcdef".to_owned(),
            env: tower_apikey::Env::Live,
            account: "oidc:alice".to_owned(),
            name: Some("ci".to_owned()),
            scopes: vec!["read".to_owned()],
            display_prefix: "sk_live_abcd".to_owned(),
            last_four: "wxyz".to_owned(),
            created_at: now - 100,
            expires_at: expires_in.map(|secs| now + secs),
            not_before: None,
            revoked_at: revoked.then_some(now - 1),
            last_used_at: None,
            grace_ends_at: None,
            replaced_by: None,
            tenant: None,
            metadata: serde_json::Map::new(),
            rate: None,
            quota: None,
        }
    }

    #[test]
    fn key_rows_say_active_expiring_expired_or_revoked() {
        let now = NOON;
        for (revoked, expires_in, status, actions) in [
            (false, None, "active", true),
            (false, Some(30 * 86_400), "active", true),
            (false, Some(86_400), "expiring", true),
            (false, Some(-1), "expired", false),
            (true, None, "revoked", false),
        ] {
            let row = key_row(&info(revoked, expires_in, now), now);
            assert_eq!(row["status"], status, "{row}");
            assert_eq!(row["can_revoke"], actions, "{row}");
            assert_eq!(row["can_rotate"], actions, "{row}");
            assert_eq!(row["scopes"], json!(["read"]));
            assert_eq!(row["last_used"], "never");
        }
        let mut rotated = info(false, None, now);
        rotated.grace_ends_at = Some(now + HOUR);
        rotated.replaced_by = Some("fedcbafedcba".to_owned());
        let row = key_row(&rotated, now);
        assert_eq!(row["status"], "expiring", "in its grace period: {row}");
        assert_eq!(row["can_rotate"], false, "already replaced: {row}");
        assert_eq!(row["can_revoke"], true, "{row}");
    }

    #[test]
    fn scopes_come_from_ticked_boxes_or_one_spaced_value() {
        let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let boxes = fields(&[("scopes", "write"), ("scopes", "read"), ("name", "n")]);
        assert_eq!(validate(&boxes).unwrap().scopes, ["read", "write"]);
        let spaced = fields(&[("scopes", "read write read")]);
        assert_eq!(validate(&spaced).unwrap().scopes, ["read", "write"]);
        assert!(validate(&fields(&[])).unwrap().scopes.is_empty());
        let admin = fields(&[("scopes", "read"), ("scopes", "admin")]);
        let error = validate(&admin).err().unwrap();
        assert!(error.contains("`admin` cannot be granted"), "{error}");
        let bad_expiry = fields(&[("expires_in", "1000d")]);
        assert!(validate(&bad_expiry).is_err());
    }

    #[test]
    fn the_usage_chart_draws_the_last_24_hours_scaled_to_the_busiest() {
        assert_eq!(usage_chart_svg(&[]), "", "no data, no chart");
        // Newest hour 12:00 with 40 requests (10 refused); 02:00 with 20; an hour 24 before
        // the newest is left out.
        let svg = usage_chart_svg(&[
            (NOON - 10 * HOUR, 20, 0),
            (NOON + 59, 40, 10),
            (NOON - 24 * HOUR, 1_000, 0),
        ]);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<g>").count(), 24, "one bar per hour");
        assert!(
            svg.contains(
                r#"aria-label="Requests in the 24 hours to 2024-02-29 13:00 UTC: 60, 10 refused""#
            ),
            "{svg}"
        );
        assert!(svg.contains("<title>2024-02-29 12:00 UTC: 40 requests, 10 refused</title>"));
        assert!(svg.contains("<title>2024-02-29 02:00 UTC: 20 requests, 0 refused</title>"));
        assert!(svg.contains("<title>2024-02-28 13:00 UTC: 0 requests, 0 refused</title>"));
        assert!(!svg.contains("1000"), "older than 24 h: {svg}");
        // The busiest hour fills the height, the other is half of it, refusals a quarter.
        let x_last = 23 * 8;
        assert!(svg.contains(&format!(
            r##"<rect x="{x_last}" y="0" width="6" height="32" fill="#2f5bea"/>"##
        )));
        assert!(svg.contains(&format!(
            r##"<rect x="{x_last}" y="24" width="6" height="8" fill="#c4320a"/>"##
        )));
        assert!(svg.contains(r##"<rect x="104" y="16" width="6" height="16" fill="#2f5bea"/>"##));
        for forbidden in ["<script", "style=", "javascript:", " on"] {
            assert!(!svg.contains(forbidden), "{forbidden}: {svg}");
        }
    }

    #[test]
    fn the_usage_chart_survives_extreme_counts_and_times() {
        let svg = usage_chart_svg(&[(i64::MAX, u64::MAX, u64::MAX), (i64::MIN, 1, 2)]);
        assert_eq!(svg.matches("<g>").count(), 24);
        let svg = usage_chart_svg(&[(0, 0, 5)]);
        assert!(
            svg.contains("0 requests, 0 refused"),
            "refusals count within requests: {svg}"
        );
        assert!(!svg.contains("#c4320a"), "{svg}");
    }

    #[test]
    fn the_key_row_shows_a_chart_only_when_one_is_given() {
        let templates = crate::templates::Templates::new();
        let mut row = key_row(&info(false, None, NOON), NOON);
        let render = |row: &Value| {
            templates
                .render(
                    "dashboard.html",
                    &json!({
                        "user": { "id": "oidc:alice", "display_name": "Alice" },
                        "csrf_token": "t",
                        "keys": [row],
                        "allowed_scopes": SESSION_SCOPES,
                        "expiry_choices": EXPIRY_CHOICES,
                    }),
                )
                .unwrap()
        };
        let page = render(&row);
        assert!(!page.contains("<svg"), "no usage data, no chart");
        assert!(!page.contains(r#"class="usage""#));
        row["usage_chart"] = json!(usage_chart_svg(&[(NOON, 3, 1)]));
        let page = render(&row);
        assert!(
            page.contains(r#"<div class="usage"><svg class="usage-chart""#),
            "{page}"
        );
        for scope in SESSION_SCOPES {
            assert!(
                page.contains(&format!(
                    r#"<input type="checkbox" name="scopes" value="{scope}""#
                )),
                "{page}"
            );
        }
    }
}
