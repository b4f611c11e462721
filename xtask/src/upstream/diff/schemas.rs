//! Two schemas compared, and each difference judged by the direction it travels and what the client uses.

use serde_json::Value;

use super::{clip, Ctx, Direction, Severity};
use crate::upstream::shape::{self, Delta, Found, Schema};

impl<'a> Ctx<'a, '_> {
    pub(super) fn schemas(
        &mut self,
        old: &'a Value,
        new: &'a Value,
        ours: Option<&'a Value>,
        direction: Direction,
        place: &str,
        kind: &'static str,
    ) -> Result<(), String> {
        let old_schema = Schema {
            doc: self.old_doc,
            value: old,
        };
        let new_schema = Schema {
            doc: self.new_doc,
            value: new,
        };
        let found = shape::compare(
            old_schema,
            new_schema,
            ours.map(|value| Schema {
                doc: self.client.spec(),
                value,
            }),
        )?;
        if found.is_empty() {
            if let (Some(a), Some(b)) = (shape::name_of(old_schema), shape::name_of(new_schema)) {
                if a != b {
                    self.renames.entry((a, b)).or_default().push(place.to_owned());
                }
            }
        }
        let place = if place.starts_with("response ") {
            format!("{place} body")
        } else {
            place.to_owned()
        };
        for item in &found {
            self.report(item, direction, &place, kind);
        }
        Ok(())
    }

    pub(super) fn report(&mut self, found: &Found, direction: Direction, place: &str, kind: &'static str) {
        let (severity, why) = judge(found, direction);
        let at = if found.at.is_empty() {
            String::new()
        } else {
            format!(" `{}`", found.at)
        };
        let what = match &found.delta {
            Delta::Retyped { from, to } => format!("{at} retyped {from} → {to}"),
            Delta::FormatAdded(format) => format!("{at} now has format {format}"),
            Delta::FormatRemoved(format) => format!("{at} no longer has format {format}"),
            Delta::NullableAdded => format!("{at} may now be null"),
            Delta::NullableRemoved => format!("{at} may no longer be null"),
            Delta::DeprecatedAdded => format!("{at} is now deprecated"),
            Delta::Constraints { from, to } => format!("{at} constraints {} → {}", clip(from), clip(to)),
            Delta::PropertyAdded { required: true } => format!(" new required property `{}`", found.at),
            Delta::PropertyAdded { required: false } => format!(" new optional property `{}`", found.at),
            Delta::PropertyRemoved => format!(" property `{}` removed", found.at),
            Delta::Renamed { to } => format!(" property `{}` renamed to `{to}` (same shape)", found.at),
            Delta::BecameRequired => format!(" property `{}` is now required", found.at),
            Delta::BecameOptional => format!(" property `{}` is now optional", found.at),
        };
        let kind = if matches!(found.delta, Delta::DeprecatedAdded) {
            "deprecation"
        } else {
            kind
        };
        self.push(severity, kind, format!("{place}:{what}{why}"));
    }
}

/// How a schema difference affects the client, and the reason shown with it.
fn judge(found: &Found, direction: Direction) -> (Severity, &'static str) {
    use Severity::{Breaking, Ok, Warning};
    let usage = found.usage;
    match direction {
        Direction::Request => match &found.delta {
            Delta::Retyped { .. } | Delta::PropertyRemoved | Delta::Renamed { .. } if usage.used => {
                (Breaking, "; the client sends it")
            }
            Delta::PropertyAdded { required: true } | Delta::BecameRequired if !(usage.used && usage.required) => {
                (Breaking, "; the client does not always send it")
            }
            Delta::FormatAdded(_) | Delta::Constraints { .. } | Delta::DeprecatedAdded if usage.used => {
                (Warning, "; the client sends it")
            }
            _ => (Ok, ""),
        },
        Direction::Success | Direction::Error => match &found.delta {
            Delta::Retyped { .. } if usage.used => (Breaking, "; the client reads it"),
            Delta::NullableAdded if usage.used && !usage.nullable => {
                (Breaking, "; the client's spec does not allow null there")
            }
            Delta::PropertyRemoved | Delta::Renamed { .. }
                if usage.used && (usage.required || direction == Direction::Error) =>
            {
                (Breaking, "; the client reads it")
            }
            Delta::PropertyRemoved | Delta::Renamed { .. } if usage.used => {
                (Warning, "; the client reads it when present")
            }
            Delta::BecameOptional if usage.used && usage.required => (Breaking, "; the client relies on it"),
            Delta::FormatAdded(_) | Delta::FormatRemoved(_) | Delta::DeprecatedAdded if usage.used => {
                (Warning, "; the client reads it")
            }
            _ => (Ok, ""),
        },
    }
}
