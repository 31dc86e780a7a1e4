//! Negotiation (RFC 7692 section 7.1): a server picks the first offer it
//! can serve and answers within it; a client checks that the answer fits
//! what it offered. Both end with the same [`Negotiated`] settings.

use alloc::string::String;
use core::fmt;

use super::engine::Engine;
use super::params::{ParamError, Params, EXTENSION_NAME, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use crate::frame::Role;
use crate::handshake::Extension;

/// How this endpoint uses permessage-deflate: what it offers or accepts,
/// and how it compresses. The same settings serve both roles.
///
/// The default keeps no compression state between messages in either
/// direction (`server_no_context_takeover` and `client_no_context_takeover`),
/// so with the [`Zlib`](super::Zlib) engine an idle connection holds no
/// DEFLATE memory at all. [`DeflateConfig::context_takeover`] trades memory
/// (the text of both windows, 2 × 2^bits bytes per connection) for a better
/// ratio on streams of similar messages.
#[derive(Clone, Copy)]
pub struct DeflateConfig {
    /// Compression levels, 0 (stored blocks only) to 9 (smallest output),
    /// by message size. Default [`Level::DEFAULT`]: 1 under 4 KiB, 4 from
    /// 4 KiB. [`Level::fixed`] (or `n.into()`) uses one level for all.
    pub level: Level,
    /// The largest window this endpoint compresses with, 8-15 (2^bits
    /// bytes). A peer may ask for a smaller one. 8 is served with 9,
    /// whose matches never reach past 256 bytes. Default 15.
    pub max_window_bits: u8,
    /// The window to ask the peer to compress with, when it lets this end
    /// choose (a client's bare `client_max_window_bits`, or
    /// `server_max_window_bits` in a client's offer); `None` leaves it to
    /// the peer. It bounds the memory of a peer that keeps its context:
    /// this end holds the last 2^bits bytes it received. Default `None`.
    pub peer_max_window_bits: Option<u8>,
    /// Keep the LZ77 window across the messages this endpoint sends.
    /// Default `false`.
    pub context_takeover: bool,
    /// Let the peer keep its window across the messages it sends. When
    /// `false`, a server answers with `client_no_context_takeover` and a
    /// client offers `server_no_context_takeover`. Default `false`.
    pub peer_context_takeover: bool,
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 is
    /// per message, RFC 7692 section 6). Default 128.
    pub threshold: usize,
    /// The DEFLATE implementation.
    pub engine: &'static dyn Engine,
}

impl fmt::Debug for DeflateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeflateConfig")
            .field("level", &self.level)
            .field("max_window_bits", &self.max_window_bits)
            .field("peer_max_window_bits", &self.peer_max_window_bits)
            .field("context_takeover", &self.context_takeover)
            .field("peer_context_takeover", &self.peer_context_takeover)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl PartialEq for DeflateConfig {
    fn eq(&self, other: &Self) -> bool {
        self.level == other.level
            && self.max_window_bits == other.max_window_bits
            && self.peer_max_window_bits == other.peer_max_window_bits
            && self.context_takeover == other.context_takeover
            && self.peer_context_takeover == other.peer_context_takeover
            && self.threshold == other.threshold
            && core::ptr::addr_eq(self.engine, other.engine)
    }
}

impl Eq for DeflateConfig {}

#[cfg(feature = "std")]
impl Default for DeflateConfig {
    /// The default settings over [`LIBDEFLATE`](super::LIBDEFLATE) with
    /// the `libdeflate` feature, [`ZLIB`](super::ZLIB) without.
    fn default() -> Self {
        #[cfg(feature = "libdeflate")]
        return Self::new(&super::LIBDEFLATE);
        #[cfg(not(feature = "libdeflate"))]
        return Self::new(&super::ZLIB);
    }
}

/// The compression level of each message, by its size: `small` for
/// messages under `large_from` bytes, `large` for the others (a message
/// sent in fragments goes by its first fragment). Levels are zlib's, 0-9.
///
/// Why two: on short messages the level hardly changes the size, while on
/// long ones it does. Measured here (libdeflate, wsload's JSON records,
/// ratio of output to input, one call each):
///
/// | size | level 1 | level 4 | level 6 | level 4's time ÷ level 1's |
/// |---:|---:|---:|---:|---:|
/// | 512 B | 0.443 | 0.441 | 0.441 | 1.6 |
/// | 1 KiB | 0.336 | 0.333 | 0.331 | 2.0 |
/// | 4 KiB | 0.237 | 0.224 | 0.217 | 1.8 |
/// | 16 KiB | 0.207 | 0.183 | 0.173 | 2.0 |
/// | 32 KiB | 0.201 | 0.176 | 0.164 | 2.0 |
///
/// Under 4 KiB a higher level saves at most 3 % of the bytes for up to
/// twice the CPU; at 16 KiB level 4 sends 11 % fewer bytes than level 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    /// The level of messages under `large_from` bytes.
    pub small: u8,
    /// The level of messages of `large_from` bytes or more.
    pub large: u8,
    /// Where large messages start, in bytes.
    pub large_from: usize,
}

