//! Keys a query names, checked against the resource's allow-list.

use super::{Field, Kind, MAX_KEY_CHARS, Resource};
use crate::error::{Error, Result};

/// A checked key: a field, or a path into a JSON object field (`tags.team`).
#[derive(Debug, Clone)]
pub(super) struct Key<'r> {
    /// The field the key starts at.
    pub field: &'r Field,
    /// The members below it; empty for the field itself.
    pub path: Vec<String>,
}

impl Key<'_> {
    /// What the key's values are: a path into JSON reads text.
    pub fn kind(&self) -> Kind {
        if self.path.is_empty() {
            self.field.kind
        } else {
            Kind::Text
        }
    }
}

/// A key as shown in an error message: short, and without control characters.
pub(super) fn shown(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(60)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 60 {
        shown.push('…');
    }
    shown
}

/// Finds `key` in `resource`'s allow-list; `label` names the request field in errors.
pub(super) fn resolve<'r>(
    resource: &'r Resource,
    key: &str,
    label: &'static str,
) -> Result<Key<'r>> {
    if key.is_empty() {
        return Err(Error::invalid(label, "a key is empty"));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(Error::invalid(
            label,
            format!(
                "key {} is longer than {MAX_KEY_CHARS} characters",
                shown(key)
            ),
        ));
    }
    let unknown = || Error::invalid(label, format!("unknown key {}", shown(key)));
    let (head, rest) = match key.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (key, None),
    };
    let field = resource
        .fields
        .iter()
        .find(|field| field.key == head)
        .ok_or_else(unknown)?;
    let Some(rest) = rest else {
        return Ok(Key {
            field,
            path: Vec::new(),
        });
    };
    if field.kind != Kind::Json {
        return Err(unknown());
    }
    let mut path = Vec::new();
    for segment in rest.split('.') {
        // A member name is quoted inside a SQLite JSON path, where `"` and `\` cannot be
        // escaped; both engines refuse them so that they agree.
        if segment.is_empty() || segment.contains(['"', '\\']) || segment.contains(char::is_control)
        {
            return Err(Error::invalid(
                label,
                format!(
                    "key {}: a member name must be non-empty, without quotes, backslashes or control characters",
                    shown(key)
                ),
            ));
        }
        path.push(segment.to_owned());
    }
    Ok(Key { field, path })
}
