//! The outbound HTTP client: timeouts, no redirects followed, response bodies capped.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;

/// The default cap on a provider's response body (discovery, token, user endpoints).
pub(crate) const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// Builds the default `reqwest` client: 10 s overall timeout, 5 s to connect, redirects
/// never followed, rustls.
pub(crate) fn default_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("tower-oauth/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why an outbound request failed. Never carries a request or response body.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// Connection refused, timeout, TLS failure.
    Transport(reqwest::Error),
    /// The body exceeded the cap.
    TooLarge,
    /// The status was not 2xx (for JSON fetches).
    Status(http::StatusCode),
    /// The body was not the JSON expected.
    Json,
    /// The request could not be built.
    Request,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) if e.is_timeout() => f.write_str("the request timed out"),
            Self::Transport(_) => f.write_str("the server could not be reached"),
            Self::TooLarge => f.write_str("the response body is too large"),
            Self::Status(status) => write!(f, "unexpected status {status}"),
            Self::Json => f.write_str("the response is not the JSON expected"),
            Self::Request => f.write_str("the request could not be built"),
        }
    }
}

impl std::error::Error for FetchError {}

/// A `reqwest::Client` that caps response bodies; the HTTP client of every outbound call,
/// including the `oauth2` crate's token requests.
#[derive(Debug, Clone)]
pub(crate) struct CappedClient {
    client: reqwest::Client,
    max_body: usize,
}

impl CappedClient {
    pub(crate) fn new(client: reqwest::Client, max_body: usize) -> Self {
        Self { client, max_body }
    }

    pub(crate) fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` and reads at most `max_body` bytes of the answer.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(http::StatusCode, http::HeaderMap, Vec<u8>), FetchError> {
        let mut response = request.send().await.map_err(FetchError::Transport)?;
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(FetchError::Transport)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body))
    }

    /// Sends `request`, requires a 2xx status and parses the JSON body.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, FetchError> {
        let (status, _, body) = self.send(request).await?;
        if !status.is_success() {
            return Err(FetchError::Status(status));
        }
        serde_json::from_slice(&body).map_err(|_| FetchError::Json)
    }
}

impl<'c> AsyncHttpClient<'c> for CappedClient {
    type Error = FetchError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, FetchError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(|_| FetchError::Request)?;
            let builder = reqwest::RequestBuilder::from_parts(self.client.clone(), request);
            let (status, headers, body) = self.send(builder).await?;
            let mut response = http::Response::new(body);
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            Ok(response)
        })
    }
}