impl Level {
    /// Level 1 under 4 KiB, level 4 from 4 KiB.
    pub const DEFAULT: Level = Level {
        small: 1,
        large: 4,
        large_from: 4096,
    };

    /// One level for every message.
    pub const fn fixed(level: u8) -> Self {
        Level {
            small: level,
            large: level,
            large_from: usize::MAX,
        }
    }

    /// The level of a message of `len` bytes, at most 9.
    pub const fn of(&self, len: usize) -> u8 {
        let level = if len >= self.large_from {
            self.large
        } else {
            self.small
        };
        if level > 9 {
            9
        } else {
            level
        }
    }
}

impl Default for Level {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<u8> for Level {
    /// [`Level::fixed`].
    fn from(level: u8) -> Self {
        Level::fixed(level)
    }
}

impl DeflateConfig {
    /// The default threshold.
    pub const DEFAULT_THRESHOLD: usize = 128;
    /// The window used with context takeover by
    /// [`context_takeover`](Self::context_takeover): 2^12 = 4 KiB per
    /// direction, as python-websockets does.
    pub const TAKEOVER_WINDOW_BITS: u8 = 12;

    /// The default settings over `engine`.
    pub const fn new(engine: &'static dyn Engine) -> Self {
        DeflateConfig {
            level: Level::DEFAULT,
            max_window_bits: MAX_WINDOW_BITS,
            peer_max_window_bits: None,
            context_takeover: false,
            peer_context_takeover: false,
            threshold: Self::DEFAULT_THRESHOLD,
            engine,
        }
    }

    /// Context takeover in both directions with windows of 2^`window_bits`
    /// bytes: per connection, the last 2^bits bytes sent and received are
    /// kept (the peer's window when it does not let this end choose).
    pub const fn context_takeover(mut self, window_bits: u8) -> Self {
        self.context_takeover = true;
        self.peer_context_takeover = true;
        self.max_window_bits = window_bits;
        self.peer_max_window_bits = Some(window_bits);
        self
    }

    /// The window this end compresses with when it may use up to
    /// 2^`allowed` bytes, or `None` if the engine cannot go that low.
    fn send_window(&self, allowed: u8) -> Option<u8> {
        let bits = self
            .max_window_bits
            .clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
            .min(allowed);
        let min = self.engine.min_window_bits();
        // A window of 2^(8+1) serves a peer bound to 2^8 (see
        // `Engine::min_window_bits`); anything further down is refused.
        (bits >= min || (bits == 8 && min == 9)).then_some(bits)
    }

    fn peer_window(&self) -> Option<u8> {
        self.peer_max_window_bits
            .map(|b| b.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS))
    }

    fn negotiated(&self, params: Params, send: Direction, recv: Direction) -> Negotiated {
        Negotiated {
            params,
            send,
            recv,
            level: self.level,
            threshold: self.threshold,
            engine: self.engine,
        }
    }

