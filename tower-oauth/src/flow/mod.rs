//! The login routes: login, callback, logout, back-channel logout, and a tower service
//! dispatching to them.

mod backchannel;
mod callback;
mod login;
mod logout;
pub(crate) mod response;
mod service;
pub(crate) mod transaction;

use std::collections::HashMap;
use std::sync::Arc;

use http::request::Parts;
use http::{Method, StatusCode};

use crate::provider::ProviderState;
use response::Failure;

pub use response::OAuthResponse;
pub use service::{OAuthRoutes, RoutesFuture};

/// The query parameters of `uri`, refusing any name sent twice (ambiguous: an attacker may
/// append a second `state` or `iss` hoping one check reads the first and another the last).
pub(crate) fn query(uri: &http::Uri) -> Option<HashMap<String, String>> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        if params
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return None;
        }
    }
    Some(params)
}

/// The checks the login and callback routes share: GET only, a configured provider, and
/// unambiguous query parameters.
fn get_route<'c>(
    providers: &'c HashMap<String, Arc<ProviderState>>,
    provider: &str,
    request: &Parts,
) -> Result<(&'c Arc<ProviderState>, HashMap<String, String>), Failure> {
    if request.method != Method::GET {
        return Err(Failure::new(StatusCode::METHOD_NOT_ALLOWED, "method"));
    }
    let state = providers
        .get(provider)
        .ok_or(Failure::new(StatusCode::NOT_FOUND, "unknown_provider"))?;
    let params = query(&request.uri).ok_or(Failure::bad_request("duplicate_parameter"))?;
    Ok((state, params))
}

#[cfg(test)]
mod tests {
    #[test]
    fn duplicate_parameters_are_refused() {
        let once: http::Uri = "/cb?state=a&code=b".parse().unwrap();
        assert_eq!(super::query(&once).unwrap()["state"], "a");
        let twice: http::Uri = "/cb?state=a&code=b&state=c".parse().unwrap();
        assert!(super::query(&twice).is_none());
    }
}
