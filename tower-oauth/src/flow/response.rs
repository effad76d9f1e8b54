//! The responses of the login routes: redirects and the generic error page.

use bytes::Bytes;
use cookie::Cookie;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, REFERRER_POLICY, SET_COOKIE};
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// The response type of the login routes.
pub type OAuthResponse = Response<Full<Bytes>>;

fn base(status: StatusCode, cookies: &[Cookie<'static>]) -> OAuthResponse {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(SET_COOKIE, value);
        }
    }
    response
}

/// 303 See Other to `location`, with `Cache-Control: no-store` and
/// `Referrer-Policy: no-referrer`. `location` is a URL we built or a validated path.
pub(crate) fn see_other(location: &str, cookies: &[Cookie<'static>]) -> OAuthResponse {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = base(StatusCode::SEE_OTHER, cookies);
            response.headers_mut().insert(LOCATION, value);
            response
        }
        Err(_) => Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "bad_location").page(cookies),
    }
}

/// Why a login route refused: a status, a reason code for logs and metrics, and nothing a
/// client could learn from beyond the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) reason: &'static str,
}

impl From<auth_core::StoreError> for Failure {
    /// 503: the store's cause is logged by `AuthError::from`, never shown.
    fn from(error: auth_core::StoreError) -> Self {
        Self::new(
            auth_core::AuthError::from(error).status(),
            "store_unavailable",
        )
    }
}

impl Failure {
    pub(crate) fn new(status: StatusCode, reason: &'static str) -> Self {
        Self { status, reason }
    }

    pub(crate) fn bad_request(reason: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// The generic, escaped HTML error page.
    pub(crate) fn page(self, cookies: &[Cookie<'static>]) -> OAuthResponse {
        let message = match self.status {
            StatusCode::BAD_REQUEST => {
                "The sign-in request was not valid or has expired. Please try again."
            }
            StatusCode::FORBIDDEN => "Sign-in was refused.",
            StatusCode::NOT_FOUND => "There is no such sign-in provider.",
            StatusCode::METHOD_NOT_ALLOWED => "This method is not allowed here.",
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => {
                "The sign-in provider could not be reached. Please try again later."
            }
            _ => "Sign-in failed.",
        };
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
             <body><h1>Sign-in failed</h1><p>{}</p><p>Reference: <code>{}</code></p><p><a href=\"/\">Back</a></p></body></html>\n",
            escape(message),
            escape(self.reason),
        );
        let mut response = base(self.status, cookies);
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response.headers_mut().insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'"),
        );
        *response.body_mut() = Full::new(Bytes::from(body));
        response
    }
}

/// HTML-escapes `text` for element content and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn redirects_are_not_cached_and_leak_no_referrer() {
        let r = see_other("/home", &[]);
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()[LOCATION], "/home");
        assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[REFERRER_POLICY], "no-referrer");
        let page = Failure::bad_request("replayed_state").page(&[]);
        assert_eq!(page.status(), 400);
        assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    }
}
