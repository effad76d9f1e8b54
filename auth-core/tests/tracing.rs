//! The per-request `auth` span records the method, the outcome and the reason code, and never
//! the credential.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::io;
use std::sync::{Arc, Mutex};

use auth_core::credential::Credentials;
use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn tokens(req: &Request<()>) -> Ready<Result<Principal, AuthError>> {
    ready(
        Credentials::bearer()
            .extract(req)
            .and_then(|cred| match cred.value() {
                "tok-good-1234" => Ok(Principal::new("alice", AuthMethod::Jwt)),
                _ => {
                    Err(AuthError::invalid_credential("the token has expired")
                        .with_reason("expired"))
                }
            }),
    )
}

#[tokio::test(flavor = "current_thread")]
async fn span_fields_name_method_outcome_and_reason_but_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let svc = ServiceBuilder::new()
        .layer(AuthLayer::new(tokens))
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(()))
        }));
    let call = |token: &str| {
        Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    let ok = svc.clone().oneshot(call("tok-good-1234")).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = svc.oneshot(call("tok-bad-5678")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let admitted = log.lines().find(|l| l.contains("admitted")).expect(&log);
    assert!(admitted.contains(r#"method="jwt""#), "{admitted}");
    assert!(
        admitted.contains(r#"outcome="authenticated""#),
        "{admitted}"
    );
    let rejected = log.lines().find(|l| l.contains("rejected")).expect(&log);
    assert!(rejected.contains(r#"outcome="rejected""#), "{rejected}");
    assert!(rejected.contains(r#"reason="expired""#), "{rejected}");
    assert!(rejected.contains("status=401"), "{rejected}");
    assert!(
        !log.contains("tok-good") && !log.contains("tok-bad"),
        "{log}"
    );
}
