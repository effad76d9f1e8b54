//! Reading an RFC 7662 answer: `active`, then the members mapped onto a [`Principal`],
//! every one type-checked. A malformed answer is the endpoint's fault (503), a token the
//! answer refuses is the caller's (401).

use std::time::{Duration, SystemTime};

use auth_core::{AuthError, AuthMethod, Principal};
use serde_json::{Map, Value};

use crate::identity::Introspected;

/// The last second of 9999: a `NumericDate` beyond it is malformed, not "never expires".
const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// What an answer says about the token.
#[derive(Debug)]
pub(crate) enum Answer {
    /// `active: true` and every check passed.
    Active(Introspected),
    /// `active: false`.
    Inactive,
}

/// The checks an answer must pass, from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
}

/// Why an answer was not usable.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The answer is not an RFC 7662 answer (a member of the wrong type, `active` missing).
    Malformed(&'static str),
    /// The answer is well formed and refuses the token.
    Token(AuthError),
}

/// Reads the JSON body of an answer, at `now`.
pub(crate) fn read(body: &[u8], rules: &Rules, now: SystemTime) -> Result<Answer, Refusal> {
    let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) else {
        return Err(Refusal::Malformed("the answer is not a JSON object"));
    };
    read_members(members, rules, now)
}

/// Reads the members of an answer (the JSON body, or a JWT answer's `token_introspection`).
pub(crate) fn read_members(
    members: Map<String, Value>,
    rules: &Rules,
    now: SystemTime,
) -> Result<Answer, Refusal> {
    match members.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Answer::Inactive),
        _ => return Err(Refusal::Malformed("`active` is missing or not a boolean")),
    }
    let exp = numeric_date(&members, "exp")?;
    let nbf = numeric_date(&members, "nbf")?;
    let iat = numeric_date(&members, "iat")?;
    let iss = string(&members, "iss")?;
    let jti = string(&members, "jti")?.map(str::to_owned);
    let sub = string(&members, "sub")?.map(str::to_owned);
    let client_id = string(&members, "client_id")?.map(str::to_owned);
    let scope = string(&members, "scope")?;
    let token_type = string(&members, "token_type")?;
    let audiences = audiences(&members)?;

    if exp.is_some_and(|exp| exp <= now) {
        return Err(token("the token has expired", "expired"));
    }
    if nbf.is_some_and(|nbf| nbf > now) {
        return Err(token("the token is not valid yet", "not_yet_valid"));
    }
    if iss.is_some_and(|iss| iss != rules.issuer) {
        return Err(token("the token is from another issuer", "issuer"));
    }
    if !rules.audiences.is_empty() && !audiences.iter().any(|a| rules.audiences.contains(a)) {
        return Err(token(
            "the token is not meant for this audience",
            "audience",
        ));
    }
    // RFC 9449 §6.2: a DPoP-bound token is introspected as `token_type: DPoP`; its binding
    // (`cnf.jkt`) is enforced by the authenticator.
    if token_type
        .is_some_and(|t| !t.eq_ignore_ascii_case("bearer") && !t.eq_ignore_ascii_case("dpop"))
    {
        return Err(token(
            "the token is not a bearer access token",
            "token_type",
        ));
    }
    if let Some(cnf) = members.get("cnf") {
        let jkt_ok = match cnf.get("jkt") {
            None => cnf.is_object(),
            Some(jkt) => jkt.as_str().is_some_and(|jkt| !jkt.is_empty()),
        };
        if !jkt_ok {
            return Err(Refusal::Malformed("`cnf.jkt` is not a non-empty string"));
        }
    }
    let Some(subject) = sub.clone().or_else(|| client_id.clone()) else {
        return Err(token(
            "the token names neither a subject nor a client",
            "no_subject",
        ));
    };

    let mut principal = Principal::new(subject, AuthMethod::Introspection)
        .with_scopes(scope.unwrap_or_default().split_ascii_whitespace());
    if let Some(exp) = exp {
        principal = principal.with_expires_at(exp);
    }
    Ok(Answer::Active(Introspected::new(
        principal, sub, client_id, jti, iat, members,
    )))
}

fn token(description: &'static str, reason: &'static str) -> Refusal {
    Refusal::Token(AuthError::invalid_credential(description).with_reason(reason))
}

