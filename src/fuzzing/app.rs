//! The bundled application's routing (`src/server/app.rs`): what it makes
//! of a parsed path and query. The request head itself is the
//! `handshake_request` target's.

use std::prelude::rust_2021::*;

use super::Input;
use crate::server::app::{
    decode, decode_form, room, topics_route, PushQuery, RoomQuery, TopicsQuery, MAX_EPOCH_LEN,
    PUBLISH_PATH, TOPICS_LISTED, TOPICS_LISTED_MAX, TOPICS_PATH, TOPIC_PATH,
};
use crate::server::check_topic_name;

/// The longest topic name in the round trips (the server's default is
/// longer; any bound will do).
const MAX_NAME: usize = 200;

/// `app_routes`: the app's decoders against slow, obvious ones, and round
/// trips of valid names and queries through percent-encoding.
///
/// - `/topic/NAME` and `/publish/NAME` (strict percent-decoding): a name
///   comes out exactly when the obvious decoder accepts the bytes (`%` and
///   two hex digits, every other byte itself, the result UTF-8), equal to
///   its result; a refusal is a 400. Query values likewise, `+` a space.
/// - A room query (`ids`, `since`, `epoch`): an accepted one has `ids` set
///   when `since` is, an epoch of at most `MAX_EPOCH_LEN` bytes, and
///   written out again it parses to the same; a refusal is a 400.
/// - `/push?topic=..&data=..`: equal to the obvious reading (pairs split
///   on `&` then the first `=`, keys compared as they are, the last
///   winning); written out again it parses to the same.
/// - `/topics[/NAME]` is routed exactly for those paths, and `?limit=N` is
///   the obvious reading: a 400 if any `limit` is not digits, else the
///   last one, capped.
/// - Any name that passes `check_topic_name`, percent-encoded in any mix
///   of escaped and literal bytes (and hex case), decodes to itself from
///   the path and from the query.
///
/// Input: a mode byte (0: a path, 1: a query, 2: a name to encode, with
/// the next byte's bits choosing the escapes), then the text (invalid
/// UTF-8 replaced: the head parser hands the app `&str`s).
pub fn fuzz_app_routes(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.u8() % 3;
    let style = input.u8();
    let text = String::from_utf8_lossy(input.rest());
    match mode {
        0 => check_path(&text),
        1 => check_query(&text),
        _ => check_name_round_trip(&text, style),
    }
}

fn check_path(path: &str) {
    let routed = room(path);
    assert_eq!(routed.is_some(), path.starts_with(TOPIC_PATH), "{path:?}");
    let encoded = path.strip_prefix(TOPIC_PATH).unwrap_or(path);
    let expected = slow_decode(encoded, false);
    match decode(encoded) {
        Ok(name) => assert_eq!(Some(&name), expected.as_ref(), "{encoded:?}"),
        Err(refusal) => {
            assert_eq!(refusal.status(), 400);
            assert_eq!(expected, None, "{encoded:?} refused");
        }
    }
    if let Some(result) = routed {
        assert_eq!(result.ok(), expected, "room {path:?}");
    }
    match topics_route(path) {
        Some(None) => assert_eq!(path, TOPICS_PATH),
        Some(Some(name)) => assert_eq!(format!("{TOPICS_PATH}/{name}"), path),
        None => assert!(
            path != TOPICS_PATH && !path.starts_with("/topics/"),
            "{path:?}"
        ),
    }
    // The publish route decodes its name the same way.
    let publish = format!("{PUBLISH_PATH}{encoded}");
    let name = publish.strip_prefix(PUBLISH_PATH).map(decode);
    assert_eq!(name.and_then(Result::ok), expected);
    assert_eq!(
        decode_form(encoded),
        slow_decode(encoded, true),
        "{encoded:?}"
    );
}

