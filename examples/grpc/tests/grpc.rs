//! The notes service over loopback with a real tonic client: UNAUTHENTICATED,
//! PERMISSION_DENIED and success, with API keys and JWTs.

mod common;

use tonic::{Code, Request};
use tower_apikey::{ApiKeys, NewKey, store};
use towerauth_grpc_example::pb::notes_client::NotesClient;
use towerauth_grpc_example::pb::{CreateNoteRequest, ListNotesRequest, WhoAmIRequest};
use towerauth_grpc_example::{MAX_NOTE_LENGTH, READ_SCOPE, WRITE_SCOPE};

use common::{Claims, bearer, call_path, jwt, start, start_with, with};

#[tokio::test]
async fn no_or_bad_credentials_are_unauthenticated() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());

    let status = client
        .who_am_i(Request::new(WhoAmIRequest {}))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "authentication is required");

    let refused = [
        // Signed with another secret.
        bearer(
            WhoAmIRequest {},
            &jwt(&Claims {
                secret: b"another-secret-another-secret-0123456789",
                ..Claims::default()
            }),
        ),
        // Expired, well past the leeway.
        bearer(
            WhoAmIRequest {},
            &jwt(&Claims {
                exp_in: -600,
                ..Claims::default()
            }),
        ),
        // An ID token where an access token is expected.
        bearer(
            WhoAmIRequest {},
            &jwt(&Claims {
                typ: "JWT",
                ..Claims::default()
            }),
        ),
        bearer(WhoAmIRequest {}, "not-a-token"),
        // Key-shaped but unknown (bad checksum), in each place a key is read.
        bearer(WhoAmIRequest {}, &format!("sk_live_{}", "A".repeat(61))),
        with(WhoAmIRequest {}, "x-api-key", "sk_live_garbage"),
    ];
    for request in refused {
        let status = client.who_am_i(request).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
}

#[tokio::test]
async fn a_revoked_key_is_unauthenticated() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let created = server
        .keys
        .create(NewKey::new("acme").scopes([READ_SCOPE]))
        .await
        .unwrap();
    let key = created.key.expose();
    assert!(
        client
            .who_am_i(with(WhoAmIRequest {}, "x-api-key", key))
            .await
            .is_ok()
    );

    server.keys.revoke(&created.info.id).await.unwrap();
    let status = client
        .who_am_i(with(WhoAmIRequest {}, "x-api-key", key))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the API key is not valid");
}

