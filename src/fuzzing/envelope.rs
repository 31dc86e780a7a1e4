//! The Redis envelope: what other instances (or anyone who can publish to
//! the Redis server) send on a topic's channel.

use std::prelude::rust_2021::*;

use crate::connection::MessageKind;
use crate::server::broker::envelope::{parse, write_header, Header, MAGIC, MAX_HEADER};

/// `envelope`: [`parse`] on any bytes answers cleanly, and what it accepts
/// is checked against the format's rules and re-encoded:
///
/// - A payload without the magic is accepted whole, with an empty header,
///   as text exactly when it is UTF-8.
/// - An envelope's payload is the input's tail, after an end of line
///   within the first [`MAX_HEADER`] bytes; a text payload is UTF-8.
/// - An accepted envelope's header written again by [`write_header`]
///   (canonical order, unknown fields dropped, `kind` always written) fits
///   in [`MAX_HEADER`] and parses back to the same header, kind and
///   payload.
/// - Refusals only happen after the magic.
///
/// Input: the channel message as it comes from Redis.
pub fn fuzz_envelope(data: &[u8]) {
    let received = match parse(data) {
        Ok(r) => r,
        Err(e) => {
            assert!(data.starts_with(MAGIC), "a plain payload refused: {e}");
            return;
        }
    };
    assert!(data.ends_with(received.payload), "the payload is the tail");
    let utf8 = std::str::from_utf8(received.payload).is_ok();
    if received.kind == MessageKind::Text {
        assert!(utf8, "text that is not UTF-8");
    }
    if !data.starts_with(MAGIC) {
        assert_eq!(received.payload, data, "a plain payload is all of it");
        assert_eq!(received.header, Header::default());
        let guessed = if utf8 {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        assert_eq!(received.kind, guessed, "a plain payload's kind");
        return;
    }
    let header_len = data.len() - received.payload.len();
    assert!(header_len <= MAX_HEADER, "a header of {header_len} bytes");
    assert_eq!(
        data[header_len - 1],
        b'\n',
        "the header ends with a newline"
    );
    if let Some(kind) = received.header.kind {
        assert_eq!(received.kind, kind, "kind is what the header says");
    } else {
        let guessed = if utf8 {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        assert_eq!(received.kind, guessed, "kind guessed from the payload");
    }
    if let Some(id) = received.header.id {
        assert!(id >= 1, "ids start at 1");
    }

    // Written again: canonical, and read back the same.
    let mut again = Vec::new();
    write_header(&mut again, received.kind, &received.header);
    assert!(
        again.len() <= MAX_HEADER,
        "a rewritten header of {} bytes",
        again.len()
    );
    again.extend_from_slice(received.payload);
    let reread =
        parse(&again).unwrap_or_else(|e| core::panic!("a rewritten envelope refused: {e}"));
    let expected = Header {
        kind: Some(received.kind),
        ..received.header
    };
    assert_eq!(reread.header, expected, "the header read back");
    assert_eq!(reread.kind, received.kind);
    assert_eq!(reread.payload, received.payload);
    // Canonical: writing the re-read header gives the same bytes.
    let mut third = Vec::new();
    write_header(&mut third, reread.kind, &reread.header);
    assert_eq!(&again[..again.len() - received.payload.len()], &third[..]);
}