    /// Server side: the first offer of `offers` (every extension the client
    /// listed, in order) that this end can accept, and the settings that
    /// answer it; `None` to answer without permessage-deflate.
    ///
    /// An offer with an unknown or repeated parameter or an invalid value
    /// is declined (RFC 7692 section 7), and so is one whose
    /// `server_max_window_bits` the engine cannot honour; the next one is
    /// tried.
    ///
    /// ```
    /// use rfc6455::deflate::DeflateConfig;
    /// use rfc6455::handshake::parse_extensions;
    ///
    /// let chromium = parse_extensions(b"permessage-deflate; client_max_window_bits").unwrap();
    /// let negotiated = DeflateConfig::default().negotiate(chromium).unwrap();
    /// assert_eq!(
    ///     negotiated.response(),
    ///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    /// );
    /// ```
    pub fn negotiate<'a>(
        &self,
        offers: impl IntoIterator<Item = Extension<'a>>,
    ) -> Option<Negotiated> {
        offers
            .into_iter()
            .filter(|e| e.name == EXTENSION_NAME)
            .find_map(|e| self.answer(Params::parse_offer(&e).ok()?))
    }

    /// The answer to one valid offer, or `None` to decline it (also an
    /// offer with a window outside 8-15, which no valid offer names).
    pub fn answer(&self, offer: Params) -> Option<Negotiated> {
        if !offer.windows_valid() {
            return None;
        }
        let takeover = self.context_takeover && !offer.server_no_context_takeover;
        let allowed = offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
        let send_bits = self.send_window(allowed)?;
        // The client's own `client_no_context_takeover` is a promise: no
        // need to keep its window.
        let peer_takeover = self.peer_context_takeover && !offer.client_no_context_takeover;
        let mut response = Params {
            server_no_context_takeover: !takeover,
            client_no_context_takeover: !peer_takeover,
            server_max_window_bits: (offer.server_max_window_bits.is_some()
                || send_bits < MAX_WINDOW_BITS)
                .then_some(send_bits),
            client_max_window_bits: None,
        };
        let mut recv_bits = MAX_WINDOW_BITS;
        if let Some(offered) = offer.client_max_window_bits {
            let mut bits = offered.unwrap_or(MAX_WINDOW_BITS);
            if peer_takeover {
                bits = bits.min(self.peer_window().unwrap_or(MAX_WINDOW_BITS));
            }
            if peer_takeover || offered.is_some() {
                // Only a client that offered the parameter may be given it
                // (section 7.1.2.2), and never more than it named.
                response.client_max_window_bits = Some(Some(bits));
            }
            recv_bits = bits;
        }
        Some(self.negotiated(
            response,
            Direction {
                window_bits: send_bits,
                takeover,
            },
            Direction {
                window_bits: recv_bits,
                takeover: peer_takeover,
            },
        ))
    }

    /// The settings for parameters agreed in a handshake this crate did
    /// not check (a proxy, another HTTP stack): `params` as the server's
    /// response states them, seen from `role`. This end takes over its
    /// context only if both `params` and
    /// [`context_takeover`](Self::context_takeover) allow it. `None` if
    /// a window in `params` is outside 8-15 (no valid response sets one),
    /// or the engine cannot compress within the window `params` sets.
    pub fn agreed(&self, params: Params, role: Role) -> Option<Negotiated> {
        // Unchecked parameters: a window outside 8-15 would size the
        // receiving history by it (and 2^64 and up overflow).
        if !params.windows_valid() {
            return None;
        }
        let server = (
            params.server_no_context_takeover,
            params.server_max_window_bits,
        );
        let client = (
            params.client_no_context_takeover,
            params.client_max_window_bits.flatten(),
        );
        let ((send_nct, send_bits), (recv_nct, recv_bits)) = match role {
            Role::Server => (server, client),
            Role::Client => (client, server),
        };
        let send_bits = self.send_window(send_bits.unwrap_or(MAX_WINDOW_BITS))?;
        Some(self.negotiated(
            params,
            Direction {
                window_bits: send_bits,
                takeover: self.context_takeover && !send_nct,
            },
            Direction {
                window_bits: recv_bits.unwrap_or(MAX_WINDOW_BITS),
                takeover: !recv_nct,
            },
        ))
    }

    /// Client side: the offer to send.
    ///
    /// It always names `client_max_window_bits` (this end honours any
    /// window the server sets), `client_no_context_takeover` unless
    /// [`context_takeover`](Self::context_takeover) is on,
    /// `server_no_context_takeover` unless
    /// [`peer_context_takeover`](Self::peer_context_takeover) is on, and
    /// `server_max_window_bits` when
    /// [`peer_max_window_bits`](Self::peer_max_window_bits) is set.
    ///
    /// ```
    /// use rfc6455::deflate::DeflateConfig;
    /// assert_eq!(
    ///     DeflateConfig::default().offer().to_string(),
    ///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
    ///      client_max_window_bits"
    /// );
    /// ```
    pub fn offer(&self) -> Params {
        let own = self.max_window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        Params {
            server_no_context_takeover: !self.peer_context_takeover,
            client_no_context_takeover: !self.context_takeover,
            server_max_window_bits: self.peer_window(),
            client_max_window_bits: Some((own < MAX_WINDOW_BITS).then_some(own)),
        }
    }

    /// Client side: checks the extensions of the server's response (every
    /// `Sec-WebSocket-Extensions` element) against [`offer`](Self::offer).
    /// `Ok(None)`: the server declined, and messages go uncompressed.
    pub fn accept_extensions<'a>(
        &self,
        extensions: impl IntoIterator<Item = Extension<'a>>,
    ) -> Result<Option<Negotiated>, ResponseError> {
        let mut accepted = None;
        for ext in extensions {
            if ext.name != EXTENSION_NAME {
                return Err(ResponseError::Unoffered);
            }
            if accepted.is_some() {
                return Err(ResponseError::Repeated);
            }
            accepted = Some(self.accept(Params::parse_response(&ext)?)?);
        }
        Ok(accepted)
    }

    /// Client side: checks the server's response to [`offer`](Self::offer)
    /// (section 7.1) and returns the settings it sets.
    pub fn accept(&self, response: Params) -> Result<Negotiated, ResponseError> {
        let offer = self.offer();
        if offer.server_no_context_takeover && !response.server_no_context_takeover {
            return Err(ResponseError::MissingServerNoContextTakeover);
        }
        let recv_bits = match (
            offer.server_max_window_bits,
            response.server_max_window_bits,
        ) {
            (Some(asked), Some(bits)) if bits <= asked => bits,
            (Some(_), Some(_)) => return Err(ResponseError::WindowTooLarge),
            (Some(_), None) => return Err(ResponseError::MissingServerMaxWindowBits),
            (None, Some(bits)) => bits,
            (None, None) => MAX_WINDOW_BITS,
        };
        let allowed = match (
            offer.client_max_window_bits,
            response.client_max_window_bits,
        ) {
            (_, None) => MAX_WINDOW_BITS,
            (None, Some(_)) => return Err(ResponseError::UnofferedClientMaxWindowBits),
            (Some(Some(offered)), Some(Some(bits))) if bits > offered => {
                return Err(ResponseError::WindowTooLarge)
            }
            (Some(_), Some(bits)) => bits.unwrap_or(MAX_WINDOW_BITS),
        };
        let send_bits = self
            .send_window(allowed)
            .ok_or(ResponseError::UnsupportedWindow)?;
        let takeover = self.context_takeover && !response.client_no_context_takeover;
        Ok(self.negotiated(
            response,
            Direction {
                window_bits: send_bits,
                takeover,
            },
            Direction {
                window_bits: recv_bits,
                takeover: !response.server_no_context_takeover,
            },
        ))
    }
}