#[tokio::test]
async fn a_missing_scope_is_permission_denied() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let reader = server
        .keys
        .create(NewKey::new("acme").scopes([READ_SCOPE]))
        .await
        .unwrap();

    let note = || CreateNoteRequest {
        text: "hello".to_owned(),
    };
    let status = client
        .create_note(bearer(note(), reader.key.expose()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        status.message(),
        "the credential lacks a required scope: notes:write"
    );

    let read_only = jwt(&Claims {
        scope: READ_SCOPE,
        ..Claims::default()
    });
    let status = client
        .create_note(bearer(note(), &read_only))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // Reading is allowed with the same token, and nothing was written.
    let listed = client
        .list_notes(bearer(ListNotesRequest {}, &read_only))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.notes.is_empty());

    let no_scopes = jwt(&Claims {
        scope: "",
        ..Claims::default()
    });
    let status = client
        .list_notes(bearer(ListNotesRequest {}, &no_scopes))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // WhoAmI needs no scope.
    assert!(
        client
            .who_am_i(bearer(WhoAmIRequest {}, &no_scopes))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_method_without_an_access_rule_is_permission_denied() {
    let server = start().await;
    let token = jwt(&Claims::default());
    // The same client and token reach a listed method…
    let me = call_path(
        server.channel.clone(),
        "/towerauth.example.v1.Notes/WhoAmI",
        Some(&token),
    )
    .await
    .unwrap();
    assert_eq!(me.subject, "alice");

    // …but a method the rules do not list is refused before the router sees it, even for a
    // caller holding every scope (the router would have answered UNIMPLEMENTED).
    for path in [
        "/towerauth.example.v1.Notes/DeleteNote",
        "/towerauth.example.v1.Admin/WhoAmI",
    ] {
        let status = call_path(server.channel.clone(), path, Some(&token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{path}");
        assert_eq!(
            status.message(),
            "no access rule allows this method or path",
            "{path}"
        );
    }

    // Authentication comes first: without a credential, any path is UNAUTHENTICATED.
    let status = call_path(
        server.channel.clone(),
        "/towerauth.example.v1.Notes/DeleteNote",
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn api_key_callers_reach_the_handler() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let created = server
        .keys
        .create(NewKey::new("acme").scopes([READ_SCOPE, WRITE_SCOPE]))
        .await
        .unwrap();
    let key = created.key.expose();

    // Both places a key is read: `authorization: Bearer` and `x-api-key`.
    for request in [
        bearer(WhoAmIRequest {}, key),
        with(WhoAmIRequest {}, "x-api-key", key),
    ] {
        let me = client.who_am_i(request).await.unwrap().into_inner();
        assert_eq!(me.subject, "acme");
        assert_eq!(me.method, "api_key");
        assert_eq!(me.credential_id, created.info.id);
        assert_eq!(me.scopes, [READ_SCOPE, WRITE_SCOPE]);
    }

    let note = client
        .create_note(with(
            CreateNoteRequest {
                text: "from a key".to_owned(),
            },
            "x-api-key",
            key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(note.author, "acme");
    assert_eq!(note.text, "from a key");
}

#[tokio::test]
async fn jwt_callers_reach_the_handler() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let token = jwt(&Claims::default());

    let me = client
        .who_am_i(bearer(WhoAmIRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject, "alice");
    assert_eq!(me.method, "jwt");
    assert!(me.credential_id.starts_with("jti-"));
    assert_eq!(me.scopes, [READ_SCOPE, WRITE_SCOPE]);

    let created = client
        .create_note(bearer(
            CreateNoteRequest {
                text: "from a token".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.author, "alice");

    // Notes are per subject: bob sees none of alice's.
    let listed = client
        .list_notes(bearer(ListNotesRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.notes, [created]);
    let bob = jwt(&Claims {
        sub: "bob",
        ..Claims::default()
    });
    let listed = client
        .list_notes(bearer(ListNotesRequest {}, &bob))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.notes.is_empty());
}

#[tokio::test]
async fn bad_note_text_is_invalid_argument() {
    let server = start().await;
    let mut client = NotesClient::new(server.channel.clone());
    let token = jwt(&Claims::default());
    for text in [" ".to_owned(), "x".repeat(MAX_NOTE_LENGTH + 1)] {
        let status = client
            .create_note(bearer(CreateNoteRequest { text }, &token))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }
}

#[tokio::test]
async fn a_key_store_outage_is_unavailable_not_unauthenticated() {
    let sql = store::connect("sqlite::memory:").await.unwrap();
    let server = start_with(ApiKeys::builder(sql.clone()).build().unwrap()).await;
    let mut client = NotesClient::new(server.channel.clone());
    let used = server.keys.create(NewKey::new("acme")).await.unwrap();
    let unused = server.keys.create(NewKey::new("acme")).await.unwrap();
    // First use caches the key's record.
    assert!(
        client
            .who_am_i(with(WhoAmIRequest {}, "x-api-key", used.key.expose()))
            .await
            .is_ok()
    );

    sql.close().await;
    // Cached: still served while the store is down.
    assert!(
        client
            .who_am_i(with(WhoAmIRequest {}, "x-api-key", used.key.expose()))
            .await
            .is_ok()
    );
    // Not cached: the key cannot be checked, which is not the caller's fault.
    let status = client
        .who_am_i(with(WhoAmIRequest {}, "x-api-key", unused.key.expose()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
}
