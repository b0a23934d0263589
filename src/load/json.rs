//! Small helpers for reading tokenizer.json values with errors that name the JSON path.

use serde_json::Value;

use crate::error::{Error, Result};

/// The `"type"` of a component object.
pub fn type_of<'a>(value: &'a Value, path: &str) -> Result<&'a str> {
    if !value.is_object() {
        return Err(Error::invalid(format!(
            "{path}: expected an object, found {}",
            kind(value)
        )));
    }
    field_str(value, "type", path)
}

/// A required string field.
pub fn field_str<'a>(value: &'a Value, name: &str, path: &str) -> Result<&'a str> {
    match value.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(Error::invalid(format!(
            "{path}.{name}: expected a string, found {}",
            kind(other)
        ))),
        None => Err(Error::invalid(format!("{path}.{name}: missing field"))),
    }
}

/// An optional string field (absent or null gives `None`).
pub fn opt_str<'a>(value: &'a Value, name: &str, path: &str) -> Result<Option<&'a str>> {
    match value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::invalid(format!(
            "{path}.{name}: expected a string, found {}",
            kind(other)
        ))),
    }
}

/// An optional boolean field with a default for absent or null.
pub fn opt_bool(value: &Value, name: &str, path: &str, default: bool) -> Result<bool> {
    match value.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::invalid(format!(
            "{path}.{name}: expected true or false, found {}",
            kind(other)
        ))),
    }
}

/// A required non-negative integer field that fits a token id.
pub fn field_id(value: &Value, name: &str, path: &str) -> Result<u32> {
    match value.get(name) {
        Some(v) => as_id(v, &format!("{path}.{name}")),
        None => Err(Error::invalid(format!("{path}.{name}: missing field"))),
    }
}

/// A value that must be a token id.
pub fn as_id(value: &Value, path: &str) -> Result<u32> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Error::invalid(format!("{path}: expected a token id, found {value}")))
}

/// A short name of a JSON value's kind, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// An optional non-negative integer field (absent or null gives `None`).
pub fn opt_usize(value: &Value, name: &str, path: &str) -> Result<Option<usize>> {
    match value.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(|n| Some(n as usize)).ok_or_else(|| {
            Error::invalid(format!(
                "{path}.{name}: expected a count, found {}",
                kind(v)
            ))
        }),
    }
}
