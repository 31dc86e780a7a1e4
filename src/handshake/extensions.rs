//! `Sec-WebSocket-Extensions` (RFC 6455 section 9.1), parsed into names and
//! parameters without allocating.
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! A quoted value must be a token once unquoted (section 9.1), so one
//! without backslash escapes is borrowed as is; one with escapes is
//! rejected rather than copied.

use crate::handshake::http::{is_token, trim_ows, utf8_prefix, Headers, ListItems};

/// Whether `value` follows the grammar above. Empty list elements are
/// allowed (RFC 9110 section 5.6.1).
pub(crate) fn is_valid(value: &[u8]) -> bool {
    crate::handshake::http::list(value).all(|e| {
        let mut parts = e.split(|&b| b == b';');
        let name = parts.next().map(trim_ows).unwrap_or_default();
        is_token(name) && parts.all(|p| is_valid_param(trim_ows(p)))
    })
}

fn is_valid_param(p: &[u8]) -> bool {
    let (name, value) = split_param(p);
    is_token(name) && value.is_none_or(is_token)
}

/// `name` or `name = value`, trimmed, quotes removed from a quoted value.
fn split_param(p: &[u8]) -> (&[u8], Option<&[u8]>) {
    let Some(eq) = p.iter().position(|&b| b == b'=') else {
        return (p, None);
    };
    let value = match trim_ows(&p[eq + 1..]) {
        [b'"', inner @ .., b'"'] => inner,
        value => value,
    };
    (trim_ows(&p[..eq]), Some(value))
}

/// One offered (or accepted) extension: its name and raw parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The extension token, such as `permessage-deflate`.
    pub name: &'a str,
    params: &'a [u8],
}

impl<'a> Extension<'a> {
    /// The parameters, in order.
    pub fn params(&self) -> ExtensionParams<'a> {
        ExtensionParams {
            rest: self.params.split(|&b| b == b';'),
        }
    }
}

/// One extension parameter: `client_max_window_bits` or
/// `server_max_window_bits=10` (quotes removed from `"10"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionParam<'a> {
    /// The parameter name.
    pub name: &'a str,
    /// The value, if the parameter has one.
    pub value: Option<&'a str>,
}

/// The parameters of an [`Extension`], from [`Extension::params`].
#[derive(Debug, Clone)]
pub struct ExtensionParams<'a> {
    rest: core::slice::Split<'a, u8, fn(&u8) -> bool>,
}

impl<'a> Iterator for ExtensionParams<'a> {
    type Item = ExtensionParam<'a>;

    fn next(&mut self) -> Option<ExtensionParam<'a>> {
        let p = self.rest.by_ref().map(trim_ows).find(|p| !p.is_empty())?;
        let (name, value) = split_param(p);
        Some(ExtensionParam {
            name: utf8_prefix(name),
            value: value.map(utf8_prefix),
        })
    }
}

/// The extensions of every `Sec-WebSocket-Extensions` header, in order.
/// Made by [`UpgradeRequest::extensions`](crate::handshake::UpgradeRequest::extensions).
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    items: ListItems<'a>,
}

impl<'a> Extensions<'a> {
    pub(crate) fn new(headers: Headers<'a>) -> Self {
        Extensions {
            items: ListItems::new(headers, "Sec-WebSocket-Extensions"),
        }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        self.items.next().map(extension)
    }
}

/// The extensions of one `Sec-WebSocket-Extensions` value, as a header
/// carries them, or `None` if the value breaks the grammar of section 9.1.
///
/// ```
/// use rfc6455::handshake::parse_extensions;
/// let mut list = parse_extensions(b"permessage-deflate; client_max_window_bits, x-foo").unwrap();
/// let deflate = list.next().unwrap();
/// assert_eq!(deflate.name, "permessage-deflate");
/// assert_eq!(deflate.params().next().unwrap().name, "client_max_window_bits");
/// assert_eq!(list.next().unwrap().name, "x-foo");
/// assert!(parse_extensions(b"a;;b").is_none());
/// ```
pub fn parse_extensions(value: &[u8]) -> Option<impl Iterator<Item = Extension<'_>> + Clone> {
    is_valid(value).then(|| crate::handshake::http::list(value).map(extension))
}

/// `name *( ";" param )`, split at the first `;`.
fn extension(e: &[u8]) -> Extension<'_> {
    let semi = e.iter().position(|&b| b == b';').unwrap_or(e.len());
    Extension {
        name: utf8_prefix(trim_ows(&e[..semi])),
        params: e.get(semi + 1..).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in [
            &b"permessage-deflate"[..],
            b"permessage-deflate; client_max_window_bits",
            b"permessage-deflate ; server_max_window_bits = 10, x-foo",
            b"a; b=\"10\"",
            b"",
            b" , a ,",
        ] {
            assert!(is_valid(ok), "{ok:?}");
        }
        for bad in [
            &b"; a"[..],
            b"a;",
            b"a;;b",
            b"a; =1",
            b"a; b=",
            b"a; b=\"\"",
            b"a; b=\"1\\0\"",
            b"a; b=\"1,2\"",
            b"a b",
            b"a; b=c d",
        ] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
