//! HTTP/1.1 message heads (RFC 9112): the incremental scanner shared by the
//! request and response parsers, header views, and list helpers.
//!
//! The scanner looks at each byte at most twice: once searching for the LF
//! that ends a line, and once validating the line when it is complete. It
//! keeps its place between calls (the next byte to search and where the
//! current line starts), so a head that arrives one byte per read costs the
//! same as one that arrives whole. Re-scanning a growing buffer from the
//! start on every read made one large header cost minutes of CPU elsewhere
//! (CVE-2023-43669).
//!
//! Headers are kept as offsets into the caller's buffer, in one `Vec`
//! reserved when the parser is made; parsing allocates nothing after that.

use alloc::vec::Vec;
use core::slice::Split;

use crate::frame::Status;
use crate::handshake::error::HttpError;
use crate::Limits;

const TCHAR: u8 = 1;
const FIELD: u8 = 2;
const TARGET: u8 = 4;

/// Character classes, one bit each:
/// - `TCHAR`: token characters (RFC 9110 section 5.6.2);
/// - `FIELD`: allowed in a field value: VCHAR, SP, HTAB, obs-text;
/// - `TARGET`: allowed in a request target: visible ASCII except `#`.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'')
            || matches!(
                c,
                b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            )
        {
            class |= TCHAR;
        }
        if c == b'\t' || (c >= 0x20 && c != 0x7f) {
            class |= FIELD;
        }
        if c > 0x20 && c < 0x7f && c != b'#' {
            class |= TARGET;
        }
        t[b] = class;
        b += 1;
    }
    t
};

#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    CLASS[usize::from(b)] & TCHAR != 0
}

/// A non-empty run of token characters.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Bytes a header value may hold: no CR, LF or other controls but HTAB.
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    let word_ok = |word: &[u8]| {
        // Only a word with a byte under 0x20 or a DEL needs a closer look
        // (a tab, usually).
        let w = load(word, b'a');
        !(has_less(w, 0x20) || has_zero(w ^ (LO * 0x7f)))
            || word.iter().all(|&b| CLASS[usize::from(b)] & FIELD != 0)
    };
    let mut words = s.chunks_exact(8);
    words.all(word_ok) && word_ok(words.remainder())
}

// Word-at-a-time byte tests ("Bit Twiddling Hacks", S. E. Anderson): eight
// bytes per step, in safe Rust.
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Up to 8 bytes as a little-endian word, padded with `pad`.
#[inline]
fn load(bytes: &[u8], pad: u8) -> u64 {
    let mut word = [pad; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// Flags the zero bytes of `w`. The lowest flag marks the first zero byte
/// exactly (flags above it may be false).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LO) & !w & HI
}

#[inline]
fn has_zero(w: u64) -> bool {
    zero_bytes(w) != 0
}

/// Whether a byte of `w` is below `n` (`n` <= 128).
#[inline]
fn has_less(w: u64, n: u8) -> bool {
    w.wrapping_sub(LO * u64::from(n)) & !w & HI != 0
}

/// The index of the first LF in `s`.
pub(crate) fn find_lf(s: &[u8]) -> Option<usize> {
    let mut words = s.chunks_exact(8);
    let mut i = 0;
    for word in &mut words {
        let lf = zero_bytes(load(word, 0) ^ (LO * u64::from(b'\n')));
        if lf != 0 {
            return Some(i + lf.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| i + p)
}

/// Strips optional whitespace (SP, HTAB) from both ends.
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    trim_ows_end(trim_ows_start(s))
}

fn trim_ows_start(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn trim_ows_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The longest prefix of `bytes` that is valid UTF-8. Views use it to hand
/// out `&str` for bytes the scanner already checked to be ASCII: it returns
/// them whole, without `unsafe` and without a panic path.
pub(crate) fn utf8_prefix(bytes: &[u8]) -> &str {
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

fn is_comma(b: &u8) -> bool {
    *b == b','
}

/// The elements of a comma-separated list (RFC 9110 section 5.6.1),
/// whitespace trimmed, empty elements skipped.
pub(crate) fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    value
        .split(is_comma)
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether a comma-separated list holds `token`, ASCII case-insensitively.
pub(crate) fn list_has(value: &[u8], token: &str) -> bool {
    list(value).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// One header line, as offsets into the buffer: the name is
/// `start..name_end`, the value (whitespace trimmed) `value_start..value_end`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    start: u32,
    name_end: u32,
    value_start: u32,
    value_end: u32,
}

/// One header field of a parsed head, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as sent (compare it case-insensitively).
    pub name: &'a str,
    /// The value, leading and trailing whitespace removed. It may hold
    /// bytes above 0x7F (obs-text), so it is bytes; see
    /// [`value_str`](Header::value_str).
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// The value as text, if it is valid UTF-8.
    pub fn value_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.value).ok()
    }
}

/// The header fields of a parsed head, in order. Made by
/// [`Request::headers`](crate::handshake::Request::headers) and
/// [`Response::headers`](crate::handshake::Response::headers).
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    buf: &'a [u8],
    spans: core::slice::Iter<'a, Span>,
}

