//! SIGTERM under load: requests in flight complete, new connections are refused, and the
//! demo exits 0 within its grace period even when a client holds a request half-sent.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::json;

/// A client opening a new connection per request (none kept alive across the signal).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_in_flight_requests_and_exits_0() {
    let mut server = Server::start(&[]);
    let url = server.url.clone();
    let addr = url.trim_start_matches("http://").to_owned();

    // Background load: /health on new connections until the server is gone (bounded).
    let stop = Arc::new(AtomicBool::new(false));
    let (served, refused, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (url, stop) = (url.clone(), stop.clone());
            let (served, refused, other) = (served.clone(), refused.clone(), other.clone());
            tokio::spawn(async move {
                let client = client();
                for _ in 0..20_000 {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    match client.get(format!("{url}/health")).send().await {
                        Ok(res) if res.status() == 200 => served.fetch_add(1, Ordering::Relaxed),
                        Ok(res) => panic!("/health answered {} during shutdown", res.status()),
                        Err(e) if e.is_connect() => refused.fetch_add(1, Ordering::Relaxed),
                        Err(_) => other.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Slow requests in flight when the signal arrives: password logins (Argon2).
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                client()
                    .post(format!("{url}/auth/login"))
                    .json(&json!({ "username": "alice", "password": "alice-password" }))
                    .send()
                    .await
                    .map(|res| res.status().as_u16())
            })
        })
        .collect();
    // A client holding a request half-sent: it must not keep the server alive.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: demo\r\n")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let signalled = Instant::now();
    let status = tokio::task::block_in_place(|| server.terminate());
    let exited_after = signalled.elapsed();
    assert!(status.success(), "SIGTERM must end with status 0: {status}");
    assert!(
        exited_after < Duration::from_secs(8),
        "exit within the 5 s grace period: {exited_after:?}"
    );
    for login in logins {
        let status = login.await.unwrap();
        assert!(
            matches!(status, Ok(200)),
            "a login in flight at SIGTERM must complete: {status:?}"
        );
    }
    assert!(
        TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1)).is_err(),
        "new connections are refused after the exit"
    );
    stop.store(true, Ordering::Release);
    for task in load {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the load stops")
            .unwrap();
    }
    let (served, refused, other) = (
        served.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
    );
    assert!(served > 10, "the load ran: {served} served");
    assert!(refused > 0, "connections after the signal were refused");
    eprintln!(
        "shutdown: exit {exited_after:?} after SIGTERM; load {served} served, {refused} refused, {other} cut while connecting"
    );
}
