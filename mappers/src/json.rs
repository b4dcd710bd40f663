//! Reading vendor JSON the same way everywhere: EHR payloads and the wearable JSON
//! exports are refused with serde_json's line and column when they do not parse, and
//! positions inside a document are JSON pointers.

use std::borrow::Cow;

use serde_json::Value;

use crate::Error;

/// Parses the whole document; a syntax error or a cut-off file is [`Error::Malformed`]
/// at serde_json's line and column (`line 2, column 10`, reason `invalid JSON: EOF while
/// parsing a value`).
pub(crate) fn parse_document(json: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(json).map_err(|error| {
        let (line, column) = (error.line(), error.column());
        let text = error.to_string();
        let suffix = format!(" at line {line} column {column}");
        let reason = text.strip_suffix(&suffix).unwrap_or(&text);
        Error::Malformed {
            position: format!("line {line}, column {column}"),
            reason: format!("invalid JSON: {reason}"),
        }
    })
}

/// What a JSON value is, for messages: `null`, `boolean`, `number`, `string`, `array`,
/// `object`.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON pointer reference token for `key` (RFC 6901: `~` → `~0`, `/` → `~1`).
pub(crate) fn pointer_token(key: &str) -> Cow<'_, str> {
    if key.contains(['~', '/']) {
        Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(key)
    }
}

/// `base` extended by one JSON-pointer token (`ptr("/data", 3)` is `/data/3`).
pub(crate) fn ptr(base: &str, token: impl std::fmt::Display) -> String {
    format!("{base}/{}", pointer_token(&token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_json_names_line_and_column() {
        let Err(Error::Malformed { position, reason }) = parse_document(b"{\n  \"a\": [1,") else {
            panic!("accepted a cut-off document");
        };
        // `  "a": [1,` is 10 characters.
        assert_eq!(position, "line 2, column 10");
        assert_eq!(reason, "invalid JSON: EOF while parsing a value");
    }

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
        assert_eq!(pointer_token("dailies"), "dailies");
    }
}
