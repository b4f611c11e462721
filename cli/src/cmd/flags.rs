//! Input errors of `update`, `create` and `rotate` in the user's terms: the flag they typed (`--ip (the 2nd one)`), not the
//! API field the library names (`ipsWhitelist[1]`).

use etoro_client::InvalidInput;

/// The flag behind an API field, for the commands that take flags.
fn flag_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "userTokenName" => "--name",
        "scopeNames" => "--scope",
        "scopeIds" => "--scope-id",
        "ipsWhitelist" => "--ip",
        "expiresAt" => "--expires-at/--expires-in",
        "agentPortfolioId" => "--portfolio",
        "userTokenId" => "--token",
        _ => return None,
    })
}

/// "invalid --ip (the 2nd one): RULE (nothing was sent)", or the library's own message for a field without a flag.
pub fn in_flag_terms(invalid: &InvalidInput) -> String {
    let (field, index) = match invalid.field.split_once('[') {
        Some((field, rest)) => (field, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (invalid.field.as_str(), None),
    };
    let Some(flag) = flag_of(field) else {
        return invalid.to_string();
    };
    let which = index
        .map(|index| format!(" (the {} one)", ordinal(index + 1)))
        .unwrap_or_default();
    format!("invalid {flag}{which}: {} (nothing was sent)", invalid.rule)
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(field: &str) -> String {
        in_flag_terms(&InvalidInput {
            field: field.to_owned(),
            rule: "RULE".to_owned(),
        })
    }

    #[test]
    fn fields_are_named_by_their_flag() {
        assert_eq!(named("userTokenName"), "invalid --name: RULE (nothing was sent)");
        assert_eq!(
            named("ipsWhitelist[1]"),
            "invalid --ip (the 2nd one): RULE (nothing was sent)"
        );
        assert_eq!(
            named("scopeNames[12]"),
            "invalid --scope (the 13th one): RULE (nothing was sent)"
        );
        assert_eq!(
            named("scopeNames[20]"),
            "invalid --scope (the 21st one): RULE (nothing was sent)"
        );
        assert_eq!(
            named("expiresAt"),
            "invalid --expires-at/--expires-in: RULE (nothing was sent)"
        );
        assert!(named("other").starts_with("invalid other: RULE"));
    }
}
