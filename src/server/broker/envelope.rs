//! The envelope: how a message travels on a Redis channel between
//! instances, and how any other program can publish to our subscribers.
//!
//! A payload that does not start with [`MAGIC`] is a plain message: it
//! reaches subscribers as text if it is valid UTF-8, else as binary. That is
//! what `redis-cli PUBLISH rfc6455:topic:news hello` sends.
//!
//! A payload that starts with [`MAGIC`] carries a header line first:
//!
//! ```text
//! \0rfc6455 kind=text epoch=5d1c09a4e7b2f380 id=42 from=3f9c0a17e2d4b851 seq=7 skip=0.12.345\n<payload>
//! ```
//!
//! - `kind=text` or `kind=binary`: the WebSocket message type. Without it,
//!   text if the payload is UTF-8, else binary. `kind=text` with a payload
//!   that is not UTF-8 is refused (a browser would fail the connection).
//! - `epoch=E`, `id=N`: the message's id within its topic (1 to
//!   [`MAX_ID`]) and the epoch that id counts in, the same on every
//!   instance, for history and resume. Assigned in Redis by the script
//!   `PUBLISH_WITH_ID` (feature `redis`) when the servers
//!   keep history; see the README.
//! - `from=ID`, `seq=N`, `skip=W.S.STAMP`: the publishing instance, its
//!   publish counter, and a connection of that instance not to deliver to
//!   (the sender of a room message). Only the instance named in `from`
//!   acts on `seq` and `skip`; other programs leave all three out.
//!
//! Fields are `key=value`, separated by one space, in any order; values are
//! printable ASCII without spaces. Unknown keys are ignored, so newer
//! instances can add fields that older ones pass over; a known key given
//! twice, or with a bad value, makes the message malformed. The header is
//! at most [`MAX_HEADER`] bytes. Malformed messages are dropped and
//! counted, never delivered.

use std::fmt;
use std::prelude::rust_2021::*;

use crate::connection::MessageKind;

/// The first bytes of an envelope: a NUL (rare at the start of a text or
/// binary payload) and the crate's name.
pub const MAGIC: &[u8] = b"\0rfc6455";

/// Longest header, from the magic to the end of line included.
pub const MAX_HEADER: usize = 512;

/// Longest instance id in `from`.
pub const MAX_ORIGIN: usize = 64;

/// Largest `id`: Redis' counters are signed 64-bit integers.
pub const MAX_ID: u64 = i64::MAX as u64;

/// A connection of the publishing instance that does not get the message:
/// its worker, its slot in that worker, and the stamp that tells it apart
/// from a later connection in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Skip {
    /// The worker's index.
    pub worker: usize,
    /// The connection's slot in the worker.
    pub slot: usize,
    /// The connection's stamp, unique in its worker.
    pub stamp: u64,
}

/// What an envelope's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header<'a> {
    /// `kind`; `None`: text if the payload is UTF-8, else binary.
    pub kind: Option<MessageKind>,
    /// `epoch`: what `id` counts in (a topic's history restarts a new one).
    pub epoch: Option<&'a str>,
    /// `id`: the message's id within its topic.
    pub id: Option<u64>,
    /// `from`: the publishing instance.
    pub from: Option<&'a str>,
    /// `seq`: the publishing instance's counter.
    pub seq: Option<u64>,
    /// `skip`: a connection of the publishing instance to leave out.
    pub skip: Option<Skip>,
}

/// A message read from a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    /// The header (all `None` for a plain message).
    pub header: Header<'a>,
    /// The message's type, decided.
    pub kind: MessageKind,
    /// The WebSocket message.
    pub payload: &'a [u8],
}