fn string<'a>(
    members: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, Refusal> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Refusal::Malformed(match name {
            "iss" => "`iss` is not a string",
            "sub" => "`sub` is not a string",
            "client_id" => "`client_id` is not a string",
            "scope" => "`scope` is not a string",
            "jti" => "`jti` is not a string",
            _ => "`token_type` is not a string",
        })),
    }
}

fn numeric_date(
    members: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<SystemTime>, Refusal> {
    match members.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(secs) if secs <= MAX_NUMERIC_DATE => {
                Ok(Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)))
            }
            _ => Err(Refusal::Malformed(match name {
                "exp" => "`exp` is not a NumericDate",
                "nbf" => "`nbf` is not a NumericDate",
                _ => "`iat` is not a NumericDate",
            })),
        },
        Some(_) => Err(Refusal::Malformed(match name {
            "exp" => "`exp` is not a number",
            "nbf" => "`nbf` is not a number",
            _ => "`iat` is not a number",
        })),
    }
}

fn audiences(members: &Map<String, Value>) -> Result<Vec<String>, Refusal> {
    const WRONG: Refusal = Refusal::Malformed("`aud` is neither a string nor an array of strings");
    match members.get("aud") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(aud)) => Ok(vec![aud.clone()]),
        Some(Value::Array(auds)) => auds
            .iter()
            .map(|a| a.as_str().map(str::to_owned).ok_or(WRONG))
            .collect(),
        Some(_) => Err(WRONG),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::Identity;

    fn rules(audiences: &[&str]) -> Rules {
        Rules {
            issuer: "https://as.example".into(),
            audiences: audiences.iter().map(|&a| a.to_owned()).collect(),
        }
    }

    const NOW: u64 = 1_800_000_000;

    fn at_now(body: &str, rules: &Rules) -> Result<Answer, Refusal> {
        read(
            body.as_bytes(),
            rules,
            SystemTime::UNIX_EPOCH + Duration::from_secs(NOW),
        )
    }

    fn malformed(body: &str) -> &'static str {
        match at_now(body, &rules(&[])) {
            Err(Refusal::Malformed(why)) => why,
            other => panic!("{body}: expected a malformed answer, got {other:?}"),
        }
    }

    fn refused(body: &str, rules: &Rules) -> &'static str {
        match at_now(body, rules) {
            Err(Refusal::Token(e)) => {
                assert_eq!(e.status(), 401);
                e.reason()
            }
            other => panic!("{body}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_active_answer_maps_onto_the_principal() {
        let body = format!(
            r#"{{"active":true,"sub":"alice","client_id":"app","scope":"read  write",
                "exp":{},"iss":"https://as.example","aud":["x","api"],"username":"al"}}"#,
            NOW + 60
        );
        let Ok(Answer::Active(id)) = at_now(&body, &rules(&["api"])) else {
            panic!("refused")
        };
        assert_eq!(id.principal().subject(), "alice");
        assert_eq!(id.principal().method().as_str(), "introspection");
        assert_eq!(id.scopes(), ["read", "write"]);
        assert_eq!(id.client_id(), Some("app"));
        assert_eq!(
            id.expires_at(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW + 60))
        );
        assert_eq!(id.member("username"), Some(&Value::from("al")));
    }

    #[test]
    fn a_client_credentials_token_is_named_after_its_client() {
        let Ok(Answer::Active(id)) = at_now(r#"{"active":true,"client_id":"m2m"}"#, &rules(&[]))
        else {
            panic!("refused")
        };
        assert_eq!(id.principal().subject(), "m2m");
        assert_eq!(id.sub(), None);
        assert_eq!(
            refused(r#"{"active":true,"scope":"x"}"#, &rules(&[])),
            "no_subject"
        );
    }

    #[test]
    fn a_dpop_bound_answer_names_its_key_and_a_malformed_cnf_is_malformed() {
        let Ok(Answer::Active(id)) = at_now(
            r#"{"active":true,"sub":"a","token_type":"DPoP","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}"#,
            &rules(&[]),
        ) else {
            panic!("refused")
        };
        assert_eq!(
            id.dpop_thumbprint(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
        // A certificate binding (RFC 8705) only: not bound to a DPoP key.
        let Ok(Answer::Active(id)) = at_now(
            r#"{"active":true,"sub":"a","cnf":{"x5t#S256":"abc"}}"#,
            &rules(&[]),
        ) else {
            panic!("refused")
        };
        assert_eq!(id.dpop_thumbprint(), None);
        for cnf in [r#""jkt""#, r#"{"jkt":7}"#, r#"{"jkt":""}"#, "null"] {
            assert_eq!(
                malformed(&format!(r#"{{"active":true,"sub":"a","cnf":{cnf}}}"#)),
                "`cnf.jkt` is not a non-empty string",
                "{cnf}"
            );
        }
    }

    #[test]
    fn inactive_is_inactive_whatever_else_it_says() {
        assert!(matches!(
            at_now(r#"{"active":false,"sub":"alice"}"#, &rules(&[])),
            Ok(Answer::Inactive)
        ));
    }

    #[test]
    fn time_issuer_audience_and_type_are_checked() {
        let (any, api) = (rules(&[]), rules(&["api"]));
        let exp_past = format!(r#"{{"active":true,"sub":"a","exp":{NOW}}}"#);
        let nbf_future = format!(r#"{{"active":true,"sub":"a","nbf":{}}}"#, NOW + 10);
        for (body, rules, reason) in [
            (exp_past.as_str(), &any, "expired"),
            (nbf_future.as_str(), &any, "not_yet_valid"),
            (
                r#"{"active":true,"sub":"a","iss":"https://evil.example"}"#,
                &any,
                "issuer",
            ),
            (
                r#"{"active":true,"sub":"a","token_type":"refresh_token"}"#,
                &any,
                "token_type",
            ),
            (r#"{"active":true,"sub":"a"}"#, &api, "audience"),
            (
                r#"{"active":true,"sub":"a","aud":"other"}"#,
                &api,
                "audience",
            ),
        ] {
            assert_eq!(refused(body, rules), reason, "{body}");
        }
        assert!(matches!(
            at_now(r#"{"active":true,"sub":"a","aud":"api"}"#, &api),
            Ok(Answer::Active(_))
        ));
    }

    #[test]
    fn jti_and_iat_are_read_when_present() {
        let body = format!(r#"{{"active":true,"sub":"a","jti":"j-1","iat":{NOW}}}"#);
        let Ok(Answer::Active(id)) = at_now(&body, &rules(&[])) else {
            panic!("refused")
        };
        assert_eq!(id.jti(), Some("j-1"));
        assert_eq!(
            id.issued_at(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW))
        );
    }

    #[test]
    fn hostile_members_are_malformed_answers() {
        for (body, why) in [
            ("not json", "the answer is not a JSON object"),
            ("[true]", "the answer is not a JSON object"),
            (r#"{"sub":"a"}"#, "`active` is missing or not a boolean"),
            (
                r#"{"active":"true"}"#,
                "`active` is missing or not a boolean",
            ),
            (r#"{"active":1}"#, "`active` is missing or not a boolean"),
            (r#"{"active":true,"exp":"soon"}"#, "`exp` is not a number"),
            (
                r#"{"active":true,"exp":1e300}"#,
                "`exp` is not a NumericDate",
            ),
            (r#"{"active":true,"exp":-5}"#, "`exp` is not a NumericDate"),
            (
                r#"{"active":true,"exp":18446744073709551615}"#,
                "`exp` is not a NumericDate",
            ),
            (r#"{"active":true,"nbf":[]}"#, "`nbf` is not a number"),
            (r#"{"active":true,"iat":"now"}"#, "`iat` is not a number"),
            (r#"{"active":true,"iat":-1}"#, "`iat` is not a NumericDate"),
            (r#"{"active":true,"sub":7}"#, "`sub` is not a string"),
            (r#"{"active":true,"jti":7}"#, "`jti` is not a string"),
            (
                r#"{"active":true,"scope":["a"]}"#,
                "`scope` is not a string",
            ),
            (
                r#"{"active":true,"aud":[1]}"#,
                "`aud` is neither a string nor an array of strings",
            ),
        ] {
            assert_eq!(malformed(body), why, "{body}");
        }
    }
}
