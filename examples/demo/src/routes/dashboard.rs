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
use tower_apikey::{HourlyUsage, KeyInfo, KeyLimit, NewKey};

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
        "rate": info.rate.map(|rate| rate.to_string()),
        "quota": info.quota.map(|quota| quota.to_string()),
        "created": format_unix(info.created_at),
        "last_used": info.last_used_at.map_or_else(|| "never".to_owned(), format_unix),
        "expires": end.map_or_else(|| "never".to_owned(), format_unix),
        "replaced_by": info.replaced_by,
        "status": status,
        "can_rotate": usable && info.replaced_by.is_none(),
        "can_revoke": usable,
    })
}

/// The hours a usage chart shows.
const CHART_HOURS: usize = 24;

/// One hour of a chart: `(accepted, refused, limited)`, where `limited` counts accepted
/// requests the key's own rate or quota refused next.
type Slot = (u64, u64, u64);

/// The [`Slot`] of each of the [`CHART_HOURS`] hours ending with the one starting at
/// `current_hour` (Unix seconds, a multiple of 3600), oldest first: hours absent from
/// `usage` (no traffic) and hours outside the window are left at zero.
fn usage_slots(usage: &[HourlyUsage], current_hour: i64) -> [Slot; CHART_HOURS] {
    let mut slots = [(0_u64, 0_u64, 0_u64); CHART_HOURS];
    for counts in usage {
        let age = current_hour.saturating_sub(counts.hour).div_euclid(3600);
        let slot = usize::try_from(age)
            .ok()
            .and_then(|age| (CHART_HOURS - 1).checked_sub(age))
            .and_then(|i| slots.get_mut(i));
        if let Some(slot) = slot {
            slot.0 = slot.0.saturating_add(counts.accepted);
            slot.1 = slot.1.saturating_add(counts.refused);
            slot.2 = slot.2.saturating_add(counts.limited);
        }
    }
    slots
}

/// The 24-hour totals of `slots`: `(accepted, refused, limited)`.
fn usage_totals(slots: &[Slot; CHART_HOURS]) -> Slot {
    slots.iter().fold((0, 0, 0), |(a, r, l), (sa, sr, sl)| {
        (
            a.saturating_add(*sa),
            r.saturating_add(*sr),
            l.saturating_add(*sl),
        )
    })
}

/// How a chart and a key row say `(accepted, refused, limited)`: the rate-limited requests
/// are among the accepted ones (the key was valid, its limit refused them).
fn usage_words((accepted, refused, limited): Slot) -> String {
    format!("{accepted} accepted ({limited} rate-limited), {refused} refused")
}