impl<'a> Headers<'a> {
    pub(crate) fn new(buf: &'a [u8], spans: &'a [Span]) -> Self {
        Headers {
            buf,
            spans: spans.iter(),
        }
    }

    /// The remaining headers as (name, value) bytes: no UTF-8 check.
    pub(crate) fn raw(self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        let buf = self.buf;
        self.spans.map(move |s| {
            (
                &buf[s.start as usize..s.name_end as usize],
                &buf[s.value_start as usize..s.value_end as usize],
            )
        })
    }

    /// The value of the first header named `name` (case-insensitive).
    pub(crate) fn value_of(self, name: &str) -> Option<&'a [u8]> {
        self.raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
}

impl<'a> Iterator for Headers<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        let s = self.spans.next()?;
        Some(Header {
            name: utf8_prefix(&self.buf[s.start as usize..s.name_end as usize]),
            value: &self.buf[s.value_start as usize..s.value_end as usize],
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Headers<'_> {}

/// The elements of a comma-separated list spread over every header with a
/// given name, in order: `a, b` then `c` gives `a`, `b`, `c`.
#[derive(Debug, Clone)]
pub(crate) struct ListItems<'a> {
    headers: Headers<'a>,
    name: &'static str,
    current: Split<'a, u8, fn(&u8) -> bool>,
}

impl<'a> ListItems<'a> {
    pub(crate) fn new(headers: Headers<'a>, name: &'static str) -> Self {
        ListItems {
            headers,
            name,
            current: b"".split(is_comma as fn(&u8) -> bool),
        }
    }
}

impl<'a> Iterator for ListItems<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            for e in self.current.by_ref() {
                let e = trim_ows(e);
                if !e.is_empty() {
                    return Some(e);
                }
            }
            let name = self.name.as_bytes();
            let s = self.headers.spans.find(|s| {
                self.headers.buf[s.start as usize..s.name_end as usize].eq_ignore_ascii_case(name)
            })?;
            let value = &self.headers.buf[s.value_start as usize..s.value_end as usize];
            self.current = value.split(is_comma as fn(&u8) -> bool);
        }
    }
}

/// Which start line the head begins with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Request,
    Response,
}

/// The parsed start line, as offsets into the buffer.
///
/// Request: method `origin..a`, target `a + 1..b`. Response: status
/// `code`, reason `a..b`. Both: HTTP/1.`minor`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StartLine {
    /// Where the line starts: 2 after an ignored blank line, else 0.
    pub(crate) origin: u32,
    pub(crate) a: u32,
    pub(crate) b: u32,
    pub(crate) code: u16,
    pub(crate) minor: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartLine,
    Headers,
    /// The head ended; it is this many bytes long.
    Done(usize),
    /// The head broke a rule; every later call reports it again.
    Failed(HttpError),
}

/// The incremental head scanner.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    kind: Kind,
    state: State,
    /// The next byte to search for LF.
    pos: usize,
    /// Where the line being searched starts.
    line_start: usize,
    pub(crate) start: StartLine,
    pub(crate) spans: Vec<Span>,
    max_block: usize,
    max_start_line: usize,
    max_headers: usize,
    examined: u64,
}

