//! Downloading a published document: https anywhere, plain http only to a loopback address (so tests can serve a
//! document from 127.0.0.1), with a size cap, a total deadline and redirects checked hop by hop.

use std::net::IpAddr;
use std::time::Duration;

use ureq::http::{StatusCode, Uri};

/// How much may be read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest document accepted, in bytes (a file or a download).
    pub max_bytes: u64,
    /// The deadline for a whole download, redirects included.
    pub timeout: Duration,
}

impl Default for Limits {
    /// 32 MiB (eToro's whole published document is about 1 MiB) and 60 seconds.
    fn default() -> Self {
        Limits {
            max_bytes: 32 * 1024 * 1024,
            timeout: Duration::from_secs(60),
        }
    }
}

/// How many redirects are followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// eToro's CDN refuses some generic client user agents; a descriptive one passes.
const USER_AGENT: &str = concat!(
    "etoro-client-xtask/",
    env!("CARGO_PKG_VERSION"),
    " (cargo xtask upstream)"
);

/// Whether `source` names a URL rather than a file.
pub fn is_url(source: &str) -> bool {
    source.contains("://")
}

/// The URL as it may be shown: the query string is left out, since signed URLs carry tokens there.
pub fn display_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

/// Checks `url` against the rules: https, or http to a literal loopback address; no credentials in the URL.
pub fn check_url(url: &str) -> Result<Uri, String> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default();
    if scheme != "https" && scheme != "http" {
        return Err(format!(
            "the URL scheme {scheme:?} is not supported: use https (or http to a loopback address)"
        ));
    }
    let uri: Uri = url.parse().map_err(|err| format!("not a valid URL: {err}"))?;
    let scheme = uri.scheme_str().ok_or("not an absolute URL (it has no scheme)")?;
    let authority = uri.authority().ok_or("the URL has no host")?;
    if authority.as_str().contains('@') {
        return Err("credentials in the URL are not accepted".to_owned());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(uri),
        "http" => {
            let host = authority.host().trim_start_matches('[').trim_end_matches(']');
            match host.parse::<IpAddr>() {
                Ok(ip) if ip.is_loopback() => Ok(uri),
                _ => Err(format!(
                    "plain http is allowed only to a literal loopback address (127.0.0.0/8 or [::1]), not to \
                     {host:?}: use https"
                )),
            }
        }
        other => Err(format!(
            "the URL scheme {other:?} is not supported: use https (or http to a loopback address)"
        )),
    }
}

/// Downloads `url` within `limits`; the error says why (without the query string).
pub fn fetch(url: &str, limits: &Limits) -> Result<Vec<u8>, String> {
    let mut uri = check_url(url)?;
    let loopback_only = uri.scheme_str() == Some("http");
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .http_status_as_error(false)
        // Redirects are followed below, so that each hop is checked against the same rules.
        .max_redirects(0)
        .user_agent(USER_AGENT);
    if loopback_only {
        // A proxy from the environment must not see (or break) a request to this machine.
        config = config.proxy(None);
    }
    let agent: ureq::Agent = config.build().into();

    for _ in 0..=MAX_REDIRECTS {
        let mut response = agent.get(&uri).call().map_err(|err| describe(&err, limits))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| format!("the server answered {status} without a usable Location header"))?;
            let next = join(&uri, location)?;
            let checked = check_url(&next.to_string())
                .map_err(|reason| format!("refused a redirect to {}: {reason}", display_url(&next.to_string())))?;
            if uri.scheme_str() == Some("https") && checked.scheme_str() != Some("https") {
                return Err(format!(
                    "refused a redirect from https to {}",
                    display_url(&next.to_string())
                ));
            }
            uri = checked;
            continue;
        }
        if status != StatusCode::OK {
            return Err(format!("the server answered {status}, not 200 OK"));
        }
        if let Some(length) = response.body().content_length() {
            if length > limits.max_bytes {
                return Err(too_large(limits));
            }
        }
        return response
            .body_mut()
            .with_config()
            .limit(limits.max_bytes)
            .read_to_vec()
            .map_err(|err| describe(&err, limits));
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// The target of a `Location` header: an absolute URL, or an absolute path on the same host.
fn join(base: &Uri, location: &str) -> Result<Uri, String> {
    if location.starts_with('/') && !location.starts_with("//") {
        let scheme = base.scheme_str().unwrap_or("https");
        let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
        format!("{scheme}://{authority}{location}")
            .parse()
            .map_err(|err| format!("the redirect target is not a valid URL: {err}"))
    } else {
        location
            .parse()
            .map_err(|err| format!("the redirect target is not a valid URL: {err}"))
    }
}

fn too_large(limits: &Limits) -> String {
    format!(
        "the document is larger than the {} MiB limit",
        limits.max_bytes / (1024 * 1024)
    )
}

fn describe(err: &ureq::Error, limits: &Limits) -> String {
    match err {
        ureq::Error::Timeout(_) => format!("no complete answer within {} s", limits.timeout.as_secs_f64()),
        ureq::Error::BodyExceedsLimit(_) => too_large(limits),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_and_http_only_to_loopback() {
        for ok in [
            "https://example.com/openapi.json",
            "http://127.0.0.1:8080/x",
            "http://127.9.9.9/x",
            "http://[::1]:1/x",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("http://example.com/openapi.json", "loopback"),
            ("http://localhost/x", "loopback"),
            ("http://10.0.0.1/x", "loopback"),
            ("ftp://example.com/x", "not supported"),
            ("file:///etc/passwd", "not supported"),
            ("https:///no-host", "not a valid URL"),
            ("https://user:secret@example.com/x", "credentials"),
            ("not a url", "not supported"),
        ] {
            let err = check_url(bad).unwrap_err();
            assert!(err.contains(reason), "{bad}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn query_strings_are_not_shown() {
        assert_eq!(display_url("https://h/x?sig=abc"), "https://h/x?…");
        assert_eq!(display_url("https://h/x"), "https://h/x");
    }

    #[test]
    fn relative_redirects_stay_on_the_host() {
        let base: Uri = "http://127.0.0.1:9/a/b".parse().unwrap();
        assert_eq!(join(&base, "/c").unwrap().to_string(), "http://127.0.0.1:9/c");
        assert_eq!(
            join(&base, "https://example.com/d").unwrap().to_string(),
            "https://example.com/d"
        );
    }
}