/// A key's last 24 hours of use as an inline SVG bar chart: one bar per hour of `slots`
/// (from [`usage_slots`], the last one starting at `current_hour`), its height the hour's
/// requests (scaled to the busiest hour), drawn from the bottom: refused in the refusal
/// colour, then rate-limited in the limit colour, then the requests served. The chart
/// carries its totals in `data-accepted` / `data-refused` / `data-limited`; each bar names
/// its hour and counts in a `<title>` and `data-` attributes. No script, no `style`
/// attribute (the pages' CSP allows neither).
pub(crate) fn usage_chart_svg(slots: &[Slot; CHART_HOURS], current_hour: i64) -> String {
    const BAR: u64 = 6;
    const GAP: u64 = 2;
    const HEIGHT: u64 = 32;
    // An hour's requests: accepted (rate-limited ones among them) and refused. The limited
    // count is written apart from the accepted one and could exceed it for an hour.
    let requests =
        |&(accepted, refused, limited): &Slot| accepted.max(limited).saturating_add(refused);
    let busiest = slots.iter().map(requests).max().unwrap_or(0).max(1);
    // Bar heights in whole pixels: `count` of the busiest hour's HEIGHT.
    let scale = |count: u64| {
        u64::try_from(u128::from(count) * u128::from(HEIGHT) / u128::from(busiest))
            .unwrap_or(HEIGHT)
    };
    let totals = usage_totals(slots);
    let (accepted, refused, limited) = totals;
    let width = 24 * (BAR + GAP);
    // Only digits, letters, spaces and punctuation without markup meaning: no escaping needed.
    let label = format!(
        "Requests in the 24 hours to {}: {}",
        format_unix(current_hour.saturating_add(3600)),
        usage_words(totals)
    );
    let mut svg = format!(
        r#"<svg class="usage-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" width="{width}" height="{HEIGHT}" role="img" aria-label="{label}" data-accepted="{accepted}" data-refused="{refused}" data-limited="{limited}"><title>{label}</title>"#
    );
    let first_hour = current_hour.saturating_sub(23 * 3600);
    for (slot, counts) in (0_u64..).zip(slots) {
        let &(accepted, refused, limited) = counts;
        let x = slot * (BAR + GAP);
        let start = first_hour.saturating_add(3600 * i64::try_from(slot).unwrap_or(0));
        let _ = write!(
            svg,
            r#"<g data-hour="{start}" data-accepted="{accepted}" data-refused="{refused}" data-limited="{limited}"><title>{}: {}</title><rect x="{x}" y="0" width="{BAR}" height="{HEIGHT}" fill="transparent"/>"#,
            format_unix(start),
            usage_words(*counts)
        );
        // Each layer starts at the bottom and is drawn over the taller one before it; the
        // limit layer only when there is something to show in it.
        let layers = [
            (requests(counts), "#2f5bea", true),
            (limited.saturating_add(refused), "#d69e00", limited > 0),
            (refused, "#c4320a", true),
        ];
        for (count, fill, shown) in layers {
            let h = scale(count);
            if shown && h > 0 {
                let _ = write!(
                    svg,
                    r#"<rect x="{x}" y="{}" width="{BAR}" height="{h}" fill="{fill}"/>"#,
                    HEIGHT - h
                );
            }
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>");
    svg
}

/// The row's chart markup (`usage_chart`) and its totals in words (`usage_totals`).
fn show_usage(row: &mut Value, usage: &[HourlyUsage], current_hour: i64) {
    let slots = usage_slots(usage, current_hour);
    row["usage_chart"] = json!(usage_chart_svg(&slots, current_hour));
    row["usage_totals"] = json!(format!(
        "Last 24 hours: {}",
        usage_words(usage_totals(&slots))
    ));
}

/// The row's chart markup and totals ([`show_usage`]), or the text saying usage cannot be read
/// (`usage_error`) when the store fails.
async fn add_usage(state: &AppState, row: &mut Value, id: &str, current_hour: i64) {
    match state.keys.usage(id).await {
        Ok(usage) => show_usage(row, &usage, current_hour),
        Err(error) => {
            tracing::warn!(%error, id, "reading key usage failed");
            row["usage_error"] =
                json!("Usage cannot be shown right now: the key store is unavailable.");
        }
    }
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
            let current_hour = now - now.rem_euclid(3600);
            let mut rows = Vec::with_capacity(keys.len());
            for key in &keys {
                let mut row = key_row(key, now);
                add_usage(state, &mut row, &key.id, current_hour).await;
                rows.push(row);
            }
            (rows, flash.error)
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
    rate: Option<KeyLimit>,
    quota: Option<KeyLimit>,
}

/// The optional limit in field `name`, read by `parse`: `None` when empty; the parser's
/// message when invalid.
fn limit(
    fields: &[(String, String)],
    name: &str,
    parse: fn(&str) -> Result<KeyLimit, tower_apikey::KeyError>,
) -> Result<Option<KeyLimit>, String> {
    match field(fields, name)?.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => parse(text)
            .map(Some)
            .map_err(|error| format!("Not created: {error}.")),
    }
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
        rate: limit(fields, "rate", KeyLimit::parse_rate)?,
        quota: limit(fields, "quota", KeyLimit::parse_quota)?,
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
    if let Some(rate) = form.rate {
        new = new.rate(rate);
    }
    if let Some(quota) = form.quota {
        new = new.quota(quota);
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
    fn limits_are_optional_and_read_by_the_key_parsers() {
        let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let empty = fields(&[("rate", ""), ("quota", " ")]);
        let none = validate(&empty).unwrap();
        assert_eq!((none.rate, none.quota), (None, None));
        let limited = fields(&[("rate", "5/s"), ("quota", "1000/day")]);
        let both = validate(&limited).unwrap();
        assert_eq!(both.rate.unwrap().to_string(), "5/s");
        assert_eq!(both.quota.unwrap().to_string(), "1000/day");
        for (name, value, message) in [
            (
                "rate",
                "5/day",
                "Not created: invalid rate: expected N/s or N/m",
            ),
            (
                "rate",
                "0/s",
                "Not created: invalid rate: expected N/s or N/m",
            ),
            (
                "quota",
                "9/s",
                "Not created: invalid quota: expected N/day or N/month",
            ),
            (
                "quota",
                "lots",
                "Not created: invalid quota: expected N/day or N/month",
            ),
        ] {
            let error = validate(&fields(&[(name, value)])).err().unwrap();
            assert!(error.starts_with(message), "{name}={value}: {error}");
        }
        let twice = validate(&fields(&[("rate", "1/s"), ("rate", "2/s")])).err();
        assert_eq!(twice.unwrap(), "The field `rate` was sent twice.");
    }

    fn hour(hour: i64, accepted: u64, refused: u64, limited: u64) -> HourlyUsage {
        HourlyUsage {
            hour,
            accepted,
            refused,
            limited,
        }
    }

    #[test]
    fn usage_fills_24_slots_oldest_first_absent_hours_zero() {
        assert_eq!(usage_slots(&[], NOON), [(0, 0, 0); 24], "no traffic");
        let slots = usage_slots(
            &[
                hour(NOON - 10 * HOUR, 20, 0, 4),
                hour(NOON, 40, 10, 0),
                hour(NOON - 23 * HOUR, 7, 1, 0),
                hour(NOON - 24 * HOUR, 1_000, 0, 0),
                hour(NOON + HOUR, 500, 0, 0),
            ],
            NOON,
        );
        let mut expected = [(0, 0, 0); 24];
        expected[0] = (7, 1, 0);
        expected[13] = (20, 0, 4);
        expected[23] = (40, 10, 0);
        assert_eq!(slots, expected, "older than 24 h and future hours left out");
        let extreme = usage_slots(
            &[
                hour(i64::MIN, 1, 1, 1),
                hour(i64::MAX, 1, 1, 1),
                hour(NOON, u64::MAX, 0, u64::MAX),
                hour(NOON, 5, 0, 5),
            ],
            NOON,
        );
        assert_eq!(extreme[23], (u64::MAX, 0, u64::MAX));
        assert_eq!(extreme.iter().filter(|s| **s != (0, 0, 0)).count(), 1);
        assert_eq!(
            usage_slots(&[hour(NOON, 1, 0, 0)], i64::MIN),
            [(0, 0, 0); 24]
        );
    }

    #[test]
    fn the_usage_chart_draws_the_last_24_hours_scaled_to_the_busiest() {
        // 12:00 with 30 accepted (8 of them rate-limited) and 10 refused; 02:00 with 20
        // accepted.
        let slots = usage_slots(
            &[hour(NOON - 10 * HOUR, 20, 0, 0), hour(NOON, 30, 10, 8)],
            NOON,
        );
        let svg = usage_chart_svg(&slots, NOON);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<g ").count(), 24, "one bar per hour");
        assert!(
            svg.contains(
                r#"aria-label="Requests in the 24 hours to 2024-02-29 13:00 UTC: 50 accepted (8 rate-limited), 10 refused" data-accepted="50" data-refused="10" data-limited="8">"#
            ),
            "{svg}"
        );
        assert!(svg.contains(&format!(
            r#"<g data-hour="{NOON}" data-accepted="30" data-refused="10" data-limited="8"><title>2024-02-29 12:00 UTC: 30 accepted (8 rate-limited), 10 refused</title>"#
        )), "{svg}");
        assert!(svg.contains(
            "<title>2024-02-29 02:00 UTC: 20 accepted (0 rate-limited), 0 refused</title>"
        ));
        assert!(svg.contains(
            "<title>2024-02-28 13:00 UTC: 0 accepted (0 rate-limited), 0 refused</title>"
        ));
        // The busiest hour fills the height (40 requests); from the bottom, refusals are a
        // quarter of it, refusals and limited ones 18/40 of it. The other hour is half.
        let x_last = 23 * 8;
        assert!(svg.contains(&format!(
            r##"<rect x="{x_last}" y="0" width="6" height="32" fill="#2f5bea"/>"##
        )));
        assert!(
            svg.contains(&format!(
                r##"<rect x="{x_last}" y="18" width="6" height="14" fill="#d69e00"/>"##
            )),
            "{svg}"
        );
        assert!(svg.contains(&format!(
            r##"<rect x="{x_last}" y="24" width="6" height="8" fill="#c4320a"/>"##
        )));
        assert!(svg.contains(r##"<rect x="104" y="16" width="6" height="16" fill="#2f5bea"/>"##));
        assert_eq!(
            svg.matches("#d69e00").count(),
            1,
            "no limit layer without limits"
        );
        for forbidden in ["<script", "style=", "javascript:", " on"] {
            assert!(!svg.contains(forbidden), "{forbidden}: {svg}");
        }
    }

    #[test]
    fn the_usage_chart_survives_extreme_counts_and_times() {
        let mut slots = [(0, 0, 0); 24];
        slots[0] = (u64::MAX, u64::MAX, u64::MAX);
        slots[1] = (1, 0, 0);
        // More limited than accepted (written apart, so possible within one hour): the
        // bar is as tall as the limited and refused ones, never taller than the chart.
        slots[2] = (0, 0, 3);
        for current_hour in [i64::MIN, 0, i64::MAX] {
            let svg = usage_chart_svg(&slots, current_hour);
            assert_eq!(svg.matches("<g ").count(), 24);
            assert!(
                svg.contains(&format!(r#"data-accepted="{}""#, u64::MAX)),
                "{svg}"
            );
        }
        let mut slots = [(0, 0, 0); 24];
        slots[5] = (0, 0, 3);
        let svg = usage_chart_svg(&slots, NOON);
        assert!(
            svg.contains(r##"<rect x="40" y="0" width="6" height="32" fill="#d69e00"/>"##),
            "{svg}"
        );
        let empty = usage_chart_svg(&[(0, 0, 0); 24], NOON);
        assert!(
            empty.contains(r#"data-accepted="0" data-refused="0" data-limited="0""#),
            "{empty}"
        );
        assert!(
            !empty.contains("#2f5bea") && !empty.contains("#c4320a") && !empty.contains("#d69e00"),
            "no bars: {empty}"
        );
    }

    #[test]
    fn the_key_row_shows_its_chart_or_says_usage_is_unavailable() {
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
        row["usage_error"] = json!("Usage cannot be shown right now.");
        let page = render(&row);
        assert!(!page.contains("<svg"), "no usage data, no chart");
        assert!(
            page.contains(r#"<p class="usage muted">Usage cannot be shown right now.</p>"#),
            "{page}"
        );
        row["usage_error"] = Value::Null;
        show_usage(&mut row, &[hour(NOON, 3, 1, 2)], NOON);
        let page = render(&row);
        assert!(
            page.contains(r#"<div class="usage"><svg class="usage-chart""#),
            "{page}"
        );
        assert!(
            page.contains(
                r#"</svg><small class="usage-totals muted">Last 24 hours: 3 accepted (2 rate-limited), 1 refused</small></div>"#
            ),
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
