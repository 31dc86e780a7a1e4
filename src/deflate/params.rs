//! The four parameters of permessage-deflate (RFC 7692 section 7.1), read
//! from an offer or a response, checked, and written back.

use alloc::string::String;
use core::fmt;

use crate::handshake::Extension;

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The smallest LZ77 window a peer may ask for: 2^8 bytes.
pub const MIN_WINDOW_BITS: u8 = 8;
/// The largest LZ77 window, and the one assumed when none is named: 2^15
/// bytes (32 KiB).
pub const MAX_WINDOW_BITS: u8 = 15;

/// The parameters of one permessage-deflate offer or response, as written
/// on the wire.
///
/// "Server" and "client" name the sender of the compressed data:
/// `server_max_window_bits` bounds what the server compresses with, and so
/// what the client must be able to decompress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Params {
    /// `server_no_context_takeover`: the server starts every message with
    /// an empty window (section 7.1.1.1).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`: the client starts every message with
    /// an empty window (section 7.1.1.2). In an offer it is the client's
    /// promise to do so; in a response, the server's demand.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits`: the largest window the server compresses
    /// with, 8-15 (section 7.1.2.1).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits` (section 7.1.2.2). `Some(None)`: named
    /// without a value, which only an offer may do (the client can limit
    /// its window if asked); `Some(Some(n))`: at most 2^n.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Why a permessage-deflate offer or response is invalid (RFC 7692
/// section 7: an offer with one of these is declined; a response with one
/// fails the connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamError {
    /// A parameter this extension does not define.
    Unknown,
    /// The same parameter twice.
    Duplicate,
    /// A value that is not a decimal 8-15 without leading zeros, or a
    /// value on a parameter that takes none.
    InvalidValue,
    /// A parameter that needs a value has none (`server_max_window_bits`;
    /// `client_max_window_bits` in a response).
    MissingValue,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamError::Unknown => "unknown permessage-deflate parameter",
            ParamError::Duplicate => "repeated permessage-deflate parameter",
            ParamError::InvalidValue => "invalid permessage-deflate parameter value",
            ParamError::MissingValue => "permessage-deflate parameter without its value",
        })
    }
}

impl core::error::Error for ParamError {}

/// Whether the parameters come from a client's offer or a server's
/// response: only an offer may name `client_max_window_bits` without a
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Offer,
    Response,
}

impl Params {
    /// The parameters of one offer element (an [`Extension`] named
    /// `permessage-deflate`).
    pub fn parse_offer(ext: &Extension<'_>) -> Result<Params, ParamError> {
        Self::parse(ext, Side::Offer)
    }

