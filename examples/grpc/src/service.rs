//! [`NotesService`]: the gRPC handlers, reading the caller from the request's extensions.

use std::sync::{Arc, Mutex, PoisonError};

use auth_core::Principal;
use tonic::{Request, Response, Status};
use tower_apikey::ApiKeyIdentity;
use tower_jwt::Claims;

use crate::pb::notes_server::Notes;
use crate::pb::{
    CreateNoteRequest, ListNotesRequest, ListNotesResponse, Note, WhoAmIRequest, WhoAmIResponse,
};

/// The longest note text accepted, in bytes.
pub const MAX_NOTE_LENGTH: usize = 1024;

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    notes: Vec<Note>,
}

/// An in-memory notes service. Each caller sees only the notes it wrote (by the
/// [`Principal`]'s subject). Cloning shares the notes.
#[derive(Debug, Clone, Default)]
pub struct NotesService {
    store: Arc<Mutex<Store>>,
}

impl NotesService {
    /// An empty notes service.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The [`Principal`] the authentication layer inserted. Its absence means the service was
/// served without the layer: a server misconfiguration, never a reason to let the call in.
fn principal<T>(request: &Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Status::internal("no authentication layer in front of this service"))
}

#[tonic::async_trait]
impl Notes for NotesService {
    async fn who_am_i(
        &self,
        request: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let principal = principal(&request)?;
        // The identity of the method that authenticated the call is there too, under its
        // own type, for what only that method knows.
        let extensions = request.extensions();
        let credential_id = if let Some(key) = extensions.get::<ApiKeyIdentity>() {
            key.id().to_owned()
        } else if let Some(jwt) = extensions.get::<Claims>() {
            jwt.jti().unwrap_or_default().to_owned()
        } else {
            String::new()
        };
        Ok(Response::new(WhoAmIResponse {
            subject: principal.subject().to_owned(),
            method: principal.method().to_string(),
            scopes: principal.scopes().to_vec(),
            credential_id,
        }))
    }

    async fn list_notes(
        &self,
        request: Request<ListNotesRequest>,
    ) -> Result<Response<ListNotesResponse>, Status> {
        let author = principal(&request)?.subject();
        let notes = self
            .store()
            .notes
            .iter()
            .filter(|note| note.author == author)
            .cloned()
            .collect();
        Ok(Response::new(ListNotesResponse { notes }))
    }

    async fn create_note(
        &self,
        request: Request<CreateNoteRequest>,
    ) -> Result<Response<Note>, Status> {
        let author = principal(&request)?.subject().to_owned();
        let text = request.into_inner().text;
        if text.trim().is_empty() {
            return Err(Status::invalid_argument("the note text is empty"));
        }
        if text.len() > MAX_NOTE_LENGTH {
            return Err(Status::invalid_argument(format!(
                "the note text is longer than {MAX_NOTE_LENGTH} bytes"
            )));
        }
        let mut store = self.store();
        store.next_id += 1;
        let note = Note {
            id: store.next_id,
            author,
            text,
        };
        store.notes.push(note.clone());
        Ok(Response::new(note))
    }
}
