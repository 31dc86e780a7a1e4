//! The little JSON the server writes: string literals for topic names and
//! text payloads (envelopes, notices, `/publish` answers). Nothing here
//! parses JSON.

use std::prelude::rust_2021::*;

/// Appends `s` to `out` as a JSON string literal (RFC 8259 section 7):
/// quote, backslash and control characters escaped, everything else as is.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while let Some(i) = rest.find(|c: char| c == '"' || c == '\\' || c < '\u{20}') {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(c >> 4)] as char);
                out.push(HEX[usize::from(c & 15)] as char);
            }
        }
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out.push('"');
}

/// `s` as a JSON string literal.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::new();
    push_string(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\n聊"), "\"a\\\"b\\\\c\\n聊\"");
        assert_eq!(string("\u{1}\u{1f}\t\r"), "\"\\u0001\\u001f\\t\\r\"");
        assert_eq!(string(""), "\"\"");
        // What we write, a JSON parser reads back unchanged.
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "\u{0}\u{7f}\u{85}",
            "😀 聊天",
        ] {
            let back: String = serde_json::from_str(&string(s)).unwrap();
            assert_eq!(back, s);
        }
    }
}
