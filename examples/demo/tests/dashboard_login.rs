//! `POST /dashboard/login`: a `DEMO_USERS` password login gets the same session as an OAuth
//! login (303 to `/`, a fresh session cookie, the dashboard, the session on the API,
//! logout), with no login provider configured; a wrong password is a 401 page, a cross-site
//! post 403, too many failures 429 with `Retry-After`.

mod common;

use common::{Server, csrf_token, http, password_form as login, resource_metadata, set_cookie};

const USERS: &str = "dana:dana-password:read write;erin:erin-password:read";

fn credentials<'a>(user: &'a str, password: &'a str) -> [(&'a str, &'a str); 2] {
    [("username", user), ("password", password)]
}

#[tokio::test]
async fn a_password_login_is_a_dashboard_session_without_any_provider() {
    let server = Server::start(&[("DEMO_USERS", USERS)]);
    let client = http();
    let page = client
        .get(format!("{}/", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<form method="post" action="/dashboard/login""#),
        "{page}"
    );
    assert!(!page.contains("<script"), "no inline script");

    // A planted session id is replaced by a fresh one.
    let planted = format!("session={}", "A".repeat(43));
    let res = login(
        &server,
        &credentials("dana", "dana-password"),
        &[("cookie", &planted)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    let cookie = set_cookie(&res, "session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_owned();
    assert_ne!(pair, planted);
    assert_eq!(pair.len(), "session=".len() + 43);

    // The dashboard and the API know the session.
    let page = client
        .get(format!("{}/", server.url))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("dana"), "{page}");
    let csrf = csrf_token(&page);
    let me: serde_json::Value = client
        .get(format!("{}/api/whoami", server.url))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["method"], "session", "{me}");
    assert_eq!(me["subject"], "password:dana", "{me}");

    // Logout ends it like an OAuth session.
    let res = client
        .post(format!("{}/oauth/logout", server.url))
        .header("cookie", &pair)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = client
        .get(format!("{}/api/whoami", server.url))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn wrong_passwords_cross_site_posts_and_guessing_are_refused() {
    let server = Server::start(&[("DEMO_USERS", USERS)]);
    let res = login(&server, &credentials("dana", "wrong"), &[]).await;
    assert_eq!(res.status(), 401);
    assert!(set_cookie(&res, "session").is_none());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(res.text().await.unwrap().contains("wrong password"));
    let res = login(&server, &credentials("nobody", "dana-password"), &[]).await;
    assert_eq!(res.status(), 401);

    // A form posted from another site logs nobody in, even with the right password.
    for header in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = login(&server, &credentials("dana", "dana-password"), &[header]).await;
        assert_eq!(res.status(), 403, "{header:?}");
        assert!(set_cookie(&res, "session").is_none());
    }
    // A form without both fields is no login.
    let res = login(&server, &[("username", "dana")], &[]).await;
    assert_eq!(res.status(), 400);

    // Guessing erin's password: throttled, then even the right one gets 429.
    for _ in 0..5 {
        let res = login(&server, &credentials("erin", "guess"), &[]).await;
        assert_eq!(res.status(), 401);
    }
    let res = login(&server, &credentials("erin", "erin-password"), &[]).await;
    assert_eq!(res.status(), 429);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry_after), "{retry_after}");
    assert!(set_cookie(&res, "session").is_none());
    // dana's budget is her own.
    let res = login(&server, &credentials("dana", "dana-password"), &[]).await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn on_a_port_the_system_picked_the_public_url_names_that_port() {
    // `DEMO_ADDR=127.0.0.1:0` and no `DEMO_PUBLIC_URL` (unset, or set empty), with the
    // default users of a loopback server: a browser on the bound port posts the form with
    // that origin, which must be the demo's own, not one with port 0.
    for public_url in [None, Some("")] {
        let server = match public_url {
            None => Server::start(&[]),
            Some(empty) => Server::start(&[("DEMO_PUBLIC_URL", empty)]),
        };
        logs_in_on_the_bound_port(&server).await;
    }
}

async fn logs_in_on_the_bound_port(server: &Server) {
    assert!(!server.url.ends_with(":0"), "{}", server.url);
    let alice = credentials("alice", "alice-password");
    let res = login(server, &alice, &[("origin", "http://127.0.0.1:0")]).await;
    assert_eq!(res.status(), 403, "port 0 is not the demo's origin");
    let res = login(server, &alice, &[("origin", &server.url)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/");
    assert!(set_cookie(&res, "session").is_some());
    // Its RFC 9728 metadata names the same URL.
    let metadata = resource_metadata(&http(), server).await;
    assert_eq!(metadata["resource"], server.url.as_str(), "{metadata}");
}