impl Head {
    pub(crate) fn new(kind: Kind, limits: &Limits) -> Self {
        // Offsets are stored as u32: a larger limit could not be honoured.
        let max_block = limits.max_header_block.min(u32::MAX as usize);
        let max_start_line = match kind {
            // The line, its CRLF, and nothing past the block.
            Kind::Request => limits.max_request_line.saturating_add(2).min(max_block),
            Kind::Response => max_block,
        };
        // The shortest header line, `a:` CRLF, takes 4 bytes: never reserve
        // more spans than the block can hold, whatever max_headers says.
        let capacity = limits.max_headers.min(max_block / 4);
        Head {
            kind,
            state: State::StartLine,
            pos: 0,
            line_start: 0,
            start: StartLine::default(),
            spans: Vec::with_capacity(capacity),
            max_block,
            max_start_line,
            max_headers: limits.max_headers,
            examined: 0,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.state = State::StartLine;
        self.pos = 0;
        self.line_start = 0;
        self.start = StartLine::default();
        self.spans.clear();
    }

    pub(crate) fn scanned(&self) -> usize {
        self.pos
    }

    pub(crate) fn examined(&self) -> u64 {
        self.examined
    }

    /// The head's length, once it is complete.
    pub(crate) fn done(&self) -> Option<usize> {
        match self.state {
            State::Done(end) => Some(end),
            _ => None,
        }
    }

    /// Scans `buf` from where the last call stopped. `buf` must hold the
    /// bytes of earlier calls unchanged, with more appended. A shorter
    /// buffer restarts the scan. Once the head is complete or broken, every
    /// call gives the same answer.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Result<Status<usize>, HttpError> {
        if buf.len() < self.pos || self.done().is_some_and(|end| buf.len() < end) {
            self.reset();
        }
        if let State::Failed(e) = self.state {
            return Err(e);
        }
        let result = self.resume(buf);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    fn resume(&mut self, buf: &[u8]) -> Result<Status<usize>, HttpError> {
        loop {
            if let State::Done(end) = self.state {
                return Ok(Status::Complete(end));
            }
            let limit = match self.state {
                State::StartLine => self.start_line_limit(),
                _ => self.max_block,
            };
            let window = buf.len().min(limit);
            let searched = buf.get(self.pos..window).unwrap_or_default();
            match find_lf(searched) {
                Some(i) => {
                    let lf = self.pos + i;
                    self.examined += i as u64 + 1;
                    self.pos = lf + 1;
                    self.line(buf, lf)?;
                }
                None => {
                    self.examined += searched.len() as u64;
                    self.pos = window;
                    if window == limit {
                        return Err(self.too_long(buf));
                    }
                    return Ok(Status::Incomplete(self.needed(buf)));
                }
            }
        }
    }

    /// Where the start line must have ended: its limit counts from the
    /// line's start, past an ignored blank line, within the block's.
    fn start_line_limit(&self) -> usize {
        self.max_start_line
            .saturating_add(self.line_start)
            .min(self.max_block)
    }

    /// The error for a line that reached its limit without an LF.
    fn too_long(&self, buf: &[u8]) -> HttpError {
        if self.state != State::StartLine || self.start_line_limit() == self.max_block {
            return HttpError::HeaderBlockTooLarge;
        }
        // Which part of the request line is the long one? The target, if
        // it is still going or the version after it is of normal size
        // (`HTTP/1.1` and CR).
        let line = &buf[..self.pos];
        let mut spaces = line.iter().enumerate().filter(|&(_, &b)| b == b' ');
        match (spaces.next(), spaces.next()) {
            (Some(_), None) => HttpError::UriTooLong,
            (Some(_), Some((second, _))) if line.len() - second <= 10 => HttpError::UriTooLong,
            _ => HttpError::RequestLineTooLong,
        }
    }

    /// A lower bound on the bytes still missing: the rest of this line's
    /// CRLF and, unless this is the blank line, a blank line after it.
    fn needed(&self, buf: &[u8]) -> usize {
        let line = &buf[self.line_start..self.pos];
        let after_cr = line.last() == Some(&b'\r');
        match (self.state, line.len(), after_cr) {
            (State::Headers, 0, _) => 2,
            (State::Headers, 1, true) => 1,
            (_, _, true) => 3,
            _ => 4,
        }
    }

    /// Handles the line `line_start..lf`.
    fn line(&mut self, buf: &[u8], lf: usize) -> Result<(), HttpError> {
        let start = self.line_start;
        self.line_start = lf + 1;
        if lf == start || buf[lf - 1] != b'\r' {
            return Err(HttpError::InvalidLineEnding);
        }
        let line = &buf[start..lf - 1];
        self.examined += line.len() as u64;
        match self.state {
            // RFC 9112 section 2.2: a server SHOULD ignore a blank line
            // before the request line (some clients send a CRLF after a
            // POST body). One is ignored; a second is an error.
            State::StartLine if line.is_empty() && start == 0 && self.kind == Kind::Request => {}
            State::StartLine => {
                let mut parsed = match self.kind {
                    Kind::Request => request_line(line)?,
                    Kind::Response => status_line(line)?,
                };
                let origin = start as u32; // start < max_block <= u32::MAX
                parsed.origin = origin;
                parsed.a += origin;
                parsed.b += origin;
                self.start = parsed;
                self.state = State::Headers;
            }
            _ if line.is_empty() => self.state = State::Done(lf + 1),
            _ => {
                if self.spans.len() == self.max_headers {
                    return Err(HttpError::TooManyHeaders);
                }
                let span = header_line(line, start)?;
                self.spans.push(span);
            }
        }
        Ok(())
    }
}

/// Which error a line with a bare CR or some other bad byte earns.
fn bad_byte(b: u8, otherwise: HttpError) -> HttpError {
    if b == b'\r' {
        HttpError::InvalidLineEnding
    } else {
        otherwise
    }
}

/// `method SP request-target SP HTTP-version` (RFC 9112 section 3).
fn request_line(line: &[u8]) -> Result<StartLine, HttpError> {
    const BAD: HttpError = HttpError::MalformedRequestLine;
    let method_end = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    if method_end == 0 || line.get(method_end) != Some(&b' ') {
        return Err(line.get(method_end).map_or(BAD, |&b| bad_byte(b, BAD)));
    }
    let target_start = method_end + 1;
    let target_len = line[target_start..]
        .iter()
        .position(|&b| CLASS[usize::from(b)] & TARGET == 0)
        .unwrap_or(line.len() - target_start);
    let target_end = target_start + target_len;
    if target_len == 0 || line.get(target_end) != Some(&b' ') {
        return Err(line.get(target_end).map_or(BAD, |&b| bad_byte(b, BAD)));
    }
    let minor = version(&line[target_end + 1..], BAD)?;
    Ok(StartLine {
        origin: 0,
        a: method_end as u32,
        b: target_end as u32,
        code: 0,
        minor,
    })
}

/// `HTTP-version SP 3DIGIT SP reason-phrase` (RFC 9112 section 4). A
/// missing reason with its space (`HTTP/1.1 101`) is accepted.
fn status_line(line: &[u8]) -> Result<StartLine, HttpError> {
    const BAD: HttpError = HttpError::MalformedStatusLine;
    if line.contains(&b'\r') {
        return Err(HttpError::InvalidLineEnding);
    }
    if line.len() < 12 || line[8] != b' ' {
        return Err(BAD);
    }
    let minor = version(&line[..8], BAD)?;
    let mut code = 0u16;
    for &d in &line[9..12] {
        if !d.is_ascii_digit() {
            return Err(BAD);
        }
        code = code * 10 + u16::from(d - b'0');
    }
    if code < 100 {
        return Err(BAD);
    }
    let reason = match line.get(12) {
        None => 12,
        Some(b' ') => 13,
        Some(_) => return Err(BAD),
    };
    if !is_field_value(&line[reason..]) {
        return Err(BAD);
    }
    Ok(StartLine {
        origin: 0,
        a: reason as u32,
        b: line.len() as u32,
        code,
        minor,
    })
}

/// `HTTP/1.d`, giving d. Another major version is 505 material.
fn version(v: &[u8], bad: HttpError) -> Result<u8, HttpError> {
    match *v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if major == b'1' {
                Ok(minor - b'0')
            } else {
                Err(HttpError::UnsupportedHttpVersion)
            }
        }
        _ => Err(v
            .iter()
            .find(|&&b| b == b'\r')
            .map_or(bad, |_| HttpError::InvalidLineEnding)),
    }
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 section 5), for a line
/// starting at `offset` in the buffer.
fn header_line(line: &[u8], offset: usize) -> Result<Span, HttpError> {
    let name_end = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    match line.get(name_end) {
        Some(b':') if name_end > 0 => {}
        Some(b' ' | b'\t') if name_end == 0 => return Err(HttpError::ObsoleteFold),
        Some(b':') => return Err(HttpError::InvalidHeaderName),
        None => return Err(HttpError::MissingColon),
        Some(_) => return Err(bad_name(&line[name_end..])),
    }
    let value = &line[name_end + 1..];
    if !is_field_value(value) {
        let first_bad = value.iter().find(|&&b| CLASS[usize::from(b)] & FIELD == 0);
        return Err(bad_byte(
            first_bad.copied().unwrap_or(0),
            HttpError::InvalidHeaderValue,
        ));
    }
    let value_start = offset + line.len() - trim_ows_start(value).len();
    let value_end = offset + line.len() - (value.len() - trim_ows_end(value).len());
    Ok(Span {
        start: offset as u32,
        name_end: (offset + name_end) as u32,
        value_start: value_start as u32,
        // An all-blank value trims to empty.
        value_end: value_end.max(value_start) as u32,
    })
}

