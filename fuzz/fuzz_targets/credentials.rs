//! Credential extraction (`auth_core::Credentials`, `auth_core::read_cookie`) from a request whose query and headers
//! are fuzzed bytes: every outcome is a credential of visible ASCII within the length cap,
//! or a 400/401 refusal, never a panic.
//!
//! Input: lines separated by `\n`. The first line is the query string; each further line is
//! one header, its first byte choosing the name (`authorization`, `cookie`, `x-api-key`,
//! `x-other`) and the rest being the value's raw bytes.
#![no_main]

use auth_core::Credentials;
use http::{HeaderName, HeaderValue, Request, StatusCode};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 4] = ["authorization", "cookie", "x-api-key", "x-other"];
/// A small cap, so that the fuzzer's short inputs reach the length check.
const SMALL_CAP: usize = 64;

fn request(data: &[u8]) -> Option<Request<()>> {
    let mut lines = data.split(|&b| b == b'\n');
    let query = lines.next().unwrap_or_default();
    let uri = format!("/?{}", std::str::from_utf8(query).ok()?);
    let mut builder = Request::builder().uri(uri);
    for line in lines {
        let (&selector, value) = line.split_first()?;
        let name = HeaderName::from_static(NAMES[usize::from(selector) % NAMES.len()]);
        builder = builder.header(name, HeaderValue::from_bytes(value).ok()?);
    }
    builder.body(()).ok()
}

fn check(sources: &Credentials, cap: usize, request: &Request<()>) {
    match sources.find(request) {
        Ok(credential) => {
            let value = credential.value().as_bytes();
            assert!(!value.is_empty(), "an empty credential was accepted");
            assert!(value.len() <= cap, "a credential over the cap was accepted");
            assert!(
                value.iter().all(|b| (0x21..=0x7e).contains(b)),
                "a credential outside visible ASCII was accepted"
            );
        }
        Err(error) => assert!(
            matches!(
                error.status(),
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
            ),
            "refused with {}",
            error.status()
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(request) = request(data) else {
        return;
    };
    // The documented default cap: 8 KiB.
    let cap = 8 * 1024;
    check(&Credentials::bearer(), cap, &request);
    check(
        &Credentials::header(HeaderName::from_static("x-api-key")),
        cap,
        &request,
    );
    check(&Credentials::cookie("sid"), cap, &request);
    let all = Credentials::bearer()
        .or_header("x-api-key")
        .or_cookie("sid")
        .or_insecure_query("access_token")
        .max_length(SMALL_CAP);
    check(&all, SMALL_CAP, &request);
    // The cookie reader on its own: the same guarantees.
    match auth_core::read_cookie(request.headers(), "sid") {
        Ok(Some(value)) => assert!(
            !value.is_empty()
                && value.len() <= cap
                && value.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "read_cookie accepted a malformed value"
        ),
        Ok(None) => {}
        Err(error) => assert!(matches!(
            error.status(),
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
        )),
    }
});