/// Why a client fails the connection on a server's permessage-deflate
/// response (RFC 7692 section 7: "the client MUST _Fail the WebSocket
/// Connection_").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResponseError {
    /// A parameter is unknown, repeated or has an invalid value.
    Param(ParamError),
    /// The response names an extension other than permessage-deflate,
    /// which was not offered (RFC 6455 section 4.1).
    Unoffered,
    /// The response names permessage-deflate more than once.
    Repeated,
    /// The offer asked for `server_no_context_takeover` and the response
    /// lacks it (section 7.1.1.1: the server "MUST include" it).
    MissingServerNoContextTakeover,
    /// The offer set `server_max_window_bits` and the response lacks it
    /// (section 7.1.2.1).
    MissingServerMaxWindowBits,
    /// A window larger than the offer allowed.
    WindowTooLarge,
    /// `client_max_window_bits` in a response to an offer without it
    /// (section 7.1.2.2).
    UnofferedClientMaxWindowBits,
    /// The server set a client window this end's engine cannot compress
    /// with.
    UnsupportedWindow,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Param(e) => fmt::Display::fmt(e, f),
            ResponseError::Unoffered => f.write_str("server chose an extension not offered"),
            ResponseError::Repeated => f.write_str("permessage-deflate accepted twice"),
            ResponseError::MissingServerNoContextTakeover => {
                f.write_str("response lacks the server_no_context_takeover asked for")
            }
            ResponseError::MissingServerMaxWindowBits => {
                f.write_str("response lacks the server_max_window_bits asked for")
            }
            ResponseError::WindowTooLarge => f.write_str("window larger than offered"),
            ResponseError::UnofferedClientMaxWindowBits => {
                f.write_str("client_max_window_bits in the response but not in the offer")
            }
            ResponseError::UnsupportedWindow => {
                f.write_str("client window too small for the compressor")
            }
        }
    }
}