/// Classifies a header line whose name stops at a byte that is neither a
/// token character nor the colon: `rest` starts at that byte.
fn bad_name(rest: &[u8]) -> HttpError {
    let colon = rest.iter().position(|&b| b == b':');
    match rest[0] {
        b'\r' => HttpError::InvalidLineEnding,
        _ if colon.is_none() => HttpError::MissingColon,
        b' ' | b'\t' if colon.is_some_and(|c| trim_ows(&rest[..c]).is_empty()) => {
            HttpError::WhitespaceBeforeColon
        }
        _ => HttpError::InvalidHeaderName,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(kind: Kind, input: &[u8]) -> Result<Status<usize>, HttpError> {
        Head::new(kind, &Limits::default()).scan(input)
    }

    #[test]
    fn classes() {
        assert!(is_token(b"Sec-WebSocket-Key"));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b""));
        assert!(is_field_value(b"a\tb \x80"));
        assert!(!is_field_value(b"a\x7f"));
        assert_eq!(trim_ows(b" \t x y \t"), b"x y");
        assert_eq!(list(b" a,, b ,").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert!(list_has(b"keep-alive, Upgrade", "upgrade"));
    }

    #[test]
    fn word_at_a_time_matches_bytewise() {
        let mut s = [b'a'; 40];
        for i in 0..40 {
            for b in [0u8, b'\t', b'\n', b'\r', 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff] {
                s[i] = b;
                for start in 0..9 {
                    let t = &s[start..];
                    let bytewise = t.iter().position(|&c| c == b'\n');
                    assert_eq!(find_lf(t), bytewise);
                    let valid = t.iter().all(|&c| c == b'\t' || (c >= 0x20 && c != 0x7f));
                    assert_eq!(is_field_value(t), valid);
                }
                s[i] = b'a';
            }
        }
        // Two flagged bytes in one word: the first wins.
        assert_eq!(find_lf(b"ab\n\ncdefgh"), Some(2));
        assert_eq!(find_lf(b"\x0b\n"), Some(1));
    }

    #[test]
    fn lines() {
        let ok = b"GET / HTTP/1.1\r\nA: b\r\n\r\nrest";
        assert_eq!(
            scan_all(Kind::Request, ok),
            Ok(Status::Complete(ok.len() - 4))
        );
        let cases: &[(&[u8], HttpError)] = &[
            (
                b"GET / HTTP/1.1\nA: b\r\n\r\n",
                HttpError::InvalidLineEnding,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\n\r\n",
                HttpError::InvalidLineEnding,
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
                HttpError::InvalidLineEnding,
            ),
            (
                b"GET / HTTP/1.1\r\nA\r: b\r\n\r\n",
                HttpError::InvalidLineEnding,
            ),
            (b"GET  / HTTP/1.1\r\n\r\n", HttpError::MalformedRequestLine),
            (b"GET / HTTP/3.0\r\n\r\n", HttpError::UnsupportedHttpVersion),
            (b"GET / HTTP/1.1\r\n A: b\r\n\r\n", HttpError::ObsoleteFold),
            (b"GET / HTTP/1.1\r\nA b\r\n\r\n", HttpError::MissingColon),
            (
                b"GET / HTTP/1.1\r\nA : b\r\n\r\n",
                HttpError::WhitespaceBeforeColon,
            ),
            (
                b"GET / HTTP/1.1\r\nA b: c\r\n\r\n",
                HttpError::InvalidHeaderName,
            ),
            (
                b"GET / HTTP/1.1\r\n: c\r\n\r\n",
                HttpError::InvalidHeaderName,
            ),
            (
                b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
                HttpError::InvalidHeaderValue,
            ),
        ];
        for (input, err) in cases {
            assert_eq!(scan_all(Kind::Request, input), Err(*err), "{input:?}");
        }
        let resp = b"HTTP/1.1 101\r\n\r\n";
        assert_eq!(
            scan_all(Kind::Response, resp),
            Ok(Status::Complete(resp.len()))
        );
        assert_eq!(
            scan_all(Kind::Response, b"HTTP/1.1 1010 x\r\n\r\n"),
            Err(HttpError::MalformedStatusLine)
        );
    }

    #[test]
    fn needed_is_a_lower_bound() {
        let whole = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        for cut in 0..whole.len() {
            let mut head = Head::new(Kind::Request, &Limits::default());
            let Ok(Status::Incomplete(n)) = head.scan(&whole[..cut]) else {
                panic!("cut {cut}")
            };
            assert!(n >= 1 && cut + n <= whole.len(), "cut {cut}: needed {n}");
        }
    }
}
