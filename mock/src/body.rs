//! The request bodies, read into the mock's own small types once [`crate::spec::check_body`] has passed them.
//!
//! The schema has already fixed the shape (an object, no unknown field, lists of the right item types, IPv4 and
//! date-time formats); what is left here is what JSON Schema cannot say: `format: int32` on an integer, and a
//! date-time chrono can hold. Both are 400s naming the field.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::store::{Changes, NewToken};

/// An update body (v1 or v2; v2's schema leaves `scopeIds` out).
pub(crate) type Update = Changes;

/// Reads an update body.
pub(crate) fn update(body: Value) -> Result<Update, ApiError> {
    let mut fields = object(body)?;
    Ok(Changes {
        scope_ids: take(&mut fields, "scopeIds", int32s)?,
        scope_names: take(&mut fields, "scopeNames", strings)?,
        ips_whitelist: take(&mut fields, "ipsWhitelist", ips)?,
        expires_at: take(&mut fields, "expiresAt", instant)?,
    })
}

/// Reads a create body.
pub(crate) fn create(body: Value) -> Result<NewToken, ApiError> {
    let mut fields = object(body)?;
    let name = fields
        .remove("userTokenName")
        .and_then(|v| match v {
            Value::String(name) => Some(name),
            _ => None,
        })
        .ok_or_else(|| ApiError::validation("userTokenName is required (required)"))?;
    let scope_names = take(&mut fields, "scopeNames", strings)?
        .ok_or_else(|| ApiError::validation("scopeNames is required (required)"))?;
    Ok(NewToken {
        name,
        scope_names,
        ips_whitelist: take(&mut fields, "ipsWhitelist", ips)?,
        expires_at: take(&mut fields, "expiresAt", instant)?,
    })
}

/// Takes the field `name` out of `fields` and reads it with `read`, which names the field in its error.
fn take<T>(
    fields: &mut Map<String, Value>,
    name: &str,
    read: fn(&str, Value) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    fields.remove(name).map(|value| read(name, value)).transpose()
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(fields) => Ok(fields),
        _ => Err(ApiError::validation("the body must be a JSON object (type)")),
    }
}

fn items(field: &str, value: Value) -> Result<Vec<Value>, ApiError> {
    match value {
        Value::Array(items) => Ok(items),
        _ => Err(ApiError::validation(format!("{field} must be an array (type)"))),
    }
}

fn int32s(field: &str, value: Value) -> Result<Vec<i32>, ApiError> {
    items(field, value)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| {
                ApiError::validation(format!("{field}/{i}: {item} is not a 32-bit integer (format: int32)"))
            })
        })
        .collect()
}

fn strings(field: &str, value: Value) -> Result<Vec<String>, ApiError> {
    items(field, value)?
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s),
            _ => Err(ApiError::validation(format!("{field}/{i} must be a string (type)"))),
        })
        .collect()
}

fn ips(field: &str, value: Value) -> Result<Vec<Ipv4Addr>, ApiError> {
    items(field, value)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| ApiError::validation(format!("{field}/{i} is not an IPv4 address (format: ipv4)")))
        })
        .collect()
}

fn instant(field: &str, value: Value) -> Result<DateTime<Utc>, ApiError> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| ApiError::validation(format!("{field} is not an RFC 3339 date-time (format: date-time)")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_every_field() {
        let read = update(json!({
            "scopeIds": [200, -5],
            "scopeNames": ["a"],
            "ipsWhitelist": ["10.0.0.1"],
            "expiresAt": "2030-01-01T02:00:00+02:00",
        }))
        .unwrap();
        assert_eq!(read.scope_ids, Some(vec![200, -5]));
        assert_eq!(read.scope_names, Some(vec!["a".to_owned()]));
        assert_eq!(read.ips_whitelist, Some(vec![Ipv4Addr::new(10, 0, 0, 1)]));
        assert_eq!(read.expires_at, Some("2030-01-01T00:00:00Z".parse().unwrap()));
    }

    #[test]
    fn what_the_schema_cannot_say_is_still_refused() {
        for (body, says) in [
            (
                json!({"scopeIds": [2_147_483_648_i64]}),
                "scopeIds/0: 2147483648 is not a 32-bit integer",
            ),
            (json!({"scopeIds": [1.5]}), "scopeIds/0: 1.5 is not a 32-bit integer"),
            (
                json!({"expiresAt": "2030-01-01"}),
                "expiresAt is not an RFC 3339 date-time",
            ),
            (
                json!({"ipsWhitelist": ["1.2.3.04"]}),
                "ipsWhitelist/0 is not an IPv4 address",
            ),
            (json!([]), "the body must be a JSON object"),
        ] {
            let err = update(body.clone()).unwrap_err();
            assert_eq!(err.code, "ValidationFailed");
            assert!(err.message.starts_with(says), "{body}: {}", err.message);
        }
    }

    #[test]
    fn create_needs_a_name_and_scopes() {
        let read = create(json!({"userTokenName": "n", "scopeNames": ["a"]})).unwrap();
        assert_eq!(
            (read.name.as_str(), read.scope_names.len(), read.expires_at),
            ("n", 1, None)
        );
        assert!(create(json!({"scopeNames": ["a"]})).is_err());
        assert!(create(json!({"userTokenName": "n"})).is_err());
    }
}
