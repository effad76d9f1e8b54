//! HTTPS: `DEMO_TLS_CERT` / `DEMO_TLS_KEY` serve HTTP/1.1 and HTTP/2 (ALPN) with
//! `Strict-Transport-Security`; SIGHUP reloads the pair (a bad one is logged and the old
//! one kept); one variable alone, a mismatched pair, or plain http others can reach is
//! refused at start.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::tls::{Pair, peer_certificate};
use common::{Server, TempDir, http, refused_start};
use reqwest::Version;

fn start_https(pair: &Pair) -> Server {
    let env = pair.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(&env)
}

fn hangup(server: &Server) {
    let status = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("`kill` is needed to send SIGHUP");
    assert!(status.success());
}

#[tokio::test]
async fn https_speaks_h2_and_http1_with_hsts_and_the_configured_certificate() {
    let dir = TempDir::new();
    let pair = Pair::generate(&dir.0);
    let server = start_https(&pair);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    let res = pair
        .client()
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), Version::HTTP_2, "h2 negotiated by ALPN");
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    assert_eq!(peer_certificate(&res), pair.cert_der());
    assert_eq!(res.text().await.unwrap(), "ok");

    let http1 = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&pair.cert).unwrap()).unwrap(),
        )
        .http1_only()
        .build()
        .unwrap();
    let res = http1
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), Version::HTTP_11);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // A client that does not trust the certificate gets no answer at all.
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    let error = untrusting
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn sighup_reloads_the_pair_and_keeps_the_old_one_when_the_new_one_is_bad() {
    let (live, next, other) = (TempDir::new(), TempDir::new(), TempDir::new());
    let first = Pair::generate(&live.0);
    let server = start_https(&first);
    let client = first.client();
    let res = client
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(peer_certificate(&res), first.cert_der());

    // Replace the files, then SIGHUP: new handshakes present the new certificate.
    let second = Pair::generate(&next.0);
    std::fs::copy(&second.cert, &first.cert).unwrap();
    std::fs::copy(&second.key, &first.key).unwrap();
    hangup(&server);
    let trusting_second = second.client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(res) = trusting_second
            .get(format!("{}/health", server.url))
            .send()
            .await
        {
            assert_eq!(res.status(), 200);
            assert_eq!(peer_certificate(&res), second.cert_der());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new pair was not loaded within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old certificate is no longer presented.
    assert!(
        client
            .get(format!("{}/health", server.url))
            .send()
            .await
            .is_err()
    );

    // A key that does not belong to the certificate: logged, the current pair kept.
    let third = Pair::generate(&other.0);
    std::fs::copy(&third.key, &first.key).unwrap();
    hangup(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = trusting_second
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(peer_certificate(&res), second.cert_der());
    // A file that is no PEM at all: the same.
    std::fs::write(&first.cert, "garbage").unwrap();
    hangup(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = trusting_second
        .get(format!("{}/health", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(peer_certificate(&res), second.cert_der());
}

#[test]
fn one_tls_variable_alone_is_refused() {
    let dir = TempDir::new();
    let pair = Pair::generate(&dir.0);
    let [cert, key] = pair.env();
    for alone in [cert, key] {
        let stderr = refused_start(&[(alone.0, alone.1.as_str())]);
        assert!(
            stderr.contains("set both DEMO_TLS_CERT and DEMO_TLS_KEY, or neither"),
            "{stderr}"
        );
    }
}

#[test]
fn a_pair_that_does_not_match_or_load_is_refused_at_start() {
    let (a, b) = (TempDir::new(), TempDir::new());
    let (first, second) = (Pair::generate(&a.0), Pair::generate(&b.0));
    let cert = first.cert.display().to_string();
    let key = second.key.display().to_string();
    let stderr = refused_start(&[("DEMO_TLS_CERT", &cert), ("DEMO_TLS_KEY", &key)]);
    assert!(stderr.contains("do not make a pair"), "{stderr}");
    let missing = a.0.join("missing.pem").display().to_string();
    let stderr = refused_start(&[("DEMO_TLS_CERT", &missing), ("DEMO_TLS_KEY", &key)]);
    assert!(stderr.contains("DEMO_TLS_CERT"), "{stderr}");
}

#[tokio::test]
async fn plain_http_is_served_on_loopback_or_behind_an_https_proxy_only() {
    // Bound to every interface without TLS: refused, saying what to do.
    let stderr = refused_start(&[("DEMO_ADDR", "0.0.0.0:0"), ("DEMO_USERS", "carol:pw")]);
    assert!(
        stderr.contains("refusing to serve plain http on 0.0.0.0:0"),
        "{stderr}"
    );
    assert!(stderr.contains("DEMO_TLS_CERT"), "{stderr}");

    // Loopback: plain http, no HSTS.
    let local = Server::start(&[]);
    let res = http()
        .get(format!("{}/health", local.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("strict-transport-security").is_none());

    // Behind a proxy serving the https public URL: plain http here, HSTS for the browser.
    let proxied = Server::start(&[
        ("DEMO_ADDR", "0.0.0.0:0"),
        ("DEMO_PUBLIC_URL", "https://demo.example.test"),
        ("DEMO_USERS", "carol:pw"),
    ]);
    assert!(proxied.url.starts_with("http://"), "{}", proxied.url);
    let res = http()
        .get(format!("{}/health", proxied.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[test]
fn demo_cert_writes_a_pair_for_the_named_hosts_and_says_how_to_use_it() {
    let dir = TempDir::new();
    let out = Command::new(common::BIN)
        .args(["cert", "--out"])
        .arg(&dir.0)
        .args(["--host", "demo.test", "--host", "192.0.2.7"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("for demo.test, 192.0.2.7"), "{stdout}");
    let cert = dir.0.join("cert.pem").display().to_string();
    assert!(
        stdout.contains(&format!("DEMO_TLS_CERT={cert} DEMO_TLS_KEY=")),
        "{stdout}"
    );
    let pem = std::fs::read_to_string(dir.0.join("cert.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let key = std::fs::read_to_string(dir.0.join("key.pem")).unwrap();
    assert!(
        key.starts_with("-----BEGIN PRIVATE KEY-----"),
        "a PKCS#8 key"
    );
}