/// Why a payload that starts with [`MAGIC`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeError {
    /// No end of line within [`MAX_HEADER`] bytes.
    NoEndOfHeader,
    /// The magic is followed by neither a space nor an end of line.
    BadMagic,
    /// A field is not `key=value` with printable ASCII, or two spaces meet.
    BadField,
    /// `kind` is neither `text` nor `binary`.
    BadKind,
    /// A number is not a decimal `u64` (no sign, no leading zero), or an
    /// `id` is above [`MAX_ID`].
    BadNumber,
    /// `id` is 0: ids start at 1.
    ZeroId,
    /// `from` or `epoch` is longer than [`MAX_ORIGIN`], or not
    /// `[0-9A-Za-z_-]`.
    BadOrigin,
    /// `skip` is not `WORKER.SLOT.STAMP`.
    BadSkip,
    /// A known key appears twice.
    Duplicate,
    /// `kind=text` but the payload is not UTF-8.
    NotUtf8,
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvelopeError::NoEndOfHeader => "no end of line within the header's 512 bytes",
            EnvelopeError::BadMagic => "the magic is not followed by a space or an end of line",
            EnvelopeError::BadField => "a header field is not key=value in printable ASCII",
            EnvelopeError::BadKind => "kind is neither text nor binary",
            EnvelopeError::BadNumber => {
                "a number is not a plain decimal u64 (an id at most 2^63-1)"
            }
            EnvelopeError::ZeroId => "ids start at 1",
            EnvelopeError::BadOrigin => "from or epoch is not 1 to 64 of [0-9A-Za-z_-]",
            EnvelopeError::BadSkip => "skip is not WORKER.SLOT.STAMP",
            EnvelopeError::Duplicate => "a header field appears twice",
            EnvelopeError::NotUtf8 => "kind=text but the payload is not UTF-8",
        })
    }
}

impl std::error::Error for EnvelopeError {}

/// Reads a message from a channel: a plain payload or an envelope.
pub fn parse(message: &[u8]) -> Result<Received<'_>, EnvelopeError> {
    let Some(rest) = message.strip_prefix(MAGIC) else {
        return Ok(Received {
            header: Header::default(),
            kind: guess_kind(message),
            payload: message,
        });
    };
    let window = &rest[..rest.len().min(MAX_HEADER - MAGIC.len())];
    let end = window
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(EnvelopeError::NoEndOfHeader)?;
    let (fields, payload) = (&rest[..end], &rest[end + 1..]);
    let header = match fields.split_first() {
        None => Header::default(),
        Some((b' ', fields)) => parse_fields(fields)?,
        Some(_) => return Err(EnvelopeError::BadMagic),
    };
    let kind = match header.kind {
        Some(MessageKind::Text) if std::str::from_utf8(payload).is_err() => {
            return Err(EnvelopeError::NotUtf8)
        }
        Some(kind) => kind,
        None => guess_kind(payload),
    };
    Ok(Received {
        header,
        kind,
        payload,
    })
}

fn guess_kind(payload: &[u8]) -> MessageKind {
    match simdutf8::basic::from_utf8(payload) {
        Ok(_) => MessageKind::Text,
        Err(_) => MessageKind::Binary,
    }
}

fn parse_fields(fields: &[u8]) -> Result<Header<'_>, EnvelopeError> {
    let mut header = Header::default();
    for field in fields.split(|&b| b == b' ') {
        let eq = field
            .iter()
            .position(|&b| b == b'=')
            .ok_or(EnvelopeError::BadField)?;
        let (key, value) = (&field[..eq], &field[eq + 1..]);
        if key.is_empty()
            || value.is_empty()
            || !field.iter().all(|b| b.is_ascii_graphic())
            || !key.iter().all(|b| b.is_ascii_lowercase())
        {
            return Err(EnvelopeError::BadField);
        }
        match key {
            b"kind" => {
                let kind = match value {
                    b"text" => MessageKind::Text,
                    b"binary" => MessageKind::Binary,
                    _ => return Err(EnvelopeError::BadKind),
                };
                set(&mut header.kind, kind)?;
            }
            b"id" => match number(value)? {
                0 => return Err(EnvelopeError::ZeroId),
                id if id > MAX_ID => return Err(EnvelopeError::BadNumber),
                id => set(&mut header.id, id)?,
            },
            b"seq" => set(&mut header.seq, number(value)?)?,
            b"from" => set(&mut header.from, token(value)?)?,
            b"epoch" => set(&mut header.epoch, token(value)?)?,
            b"skip" => set(&mut header.skip, skip(value)?)?,
            _ => {} // a field of a newer version
        }
    }
    Ok(header)
}

/// An instance id or an epoch: 1 to [`MAX_ORIGIN`] of `[0-9A-Za-z_-]`.
fn token(value: &[u8]) -> Result<&str, EnvelopeError> {
    let ok = value.len() <= MAX_ORIGIN
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(EnvelopeError::BadOrigin);
    }
    // ASCII, checked just above.
    std::str::from_utf8(value).map_err(|_| EnvelopeError::BadOrigin)
}

fn set<T>(slot: &mut Option<T>, value: T) -> Result<(), EnvelopeError> {
    if slot.is_some() {
        return Err(EnvelopeError::Duplicate);
    }
    *slot = Some(value);
    Ok(())
}

