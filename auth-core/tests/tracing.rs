//! The per-request `auth` and `authorize` spans record the method, the outcome and the reason
//! code, never the credential; a misconfiguration logs its cause at `ERROR`.

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use auth_core::{AuthLayer, require_scopes};
use http::StatusCode;
use tower::{ServiceBuilder, ServiceExt};
use tracing_subscriber::fmt::format::FmtSpan;

use common::{Body, Sessions, Table, bearer, echo, request, tokens};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every event at `DEBUG` and above, and every span's close with its fields, written to the
/// returned buffer while the guard lives.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

/// The line closing a span whose fields hold `needle`.
fn closed<'a>(log: &'a str, needle: &str) -> &'a str {
    log.lines()
        .find(|l| l.contains(needle) && l.contains("close"))
        .unwrap_or_else(|| panic!("no closed span with {needle} in:\n{log}"))
}

#[tokio::test(flavor = "current_thread")]
async fn span_fields_name_method_outcome_and_reason_but_no_secret() {
    let (captured, _guard) = capture();
    for table in [Table::decided(), Table::pending()] {
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(table).optional())
            .service(echo(Arc::default()));
        let ok = svc.clone().oneshot(bearer("good")).await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let refused = svc.clone().oneshot(bearer("expired")).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        let anonymous = svc.oneshot(request(&[])).await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::OK);
    }
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(Sessions::default()))
        .service(echo(Arc::default()));
    let res = svc
        .oneshot(request(&[("cookie", "sid=s-bad")]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    let log = captured.text();
    let admitted = closed(&log, r#"outcome="authenticated""#);
    assert!(admitted.contains(r#"auth{method="jwt""#), "{admitted}");
    let rejected = closed(&log, r#"reason="expired""#);
    assert!(rejected.contains(r#"outcome="rejected""#), "{rejected}");
    let rejected_event = log
        .lines()
        .find(|l| l.contains(" rejected") && l.contains(r#"reason="expired""#))
        .expect(&log);
    assert!(rejected_event.contains("DEBUG"), "{rejected_event}");
    assert!(rejected_event.contains("status=401"), "{rejected_event}");
    assert!(closed(&log, r#"outcome="anonymous""#).contains("auth{"));
    assert!(
        log.lines()
            .any(|l| l.contains(r#"outcome="rejected""#) && l.contains(r#"reason="invalid""#)),
        "{log}"
    );
    // Two tables, three requests each, one session: seven closed `auth` spans.
    let spans = log
        .lines()
        .filter(|l| l.contains("auth{") && l.contains("close"))
        .count();
    assert_eq!(spans, 7, "{log}");
    assert!(!log.contains("Bearer"), "{log}");
    assert!(!log.contains("s-bad"), "{log}");
}

#[tokio::test(flavor = "current_thread")]
async fn no_credential_reaches_any_log_line() {
    let (captured, _guard) = capture();
    let secret = "tok-5ecret-7f3a9c";
    for table in [Table::decided(), Table::pending()] {
        let svc = ServiceBuilder::new()
            .layer(AuthLayer::new(table))
            .layer(require_scopes(["admin"]))
            .service(echo(Arc::default()));
        let res = svc.oneshot(bearer(secret)).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let log = captured.text();
    assert!(log.contains(r#"outcome="rejected""#), "{log}");
    assert!(!log.contains("5ecret"), "{log}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_authorize_span_records_its_outcome() {
    let (captured, _guard) = capture();
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .layer(require_scopes(["read"]))
        .service(echo(Arc::default()));
    assert_eq!(
        svc.clone().oneshot(bearer("good")).await.unwrap().status(),
        StatusCode::OK
    );
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .layer(require_scopes(["admin"]))
        .service(echo(Arc::default()));
    assert_eq!(
        svc.oneshot(bearer("good")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let log = captured.text();
    closed(&log, r#"authorize{outcome="authorized"}"#);
    let refused = closed(&log, r#"authorize{outcome="rejected""#);
    assert!(
        refused.contains(r#"reason="insufficient_scope""#),
        "{refused}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_misconfiguration_logs_its_cause_at_error() {
    let (captured, _guard) = capture();
    // An authenticator reporting a broken setup.
    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens::<Body>))
        .service(echo(Arc::default()));
    let res = svc.oneshot(bearer("broken")).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    // An authorization layer with no authentication layer in front of it.
    let svc = ServiceBuilder::new()
        .layer(require_scopes(["read"]))
        .service(echo(Arc::default()));
    let res = svc.oneshot(bearer("good")).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let log = captured.text();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 2, "{log}");
    assert!(
        errors[0].contains("the key set holds no key for algorithm RS256"),
        "{}",
        errors[0]
    );
    assert!(errors[0].contains("misconfigured"), "{}", errors[0]);
    assert!(
        errors[1].contains("no AuthLayer in front of it"),
        "{}",
        errors[1]
    );
}

#[cfg(feature = "axum")]
#[tokio::test(flavor = "current_thread")]
async fn an_extractor_without_a_layer_logs_which_layer_to_add() {
    async fn whoami(principal: auth_core::Principal) -> String {
        principal.subject().to_owned()
    }
    let (captured, _guard) = capture();
    let app = axum::Router::new().route("/whoami", axum::routing::get(whoami));
    let res = app
        .oneshot(
            http::Request::builder()
                .uri("/whoami")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let log = captured.text();
    let error = log.lines().find(|l| l.contains("ERROR")).expect(&log);
    assert!(error.contains("AuthLayer"), "{error}");
    assert!(error.contains("Principal"), "{error}");
}
