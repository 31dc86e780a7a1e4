//! UTF-8 validation, whole and incremental (RFC 6455 sections 5.6 and 8.1).
//!
//! A text message may be split across frames at any byte, even inside a
//! character, and an endpoint should fail as soon as the bytes can never
//! become valid rather than at the end of the message. [`Utf8Validator`]
//! does that: it cuts an unfinished character off the end of each piece,
//! validates the rest with a vectorised validator (`simdutf8`) in one pass,
//! and carries the cut-off bytes (at most three) to the next piece once the
//! standard library has confirmed they are a valid prefix of some
//! character. So every byte that rules validity out is caught in the piece
//! that holds it.

use core::str;

use crate::error::Utf8Error;

/// Validates a complete UTF-8 byte string.
#[inline]
pub fn validate(bytes: &[u8]) -> Result<&str, Utf8Error> {
    // The fast validator answers only yes/no; a "no" is rare, so no need to
    // be quick about it.
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(_) => Err(Utf8Error),
    }
}

/// Incremental, fail-fast UTF-8 validation across message fragments.
///
/// ```
/// use rfc6455::utf8::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// let euro = "€".as_bytes(); // e2 82 ac
/// assert!(v.feed(&euro[..1]).is_ok()); // a valid prefix: wait for more
/// assert!(v.feed(&euro[1..]).is_ok());
/// assert!(v.finish().is_ok());
///
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(&[0xf4, 0x90]).is_err()); // above U+10FFFF: fails at once
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utf8Validator {
    /// The bytes of an unfinished character from the previous piece.
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Whether the bytes fed so far end inside a character.
    pub const fn is_mid_character(&self) -> bool {
        self.pending_len != 0
    }

    /// Validates the next piece of the message. Fails as soon as the bytes
    /// seen so far cannot be the start of valid UTF-8.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), Utf8Error> {
        self.feed_with(piece, |_| {})
    }

    /// Like [`feed`](Self::feed), and appends the characters completed so
    /// far to `text`, in the same pass: a message assembled this way needs
    /// no second check to become a `&str`. On error, `text` may hold part of
    /// the piece.
    pub fn feed_into(
        &mut self,
        piece: &[u8],
        text: &mut alloc::string::String,
    ) -> Result<(), Utf8Error> {
        self.feed_with(piece, |s| text.push_str(s))
    }

    /// `feed`, handing each validated run of whole characters to `sink`.
    fn feed_with(&mut self, mut piece: &[u8], mut sink: impl FnMut(&str)) -> Result<(), Utf8Error> {
        if self.pending_len != 0 {
            piece = self.complete_pending(piece, &mut sink)?;
            if self.pending_len != 0 {
                // `piece` was used up and the character is still unfinished.
                return Ok(());
            }
        }
        // One pass over the piece: the complete characters go to the fast
        // validator, an unfinished one at the end is kept for the next piece.
        let (whole, tail) = piece.split_at(complete_len(piece));
        match simdutf8::basic::from_utf8(whole) {
            Ok(text) => sink(text),
            Err(_) => return Err(Utf8Error),
        }
        if !tail.is_empty() {
            // Fail fast if the unfinished character can never be valid.
            match str::from_utf8(tail) {
                Err(e) if e.error_len().is_none() && e.valid_up_to() == 0 => {}
                _ => return Err(Utf8Error),
            }
            self.pending[..tail.len()].copy_from_slice(tail);
            self.pending_len = tail.len() as u8; // at most 3
        }
        Ok(())
    }

    /// Ends the message: fails if it stopped inside a character.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let mid = self.is_mid_character();
        *self = Self::new();
        if mid {
            Err(Utf8Error)
        } else {
            Ok(())
        }
    }

    /// Takes bytes from `piece` to finish the pending character; returns the
    /// rest of `piece`.
    fn complete_pending<'p>(
        &mut self,
        piece: &'p [u8],
        sink: &mut impl FnMut(&str),
    ) -> Result<&'p [u8], Utf8Error> {
        let have = usize::from(self.pending_len);
        let need = char_width(self.pending[0]).saturating_sub(have);
        let take = need.min(piece.len());
        self.pending[have..have + take].copy_from_slice(&piece[..take]);
        let filled = have + take;
        match str::from_utf8(&self.pending[..filled]) {
            Ok(text) => {
                sink(text);
                self.pending_len = 0;
            }
            Err(e) if e.error_len().is_none() => self.pending_len = filled as u8,
            Err(_) => return Err(Utf8Error),
        }
        Ok(&piece[take..])
    }
}

/// The length of `bytes` without the character cut off at its end, if one
/// is: the last lead byte, within the last three bytes, starts a character
/// longer than what follows it. Invalid bytes are left in, for the validator
/// to reject.
#[inline]
fn complete_len(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let byte = bytes[len - back];
        if byte & 0xc0 != 0x80 {
            // Not a continuation byte: the last character starts here.
            return if char_width(byte) > back {
                len - back
            } else {
                len
            };
        }
    }
    len
}

/// The length of the character a valid lead byte starts. Lead bytes that are
/// never valid return 1, which makes the next check fail.
#[inline]
fn char_width(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_everywhere(bytes: &[u8]) {
        let whole = str::from_utf8(bytes).is_ok();
        for cut in 0..=bytes.len() {
            let mut v = Utf8Validator::new();
            let ok = v.feed(&bytes[..cut]).is_ok()
                && v.feed(&bytes[cut..]).is_ok()
                && v.finish().is_ok();
            assert_eq!(ok, whole, "{bytes:x?} cut at {cut}");
        }
        for step in 1..4 {
            let mut v = Utf8Validator::new();
            let ok = bytes.chunks(step).all(|c| v.feed(c).is_ok()) && v.finish().is_ok();
            assert_eq!(ok, whole, "{bytes:x?} in steps of {step}");
        }
    }

    #[test]
    fn agrees_with_std_on_any_split() {
        let samples: &[&[u8]] = &[
            "Hello-µ@ßöäüàá-UTF-8!!".as_bytes(),
            "κόσμε".as_bytes(),
            "中文😀€".as_bytes(),
            &[
                0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80,
            ],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0xf0, 0x9f, 0x98],
            &[0xc0, 0xaf],
            &[0xe0, 0x80, 0xaf],
            &[0xed, 0x9f, 0xbf],
            &[0xef, 0xbf, 0xbf],
            &[0x80],
            &[0xfe],
        ];
        for s in samples {
            split_everywhere(s);
        }
    }

    #[test]
    fn fails_fast_on_an_impossible_prefix() {
        // 6.3.2-style: the error lies inside the first fragment.
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[b'a', 0xed, 0xa0]).is_err());
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xf0]).is_ok());
        assert!(v.feed(&[0x8f]).is_err());
    }

    #[test]
    fn finish_resets_for_the_next_message() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(&[0xe2, 0x82]).is_ok());
        assert!(v.finish().is_err());
        assert!(v.feed(b"ok").is_ok());
        assert!(v.finish().is_ok());
    }
}
