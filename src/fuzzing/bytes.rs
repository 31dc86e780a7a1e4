//! The byte layer: masking and incremental UTF-8.

use alloc::vec::Vec;

use super::{cut, Input};
use crate::mask::{apply_mask, apply_mask_scalar};
use crate::utf8::{self, Utf8Validator};

/// `mask`: the fast mask against the scalar loop and against an obvious
/// one, for any key, offset, length and alignment; a payload masked in two
/// pieces equals it masked whole; masking twice restores it.
///
/// Input: key (4), offset (8, little-endian), cut (2), skip (1: where the
/// payload starts in its buffer, for alignment), payload.
pub fn fuzz_mask(data: &[u8]) {
    let mut input = Input::new(data);
    let key = [input.u8(), input.u8(), input.u8(), input.u8()];
    let mut offset = [0u8; 8];
    offset.iter_mut().for_each(|b| *b = input.u8());
    // Wide offsets matter: the key phase wraps at usize::MAX.
    let offset = u64::from_le_bytes(offset) as usize;
    let raw_cut = input.u16();
    let skip = usize::from(input.u8() % 32);
    let payload = input.rest();

    // The obvious definition: byte i is XORed with key[(offset + i) mod 4],
    // computed without wrapping arithmetic.
    let expected: Vec<u8> = payload
        .iter()
        .enumerate()
        .map(|(i, &b)| b ^ key[(offset % 4 + i % 4) % 4])
        .collect();

    let mut buf = alloc::vec![0u8; skip + payload.len()];
    buf[skip..].copy_from_slice(payload);
    let fast = &mut buf[skip..];
    apply_mask(fast, key, offset);
    assert_eq!(fast, &expected[..], "apply_mask, offset {offset}");

    let mut scalar = payload.to_vec();
    apply_mask_scalar(&mut scalar, key, offset);
    assert_eq!(scalar, expected, "apply_mask_scalar, offset {offset}");

    // Two pieces, the second continuing the key phase.
    let at = cut(raw_cut, payload.len());
    let mut pieces = payload.to_vec();
    let (a, b) = pieces.split_at_mut(at);
    apply_mask(a, key, offset);
    apply_mask(b, key, offset.wrapping_add(at));
    assert_eq!(pieces, expected, "split at {at}, offset {offset}");

    // An involution.
    apply_mask(fast, key, offset);
    assert_eq!(fast, payload, "masking twice");
}

/// `utf8_incremental`: the validator fed in pieces agrees with
/// `core::str::from_utf8` on the whole, fails in exactly the piece where
/// the bytes stop being a prefix of valid UTF-8 (fail fast, never early),
/// reports being mid-character exactly when std calls the tail incomplete,
/// and is reusable after `finish`.
///
/// Input: number of cuts (1, low 4 bits), cuts (2 each), bytes.
pub fn fuzz_utf8_incremental(data: &[u8]) {
    let mut input = Input::new(data);
    let n = usize::from(input.u8() & 0x0f);
    let raw: Vec<u16> = (0..n).map(|_| input.u16()).collect();
    let bytes = input.rest();
    let mut cuts: Vec<usize> = raw.iter().map(|&r| cut(r, bytes.len())).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();

    let whole = core::str::from_utf8(bytes);
    assert_eq!(utf8::validate(bytes).is_ok(), whole.is_ok(), "validate");

    // The shortest prefix that can no longer become valid, if any.
    let doomed_at = match whole {
        Ok(_) => None,
        Err(e) => e.error_len().map(|_| {
            (e.valid_up_to() + 1..=bytes.len())
                .find(|&k| {
                    core::str::from_utf8(&bytes[..k]).is_err_and(|e| e.error_len().is_some())
                })
                .unwrap_or(bytes.len())
        }),
    };

    let mut v = Utf8Validator::new();
    for round in 0..2 {
        let mut w = Utf8Validator::new();
        let mut text = alloc::string::String::new();
        let mut start = 0;
        let mut failed = false;
        for &end in &cuts {
            let r = v.feed(&bytes[start..end]);
            match doomed_at {
                Some(k) if end >= k => {
                    assert!(
                        r.is_err(),
                        "round {round}: no error by byte {end}, doomed at {k}"
                    );
                    failed = true;
                    break;
                }
                _ => assert!(r.is_ok(), "round {round}: error at byte {end}, too early"),
            }
            let prefix = core::str::from_utf8(&bytes[..end]);
            let mid = prefix.is_err_and(|e| e.error_len().is_none());
            // `feed_into` accepts the same pieces and has appended exactly
            // the whole characters so far.
            assert!(
                w.feed_into(&bytes[start..end], &mut text).is_ok(),
                "round {round}: feed_into disagrees at byte {end}"
            );
            let whole_chars = match prefix {
                Ok(s) => s.len(),
                Err(e) => e.valid_up_to(),
            };
            assert_eq!(
                text.as_bytes(),
                &bytes[..whole_chars],
                "round {round}: text appended by byte {end}"
            );
            assert_eq!(
                v.is_mid_character(),
                mid,
                "round {round}: mid-character at {end}"
            );
            start = end;
        }
        if failed {
            // A failed message is abandoned: start the next one afresh.
            v = Utf8Validator::new();
        } else {
            assert_eq!(v.finish().is_ok(), whole.is_ok(), "round {round}: finish");
            assert!(!v.is_mid_character(), "finish resets");
        }
    }
}
