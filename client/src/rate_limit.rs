//! eToro's quota as its answers report it: the `RateLimit-*` headers, and `Retry-After`.
//!
//! Every operation draws from one pool per user key (60 requests per 60 seconds, shared with every other eToro
//! endpoint that has no dedicated limit). Answers carry `RateLimit-Limit`, `RateLimit-Remaining`,
//! `RateLimit-Reset` (seconds until the window ends) and `RateLimit-Policy` (`60;w=60`); a 429 adds `Retry-After`.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The quota state one answer reported. Each field is `None` when its header was missing or unreadable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// `RateLimit-Limit`: the size of the pool (eToro: 60).
    pub limit: Option<u32>,
    /// `RateLimit-Remaining`: requests left in the current window.
    pub remaining: Option<u32>,
    /// `RateLimit-Reset`: time until the window ends and the pool is whole again.
    pub reset: Option<Duration>,
    /// `RateLimit-Policy`, as sent (e.g. `60;w=60`).
    pub policy: Option<String>,
}

impl RateLimit {
    /// Reads the `RateLimit-*` headers; `None` when the answer carried none of them.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimit> {
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
        let number = |name: &str| text(name).and_then(|value| value.parse::<u32>().ok());
        let state = RateLimit {
            limit: number("ratelimit-limit"),
            remaining: number("ratelimit-remaining"),
            reset: text("ratelimit-reset")
                .and_then(|value| value.parse::<u64>().ok())
                .map(Duration::from_secs),
            policy: text("ratelimit-policy").map(str::to_owned),
        };
        (state != RateLimit::default()).then_some(state)
    }
}

/// Reads `Retry-After`: delay-seconds or an HTTP-date in any of the three forms RFC 9110 §10.2.3 and §5.6.7 say
/// to accept (IMF-fixdate, RFC 850, asctime). A date in the past means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_all_three_date_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 60 ", now), Some(Duration::from_secs(60)));
        for date in [
            "Sun, 06 Nov 1994 08:49:47 GMT",  // IMF-fixdate
            "Sunday, 06-Nov-94 08:49:47 GMT", // RFC 850
            "Sun Nov  6 08:49:47 1994",       // asctime
        ] {
            assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(10)), "{date}");
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["soon", "-3", "1.5", "", "Sun, 32 Nov 1994 08:49:47 GMT"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn rate_limit_headers_are_read_when_present() {
        let mut headers = HeaderMap::new();
        assert_eq!(RateLimit::from_headers(&headers), None);
        headers.insert("RateLimit-Limit", HeaderValue::from_static("60"));
        headers.insert("RateLimit-Remaining", HeaderValue::from_static("0"));
        headers.insert("RateLimit-Reset", HeaderValue::from_static("42"));
        headers.insert("RateLimit-Policy", HeaderValue::from_static("60;w=60"));
        assert_eq!(
            RateLimit::from_headers(&headers),
            Some(RateLimit {
                limit: Some(60),
                remaining: Some(0),
                reset: Some(Duration::from_secs(42)),
                policy: Some("60;w=60".to_owned()),
            })
        );
        headers.insert("RateLimit-Remaining", HeaderValue::from_static("lots"));
        assert_eq!(RateLimit::from_headers(&headers).unwrap().remaining, None);
    }
}
