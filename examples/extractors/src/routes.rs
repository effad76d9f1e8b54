//! The routes: handlers taking auth-core's `RequireScope<S>` and the app's `CurrentUser`.

use std::sync::{Arc, Mutex, PoisonError};

use auth_core::RequireScope;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::current_user::CurrentUser;
use crate::error::json_error;
use crate::scopes::{Read, Write};
use crate::tokens::StaticTokens;
use crate::users::UserRepository;

/// The longest note text accepted, in bytes.
pub const MAX_NOTE_LENGTH: usize = 1024;

/// A note, owned by the account that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    /// Sequential id.
    pub id: u64,
    /// The author's account id.
    pub author: String,
    /// The text.
    pub text: String,
}

#[derive(Debug, Default)]
struct Notes {
    next_id: u64,
    notes: Vec<Note>,
}

/// The router state: the accounts and the notes.
#[derive(Debug, Clone)]
pub struct AppState {
    users: UserRepository,
    notes: Arc<Mutex<Notes>>,
}

impl FromRef<AppState> for UserRepository {
    fn from_ref(state: &AppState) -> Self {
        state.users.clone()
    }
}

impl AppState {
    fn notes(&self) -> std::sync::MutexGuard<'_, Notes> {
        self.notes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The application: `GET /hello` (anyone), `GET /me`, `GET /notes` (`notes:read`) and
/// `POST /notes` (`notes:write`), behind an optional [`StaticTokens`] layer: no token is
/// anonymous, a bad token is 401 everywhere.
pub fn app(tokens: StaticTokens, users: UserRepository) -> Router {
    let state = AppState {
        users,
        notes: Arc::default(),
    };
    Router::new()
        .route("/hello", get(hello))
        .route("/me", get(me))
        .route("/notes", get(list_notes).post(create_note))
        .with_state(state)
        .layer(tokens.layer().optional())
}

async fn hello(user: Option<CurrentUser>) -> Json<serde_json::Value> {
    let name = user.map_or_else(|| "stranger".to_owned(), |u| u.user.name);
    Json(json!({ "greeting": format!("hello {name}") }))
}

async fn me(CurrentUser { user, principal }: CurrentUser) -> Json<serde_json::Value> {
    Json(json!({
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "method": principal.method(),
        "scopes": principal.scopes(),
    }))
}

// The guard comes first: a caller without the scope is refused before the account lookup.
async fn list_notes(
    _: RequireScope<Read>,
    CurrentUser { user, .. }: CurrentUser,
    State(state): State<AppState>,
) -> Json<Vec<Note>> {
    let notes = state.notes();
    Json(
        notes
            .notes
            .iter()
            .filter(|note| note.author == user.id)
            .cloned()
            .collect(),
    )
}

/// The body of `POST /notes`.
#[derive(Debug, Deserialize)]
struct NewNote {
    text: String,
}

async fn create_note(
    _: RequireScope<Write>,
    CurrentUser { user, .. }: CurrentUser,
    State(state): State<AppState>,
    body: Result<Json<NewNote>, JsonRejection>,
) -> Response {
    let text = match body {
        Ok(Json(NewNote { text })) => text,
        Err(rejection) => {
            return json_error(rejection.status(), "invalid_body", &rejection.body_text());
        }
    };
    if text.trim().is_empty() || text.len() > MAX_NOTE_LENGTH {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_note",
            &format!("the note text must be 1 to {MAX_NOTE_LENGTH} bytes and not blank"),
        );
    }
    let mut notes = state.notes();
    notes.next_id += 1;
    let note = Note {
        id: notes.next_id,
        author: user.id,
        text,
    };
    notes.notes.push(note.clone());
    (StatusCode::CREATED, Json(note)).into_response()
}