fn check_query(query: &str) {
    let limits: Vec<&str> = query
        .split('&')
        .filter_map(|p| p.strip_prefix("limit="))
        .collect();
    let expected = if limits
        .iter()
        .any(|v| v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()))
    {
        Err(400)
    } else {
        Ok(limits.last().map_or(TOPICS_LISTED, |v| {
            v.parse::<u128>().map_or(TOPICS_LISTED_MAX, |n| {
                n.min(TOPICS_LISTED_MAX as u128) as usize
            })
        }))
    };
    let got = TopicsQuery::parse(Some(query))
        .map(|q| q.limit)
        .map_err(|r| r.status());
    assert_eq!(got, expected, "{query:?}");
    match RoomQuery::parse(Some(query)) {
        Ok(q) => {
            assert!(q.ids || q.since.is_none(), "since without ids: {query:?}");
            if let Some(epoch) = &q.epoch {
                assert!(epoch.len() <= MAX_EPOCH_LEN, "epoch of {}", epoch.len());
            }
            let mut again = format!("ids={}", u8::from(q.ids));
            if let Some(since) = q.since {
                again.push_str(&format!("&since={since}"));
            }
            if let Some(epoch) = &q.epoch {
                again.push_str(&format!("&epoch={}", encode(epoch, 0, true)));
            }
            let reread = RoomQuery::parse(Some(&again));
            assert!(
                reread.as_ref().is_ok_and(|r| *r == q),
                "{again:?} from {query:?}"
            );
        }
        Err(refusal) => assert_eq!(refusal.status(), 400),
    }

    let expected = slow_push(query);
    match PushQuery::parse(Some(query)) {
        Ok(q) => {
            assert_eq!(
                Some((&q.topic, &q.data)),
                expected.as_ref().map(|(t, d)| (t, d))
            );
            let mut again = format!("data={}", encode(&q.data, 0, true));
            if let Some(topic) = &q.topic {
                again = format!("x=1&topic={}&{again}", encode(topic, 0x55, true));
            }
            let reread = PushQuery::parse(Some(&again));
            assert!(
                reread.as_ref().is_ok_and(|r| *r == q),
                "{again:?} from {query:?}"
            );
        }
        Err(refusal) => {
            assert_eq!(refusal.status(), 400);
            assert_eq!(expected, None, "{query:?} refused");
        }
    }
}

fn check_name_round_trip(name: &str, style: u8) {
    if check_topic_name(name, MAX_NAME).is_err() {
        return;
    }
    let path = format!("{TOPIC_PATH}{}", encode(name, style, false));
    let routed = room(&path).map(|r| r.ok());
    assert_eq!(routed, Some(Some(name.to_owned())), "{path:?}");
    let query = format!("topic={}", encode(name, style, true));
    let pushed = PushQuery::parse(Some(&query)).ok().and_then(|q| q.topic);
    assert_eq!(pushed.as_deref(), Some(name), "{query:?}");
}

/// Percent-encodes `s`: bytes a path or query must escape always, and
/// the others where `style`'s bit for them (cycling) is set, in upper or
/// lower case hex; a space as `+` in a query when the style says so.
fn encode(s: &str, style: u8, query: bool) -> String {
    let mut out = String::new();
    for (i, b) in s.bytes().enumerate() {
        let bit = (style >> (i % 8)) & 1 == 1;
        let must = !(b.is_ascii_alphanumeric() || b"-._~!$'()*,;:@".contains(&b));
        if b == b' ' && query && style & 0x80 != 0 {
            out.push('+');
        } else if must || bit {
            if bit {
                out.push_str(&format!("%{b:02x}"));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(char::from(b));
        }
    }
    out
}

/// The obvious decoder: `%` and two hex digits is that byte, a `+` a
/// space when `plus`, any other byte itself; the result must be UTF-8.
fn slow_decode(s: &str, plus: bool) -> Option<String> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(if plus && b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The obvious reading of a push query: `None` when a `topic` or `data`
/// value does not decode.
fn slow_push(query: &str) -> Option<(Option<String>, String)> {
    let (mut topic, mut data) = (None, String::new());
    for pair in query.split('&') {
        let (key, value) = match pair.find('=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, ""),
        };
        if key == "topic" {
            topic = Some(slow_decode(value, true)?);
        } else if key == "data" {
            data = slow_decode(value, true)?;
        }
    }
    Some((topic, data))
}