impl core::error::Error for ResponseError {}

impl From<ParamError> for ResponseError {
    fn from(e: ParamError) -> Self {
        ResponseError::Param(e)
    }
}

/// One direction of a negotiated permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Direction {
    /// Window size, 8-15: for sending, what this end compresses within
    /// (8 is compressed with 9 bits, which never reaches further); for
    /// receiving, the most the peer may reach back.
    pub window_bits: u8,
    /// The window carries over from one message to the next.
    pub takeover: bool,
}

/// The outcome of negotiation, from this endpoint's side: the agreed
/// parameters and how each direction compresses. Hand it to
/// [`Connection::with_deflate`](crate::Connection::with_deflate).
#[derive(Clone, Copy)]
pub struct Negotiated {
    params: Params,
    send: Direction,
    recv: Direction,
    level: Level,
    threshold: usize,
    engine: &'static dyn Engine,
}

impl fmt::Debug for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Negotiated")
            .field("params", &self.params)
            .field("send", &self.send)
            .field("recv", &self.recv)
            .field("level", &self.level)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Negotiated {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.send == other.send
            && self.recv == other.recv
            && self.level == other.level
            && self.threshold == other.threshold
            && core::ptr::addr_eq(self.engine, other.engine)
    }
}

impl Eq for Negotiated {}

impl Negotiated {
    /// The agreed parameters, as the server's response states them.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The `Sec-WebSocket-Extensions` value of the server's response.
    pub fn response(&self) -> String {
        let mut s = String::new();
        self.params.write(&mut s);
        s
    }

    /// What this end sends.
    pub fn send(&self) -> Direction {
        self.send
    }

    /// What this end receives.
    pub fn recv(&self) -> Direction {
        self.recv
    }

    /// The compression levels.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Messages shorter than this go out uncompressed.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The engine.
    pub fn engine(&self) -> &'static dyn Engine {
        self.engine
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::handshake::parse_extensions;

    fn server(config: &DeflateConfig, offer: &str) -> Option<String> {
        config
            .negotiate(parse_extensions(offer.as_bytes()).unwrap())
            .map(|n| n.response())
    }

