//! Post-login `return_to`: only same-origin absolute paths.
//!
//! Browsers are lenient: `//evil.example` and `/\evil.example` are protocol-relative URLs to
//! another host, `\` is read as `/`, tabs and newlines are stripped from URLs, and a target
//! that decodes twice (`/%2F%2Fevil`) may be decoded again by a proxy or a framework. So the
//! check refuses rather than repairs: a path must start with one `/`, hold only visible
//! ASCII, never a backslash, and stay that way after percent-decoding (twice).

/// The longest `return_to` accepted.
const MAX_LENGTH: usize = 2048;

/// `Some(path)` if `raw` is a safe same-origin absolute path, `None` otherwise.
pub(crate) fn validate(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > MAX_LENGTH {
        return None;
    }
    let once = percent_decode(raw)?;
    let twice = percent_decode(&once)?;
    let safe = raw.bytes().all(|b| b.is_ascii_graphic())
        && [raw, once.as_str(), twice.as_str()]
            .iter()
            .all(|layer| is_plain_path(layer));
    safe.then(|| raw.to_owned())
}

/// One `/`, then no second `/` or backslash; no backslash or control character anywhere.
fn is_plain_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(|b| !b.is_ascii_control() && *b != b'\\')
}

/// Percent-decodes `input`; `None` when the bytes are not UTF-8.
fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_same_origin_paths() {
        for ok in ["/", "/dashboard", "/a/b?c=d&e=%20f#frag", "/search?q=a%2Bb"] {
            assert_eq!(validate(ok).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_open_redirect_payloads() {
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "%5C%5Cevil.example",
            "/%252F%252Fevil.example",
            "/%255Cevil.example",
            "/ok\r\nLocation: https://evil.example",
            "/ok%0d%0aSet-Cookie:x=y",
            "/\tevil",
            "/ evil",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "https://evil.example/",
            "http:/evil.example",
            "evil.example",
            "/caf\u{e9}",
            "/%ff",
        ] {
            assert_eq!(validate(bad), None, "{bad:?} was accepted");
        }
        assert_eq!(validate(&format!("/{}", "a".repeat(3000))), None);
    }
}
