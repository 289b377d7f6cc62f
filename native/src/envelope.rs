//! The C ABI's answer format: `{"ok":true,"value":…}` or
//! `{"ok":false,"error":{"code":"…","message":"…"}}` (docs/bindings.md, "The C ABI").

use crate::error::CoreError;

/// Wraps a JSON value (already serialised) in a success envelope, without re-parsing it.
pub fn ok(value_json: &str) -> String {
    let mut out = String::with_capacity(value_json.len() + 20);
    out.push_str(r#"{"ok":true,"value":"#);
    out.push_str(value_json);
    out.push('}');
    out
}

pub fn error(error: &CoreError) -> String {
    format!(r#"{{"ok":false,"error":{}}}"#, error.to_json())
}

pub fn result(result: Result<String, CoreError>) -> String {
    match result {
        Ok(value) => ok(&value),
        Err(e) => error(&e),
    }
}

/// A result under its ticket, for the completion queue: `{"ticket":n,"ok":true,"value":…}` or
/// `{"ticket":n,"ok":false,"error":…}`: an envelope with one more member.
pub fn ticketed(ticket: u64, result: Result<String, CoreError>) -> String {
    let inner = self::result(result);
    // `inner` is an object (`{"ok":…}`, from the functions above): splice the ticket in front.
    match inner.strip_prefix('{') {
        Some(members) => format!(r#"{{"ticket":{ticket},{members}"#),
        None => inner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::codes;

    #[test]
    fn envelopes_are_json() {
        let value: serde_json::Value = serde_json::from_str(&ok(r#"[{"a":1}]"#)).unwrap();
        assert_eq!(value, serde_json::json!({"ok": true, "value": [{"a": 1}]}));
        let failed = error(&CoreError::new(codes::UNKNOWN_HANDLE, "no \"such\" handle"));
        let value: serde_json::Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"ok": false, "error": {"code": "UNKNOWN_HANDLE", "message": "no \"such\" handle"}})
        );
    }

    #[test]
    fn ticketed_envelopes_carry_the_ticket() {
        let value: serde_json::Value =
            serde_json::from_str(&ticketed(u64::MAX, Ok("[1]".to_owned()))).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"ticket": u64::MAX, "ok": true, "value": [1]})
        );
        let value: serde_json::Value = serde_json::from_str(&ticketed(
            3,
            Err(CoreError::new(codes::CORE_CLOSED, "closed")),
        ))
        .unwrap();
        assert_eq!(value["ticket"], 3);
        assert_eq!(value["error"]["code"], "CORE_CLOSED");
    }
}