    #[test]
    fn the_default_asks_for_no_context_takeover_both_ways() {
        let c = DeflateConfig::default();
        let both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        assert_eq!(server(&c, "permessage-deflate").as_deref(), Some(both));
        assert_eq!(
            server(&c, "permessage-deflate; client_max_window_bits").as_deref(),
            Some(both)
        );
        // A named client window is echoed back: the client said it uses
        // at most that.
        assert_eq!(
            server(&c, "permessage-deflate; client_max_window_bits=10").as_deref(),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 client_max_window_bits=10"
            )
        );
        assert_eq!(
            server(&c, "permessage-deflate; server_max_window_bits=10").as_deref(),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10"
            )
        );
    }

    #[test]
    fn takeover_answers_within_the_offer() {
        let c = DeflateConfig::default().context_takeover(12);
        assert_eq!(
            server(&c, "permessage-deflate; client_max_window_bits").as_deref(),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        );
        assert_eq!(
            server(&c, "permessage-deflate; client_max_window_bits=9").as_deref(),
            Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=9")
        );
        // Without client_max_window_bits the client may use 15 bits.
        let n = c
            .negotiate(parse_extensions(b"permessage-deflate").unwrap())
            .unwrap();
        assert_eq!(
            n.recv(),
            Direction {
                window_bits: 15,
                takeover: true
            }
        );
        assert_eq!(
            n.send(),
            Direction {
                window_bits: 12,
                takeover: true
            }
        );
        assert_eq!(
            server(
                &c,
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=8"
            )
            .as_deref(),
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=8")
        );
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        let c = DeflateConfig::default();
        let offers = "x-webkit-deflate-frame, permessage-deflate; foo, \
                      permessage-deflate; server_max_window_bits=9, permessage-deflate";
        assert_eq!(
            server(&c, offers).as_deref(),
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=9"
            )
        );
        assert_eq!(server(&c, "permessage-deflate; x=1"), None);
        assert_eq!(server(&c, "x-webkit-deflate-frame"), None);
    }

    /// Parameters no parser yields: each window outside 8-15, in turn.
    fn out_of_range_windows() -> impl Iterator<Item = Params> {
        [0u8, 3, 7, 16, 64, 200, 255].into_iter().flat_map(|bits| {
            [
                Params {
                    server_max_window_bits: Some(bits),
                    ..Params::default()
                },
                Params {
                    client_max_window_bits: Some(Some(bits)),
                    ..Params::default()
                },
            ]
        })
    }

    #[test]
    fn answer_declines_windows_outside_8_to_15() {
        // Hand-built offers (parsing refuses these): the answer must not
        // write `client_max_window_bits=3` or size a history by 200.
        let c = DeflateConfig::default();
        for offer in out_of_range_windows() {
            assert!(c.answer(offer).is_none(), "{offer:?}");
        }
        assert!(c
            .answer(Params {
                client_max_window_bits: Some(Some(9)),
                ..Params::default()
            })
            .is_some());
    }

    #[test]
    fn agreed_refuses_windows_outside_8_to_15() {
        let c = DeflateConfig::default();
        for role in [Role::Server, Role::Client] {
            for params in out_of_range_windows() {
                assert_eq!(c.agreed(params, role), None, "{role:?} {params:?}");
            }
            let ok = Params {
                server_max_window_bits: Some(8),
                client_max_window_bits: Some(Some(15)),
                ..Params::default()
            };
            let n = c.agreed(ok, role).expect("valid windows");
            // Both directions keep their context: each receiving history
            // is sized by a valid window.
            let _ = crate::deflate::Decompressor::new(&n);
        }
    }

    #[test]
    fn a_client_checks_the_response_against_its_offer() {
        let c = DeflateConfig::default();
        let check = |response: &str| {
            let ext = parse_extensions(response.as_bytes())
                .unwrap()
                .next()
                .unwrap();
            c.accept(Params::parse_response(&ext)?)
        };
        let ok = check("permessage-deflate; server_no_context_takeover").unwrap();
        assert_eq!(
            ok.send(),
            Direction {
                window_bits: 15,
                takeover: false
            }
        );
        assert_eq!(
            ok.recv(),
            Direction {
                window_bits: 15,
                takeover: false
            }
        );
        let ok = check(
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_max_window_bits=8",
        )
        .unwrap();
        assert_eq!(ok.send().window_bits, 8);
        assert_eq!(ok.recv().window_bits, 10);
        assert_eq!(
            check("permessage-deflate").unwrap_err(),
            ResponseError::MissingServerNoContextTakeover
        );
        assert_eq!(
            check("permessage-deflate; server_no_context_takeover; client_max_window_bits")
                .unwrap_err(),
            ResponseError::Param(ParamError::MissingValue)
        );
        let limited = DeflateConfig {
            peer_max_window_bits: Some(10),
            ..c
        };
        let ext = parse_extensions(b"permessage-deflate; server_no_context_takeover")
            .unwrap()
            .next()
            .unwrap();
        assert_eq!(
            limited
                .accept(Params::parse_response(&ext).unwrap())
                .unwrap_err(),
            ResponseError::MissingServerMaxWindowBits
        );
        let ext = parse_extensions(
            b"permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
        )
        .unwrap()
        .next()
        .unwrap();
        assert_eq!(
            limited
                .accept(Params::parse_response(&ext).unwrap())
                .unwrap_err(),
            ResponseError::WindowTooLarge
        );
    }
}
