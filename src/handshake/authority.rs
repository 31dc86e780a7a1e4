//! The `host [ ":" port ]` grammar shared by a client's URL and a server's
//! `Host` header (RFC 3986 section 3.2.2 and 3.2.3, RFC 9110 section 7.2).
//!
//! One reader, so the two sides agree on what a host is. Each side then
//! adds its own rule: a client must connect, so it needs a host and a
//! usable port; a server only refuses what is not a Host value at all.

/// An authority split into its host (with an IP literal's brackets) and
/// its port digits, each checked against the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Authority<'a> {
    /// A registered name (or IPv4 address), possibly empty, or a bracketed
    /// IP literal.
    pub host: &'a [u8],
    /// The digits after `:`, possibly empty; `None` without a `:`.
    pub port: Option<&'a [u8]>,
}

/// The part of an authority that breaks the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadPart {
    /// The host, or what follows an IP literal's `]`.
    Host,
    /// The port: something other than digits after the host's `:`.
    Port,
}

impl<'a> Authority<'a> {
    /// Splits and checks `value`, `host [":" port]`.
    pub fn parse(value: &'a [u8]) -> Result<Authority<'a>, BadPart> {
        let (host, rest) = if value.first() == Some(&b'[') {
            let end = value.iter().position(|&b| b == b']').ok_or(BadPart::Host)?;
            let literal = &value[1..end];
            if literal.is_empty() || !literal.iter().all(|&b| is_literal_char(b)) {
                return Err(BadPart::Host);
            }
            value.split_at(end + 1)
        } else {
            let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            let (host, rest) = value.split_at(end);
            if !is_reg_name(host) {
                return Err(BadPart::Host);
            }
            (host, rest)
        };
        let port = match rest.split_first() {
            None => None,
            Some((b':', digits)) if digits.iter().all(u8::is_ascii_digit) => Some(digits),
            Some((b':', _)) => return Err(BadPart::Port),
            Some(_) => return Err(BadPart::Host),
        };
        Ok(Authority { host, port })
    }

    /// The IP literal inside the brackets, if the host is one.
    pub fn ip_literal(&self) -> Option<&'a [u8]> {
        self.host.strip_prefix(b"[")?.strip_suffix(b"]")
    }
}

/// What an `IP-literal` may hold: an IPv6 address (hex digits, `:`, `.`)
/// or an `IPvFuture` (`v`, hex, `.`, then unreserved, sub-delims, `:`).
fn is_literal_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b":.-_~!$&'()*+,;=".contains(&b)
}

/// `*( unreserved / pct-encoded / sub-delims )`, which covers IPv4.
fn is_reg_name(host: &[u8]) -> bool {
    let mut i = 0;
    while i < host.len() {
        if host[i] == b'%' {
            let hex = host.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if host[i].is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&host[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(v: &str) -> Option<(&str, Option<&str>)> {
        let text = |b| core::str::from_utf8(b).unwrap();
        let a = Authority::parse(v.as_bytes()).ok()?;
        Some((text(a.host), a.port.map(text)))
    }

    #[test]
    fn splits_names_addresses_and_literals() {
        assert_eq!(parts("example.com"), Some(("example.com", None)));
        assert_eq!(
            parts("example.com:8080"),
            Some(("example.com", Some("8080")))
        );
        assert_eq!(parts("127.0.0.1:"), Some(("127.0.0.1", Some(""))));
        assert_eq!(parts("[::1]:9001"), Some(("[::1]", Some("9001"))));
        assert_eq!(parts("[v1.x]"), Some(("[v1.x]", None)));
        assert_eq!(parts("caf%C3%A9"), Some(("caf%C3%A9", None)));
        assert_eq!(parts(""), Some(("", None)));
        assert_eq!(
            Authority::parse(b"[::1]:80").map(|a| a.ip_literal()),
            Ok(Some(&b"::1"[..]))
        );
    }

    #[test]
    fn refuses_what_is_not_an_authority() {
        for bad in [
            "a b", "[::1", "[]", "[::1]x", "%zz", "a%4", "a/b", "a@b", "é",
        ] {
            assert_eq!(
                Authority::parse(bad.as_bytes()),
                Err(BadPart::Host),
                "{bad:?}"
            );
        }
        for bad in ["a:b:80", "a:8x", "[::1]:x", "a:-1"] {
            assert_eq!(
                Authority::parse(bad.as_bytes()),
                Err(BadPart::Port),
                "{bad:?}"
            );
        }
    }
}