    /// Whether each window named is within 8-15, as parsing ensures;
    /// parameters built by hand may name any.
    pub(crate) fn windows_valid(&self) -> bool {
        [
            self.server_max_window_bits,
            self.client_max_window_bits.flatten(),
        ]
        .into_iter()
        .flatten()
        .all(|b| (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(&b))
    }

    /// The parameters of a server's response.
    pub fn parse_response(ext: &Extension<'_>) -> Result<Params, ParamError> {
        Self::parse(ext, Side::Response)
    }

    fn parse(ext: &Extension<'_>, side: Side) -> Result<Params, ParamError> {
        let mut p = Params::default();
        for param in ext.params() {
            let flag = |seen: &mut bool| {
                if *seen {
                    return Err(ParamError::Duplicate);
                }
                if param.value.is_some() {
                    return Err(ParamError::InvalidValue);
                }
                *seen = true;
                Ok(())
            };
            match param.name {
                "server_no_context_takeover" => flag(&mut p.server_no_context_takeover)?,
                "client_no_context_takeover" => flag(&mut p.client_no_context_takeover)?,
                "server_max_window_bits" => {
                    if p.server_max_window_bits.is_some() {
                        return Err(ParamError::Duplicate);
                    }
                    let value = param.value.ok_or(ParamError::MissingValue)?;
                    p.server_max_window_bits = Some(window_bits(value)?);
                }
                "client_max_window_bits" => {
                    if p.client_max_window_bits.is_some() {
                        return Err(ParamError::Duplicate);
                    }
                    p.client_max_window_bits = Some(match param.value {
                        Some(value) => Some(window_bits(value)?),
                        None if side == Side::Offer => None,
                        None => return Err(ParamError::MissingValue),
                    });
                }
                _ => return Err(ParamError::Unknown),
            }
        }
        Ok(p)
    }

    /// Appends the extension as a header element, name first:
    /// `permessage-deflate; server_no_context_takeover; client_max_window_bits=12`.
    pub fn write(&self, out: &mut String) {
        out.push_str(EXTENSION_NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            out.push_str("; server_max_window_bits=");
            push_bits(out, bits);
        }
        match self.client_max_window_bits {
            Some(Some(bits)) => {
                out.push_str("; client_max_window_bits=");
                push_bits(out, bits);
            }
            Some(None) => out.push_str("; client_max_window_bits"),
            None => {}
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write(&mut s);
        f.write_str(&s)
    }
}

/// A window size value: a decimal 8-15 without leading zeros (RFC 7692
/// section 7.1.2.1).
fn window_bits(value: &str) -> Result<u8, ParamError> {
    match value.as_bytes() {
        [d @ b'8'..=b'9'] => Ok(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Ok(10 + d - b'0'),
        _ => Err(ParamError::InvalidValue),
    }
}

fn push_bits(out: &mut String, bits: u8) {
    if bits >= 10 {
        out.push('1');
    }
    out.push(char::from(b'0' + bits % 10));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_extensions;
    use alloc::format;
    use alloc::string::ToString;

    fn offer(value: &str) -> Result<Params, ParamError> {
        Params::parse_offer(&parse_extensions(value.as_bytes()).unwrap().next().unwrap())
    }

    fn response(value: &str) -> Result<Params, ParamError> {
        Params::parse_response(&parse_extensions(value.as_bytes()).unwrap().next().unwrap())
    }

    #[test]
    fn every_parameter_parses_and_writes_back() {
        let text = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                    server_max_window_bits=10; client_max_window_bits=8";
        let p = offer(text).unwrap();
        assert_eq!(
            p,
            Params {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(Some(8)),
            }
        );
        assert_eq!(p.to_string(), text);
        assert_eq!(response(&p.to_string()), Ok(p));
        let bare = offer("permessage-deflate; client_max_window_bits").unwrap();
        assert_eq!(bare.client_max_window_bits, Some(None));
        assert_eq!(
            bare.to_string(),
            "permessage-deflate; client_max_window_bits"
        );
        assert_eq!(offer("permessage-deflate"), Ok(Params::default()));
    }

    #[test]
    fn values_are_8_to_15_without_leading_zeros() {
        for bits in 8..=15u8 {
            let p = offer(&format!(
                "permessage-deflate; server_max_window_bits={bits}"
            ));
            assert_eq!(p.unwrap().server_max_window_bits, Some(bits));
            let quoted = offer(&format!(
                "permessage-deflate; server_max_window_bits=\"{bits}\""
            ));
            assert_eq!(quoted.unwrap().server_max_window_bits, Some(bits));
        }
        for bad in [
            "7", "16", "08", "010", "1", "x", "+9", "9.0", "99", "\"08\"",
        ] {
            let p = offer(&format!("permessage-deflate; client_max_window_bits={bad}"));
            assert_eq!(p, Err(ParamError::InvalidValue), "{bad}");
        }
    }

    #[test]
    fn broken_offers_and_responses_are_refused() {
        let cases = [
            ("permessage-deflate; x_foo", ParamError::Unknown),
            (
                "permessage-deflate; Server_No_Context_Takeover",
                ParamError::Unknown,
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                ParamError::Duplicate,
            ),
            (
                "permessage-deflate; client_max_window_bits=10; client_max_window_bits=9",
                ParamError::Duplicate,
            ),
            (
                "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
                ParamError::Duplicate,
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                ParamError::InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits",
                ParamError::MissingValue,
            ),
        ];
        for (value, err) in cases {
            assert_eq!(offer(value), Err(err), "{value}");
            assert_eq!(response(value), Err(err), "{value}");
        }
        assert_eq!(
            response("permessage-deflate; client_max_window_bits"),
            Err(ParamError::MissingValue)
        );
    }
}