/// A decimal `u64`, as written by `u64::to_string`: digits only, no
/// leading zero (so each number has one spelling).
fn number(digits: &[u8]) -> Result<u64, EnvelopeError> {
    if digits.is_empty()
        || digits.len() > 20
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
    {
        return Err(EnvelopeError::BadNumber);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(EnvelopeError::BadNumber)
    })
}

fn skip(value: &[u8]) -> Result<Skip, EnvelopeError> {
    let mut parts = value.split(|&b| b == b'.');
    let mut next = || -> Result<u64, EnvelopeError> {
        let part = parts.next().ok_or(EnvelopeError::BadSkip)?;
        number(part).map_err(|_| EnvelopeError::BadSkip)
    };
    let (worker, slot, stamp) = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return Err(EnvelopeError::BadSkip);
    }
    let index = |n: u64| usize::try_from(n).map_err(|_| EnvelopeError::BadSkip);
    Ok(Skip {
        worker: index(worker)?,
        slot: index(slot)?,
        stamp,
    })
}

/// Writes the header of an envelope for `payload` into `out` (cleared
/// first), ending with the end of line; the payload follows it on the
/// wire. Every field given is written, `kind` always.
pub fn write_header(out: &mut Vec<u8>, kind: MessageKind, header: &Header<'_>) {
    use std::io::Write;
    out.clear();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(match kind {
        MessageKind::Text => b" kind=text",
        MessageKind::Binary => b" kind=binary",
    });
    // Writing to a Vec cannot fail.
    if let Some(epoch) = header.epoch {
        let _ = write!(out, " epoch={epoch}");
    }
    if let Some(id) = header.id {
        let _ = write!(out, " id={id}");
    }
    if let Some(from) = header.from {
        let _ = write!(out, " from={from}");
    }
    if let Some(seq) = header.seq {
        let _ = write!(out, " seq={seq}");
    }
    if let Some(s) = header.skip {
        let _ = write!(out, " skip={}.{}.{}", s.worker, s.slot, s.stamp);
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(header: &Header<'_>, kind: MessageKind, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_header(&mut out, kind, header);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn plain_payloads_are_text_when_utf8() {
        let r = parse(b"hello").unwrap();
        assert_eq!((r.kind, r.payload), (MessageKind::Text, &b"hello"[..]));
        let r = parse(b"\xff\x00").unwrap();
        assert_eq!(r.kind, MessageKind::Binary);
        assert_eq!(parse(b"").unwrap().kind, MessageKind::Text);
        // NUL first but not the magic: plain.
        assert_eq!(parse(b"\0rfc").unwrap().payload, b"\0rfc");
    }

    #[test]
    fn headers_round_trip() {
        let header = Header {
            kind: Some(MessageKind::Binary),
            epoch: Some("5d1c09a4e7b2f380"),
            id: Some(42),
            from: Some("3f9c-a_1"),
            seq: Some(u64::MAX),
            skip: Some(Skip {
                worker: 1,
                slot: 0,
                stamp: 77,
            }),
        };
        let bytes = envelope(&header, MessageKind::Binary, b"a\nb");
        let r = parse(&bytes).unwrap();
        assert_eq!(r.header, header);
        assert_eq!((r.kind, r.payload), (MessageKind::Binary, &b"a\nb"[..]));
        let r = parse(b"\0rfc6455\nx").unwrap();
        assert_eq!((r.header, r.payload), (Header::default(), &b"x"[..]));
        let r = parse(b"\0rfc6455 future=yes kind=text\n\xc3\xa9").unwrap();
        assert_eq!(r.kind, MessageKind::Text);
    }

    #[test]
    fn hostile_headers_are_refused_precisely() {
        use EnvelopeError::*;
        let cases: &[(&[u8], EnvelopeError)] = &[
            (b"\0rfc6455 kind=text", NoEndOfHeader),
            (b"\0rfc6455x\n", BadMagic),
            (b"\0rfc6455 \n", BadField),
            (b"\0rfc6455 kind=text  id=1\n", BadField),
            (b"\0rfc6455 kind\n", BadField),
            (b"\0rfc6455 =x\n", BadField),
            (b"\0rfc6455 Kind=text\n", BadField),
            (b"\0rfc6455 kind=\n", BadField),
            (b"\0rfc6455 kind=t\xc3\xa9\n", BadField),
            (b"\0rfc6455 kind=ping\n", BadKind),
            (b"\0rfc6455 id=0\n", ZeroId),
            (b"\0rfc6455 id=01\n", BadNumber),
            (b"\0rfc6455 id=-1\n", BadNumber),
            (b"\0rfc6455 id=18446744073709551616\n", BadNumber),
            (b"\0rfc6455 id=9223372036854775808\n", BadNumber),
            (b"\0rfc6455 seq=1 seq=2\n", Duplicate),
            (b"\0rfc6455 from=a/b\n", BadOrigin),
            (b"\0rfc6455 epoch=a.b\n", BadOrigin),
            (b"\0rfc6455 epoch=a epoch=a\n", Duplicate),
            (b"\0rfc6455 skip=1.2\n", BadSkip),
            (b"\0rfc6455 skip=1.2.3.4\n", BadSkip),
            (b"\0rfc6455 skip=1..3\n", BadSkip),
            (b"\0rfc6455 kind=text\n\xff", NotUtf8),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long = format!("\0rfc6455 from={}\n", "a".repeat(MAX_ORIGIN + 1));
        assert_eq!(parse(long.as_bytes()), Err(BadOrigin));
        // The end of line must come within MAX_HEADER bytes.
        let mut padded = b"\0rfc6455 x=".to_vec();
        padded.resize(MAX_HEADER - 1, b'y');
        padded.push(b'\n');
        assert!(parse(&padded).is_ok());
        padded.insert(12, b'y');
        assert_eq!(parse(&padded), Err(NoEndOfHeader));
    }
}

#[cfg(test)]
mod properties {
    //! Hostile input: payloads come from anyone who can publish to Redis.
    use super::*;
    use proptest::prelude::*;

    fn check_any(input: &[u8]) {
        match parse(input) {
            Ok(r) => {
                assert!(
                    input.ends_with(r.payload),
                    "the payload is the input's tail"
                );
                if r.kind == MessageKind::Text {
                    assert!(std::str::from_utf8(r.payload).is_ok());
                }
                if input.starts_with(MAGIC) {
                    let header = input.len() - r.payload.len();
                    assert!(header <= MAX_HEADER && input[header - 1] == b'\n');
                } else {
                    assert_eq!(r.payload, input);
                    assert_eq!(r.header, Header::default());
                }
            }
            Err(_) => assert!(input.starts_with(MAGIC), "plain payloads always pass"),
        }
    }

    /// kind is binary, epoch, id, from, seq, skip (worker, slot, stamp).
    type Fields = (
        bool,
        Option<String>,
        Option<u64>,
        Option<String>,
        Option<u64>,
        Option<(u16, u32, u64)>,
    );

    fn header_fields() -> impl Strategy<Value = Fields> {
        (
            any::<bool>(),
            proptest::option::of("[0-9a-f]{1,64}"),
            proptest::option::of(1..=MAX_ID),
            proptest::option::of("[0-9A-Za-z_-]{1,64}"),
            proptest::option::of(any::<u64>()),
            proptest::option::of(any::<(u16, u32, u64)>()),
        )
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(input in proptest::collection::vec(any::<u8>(), 0..600)) {
            check_any(&input);
        }

        #[test]
        fn any_header_after_the_magic(rest in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut input = MAGIC.to_vec();
            input.extend_from_slice(&rest);
            check_any(&input);
        }

        #[test]
        fn envelopes_round_trip_and_survive_mutation(
            (binary, epoch, id, from, seq, skip) in header_fields(),
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            flip in any::<(usize, u8)>(),
        ) {
            let kind = if binary || std::str::from_utf8(&payload).is_err() {
                MessageKind::Binary
            } else {
                MessageKind::Text
            };
            let header = Header {
                kind: Some(kind),
                epoch: epoch.as_deref(),
                id,
                from: from.as_deref(),
                seq,
                skip: skip.map(|(w, s, stamp)| Skip {
                    worker: usize::from(w),
                    slot: s as usize,
                    stamp,
                }),
            };
            let mut bytes = Vec::new();
            write_header(&mut bytes, kind, &header);
            prop_assert!(bytes.len() <= MAX_HEADER);
            bytes.extend_from_slice(&payload);
            let r = parse(&bytes).unwrap();
            prop_assert_eq!(r.header, header);
            prop_assert_eq!(r.kind, kind);
            prop_assert_eq!(r.payload, &payload[..]);
            // Any one byte changed: a clean answer either way.
            let at = flip.0 % bytes.len();
            bytes[at] ^= flip.1.max(1);
            check_any(&bytes);
        }
    }
}
