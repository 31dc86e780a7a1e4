//! Runs every protocol vector in `vectors/protocol/` (the format is in that
//! folder's README.md) against the sans-I/O connection, fed three ways:
//!
//! - step by step: each input step (or each piece of a step's `chop`) is one
//!   read, with events drained after each;
//! - whole: all input bytes in one read;
//! - byte by byte: one read per byte.
//!
//! All three must give exactly the expected events, sent frames and outcome,
//! and a failure must be reported by the byte the vector names. The
//! application is an echo: each text or binary message (or fragment, with
//! streaming delivery) is sent back, and output is drained after every event,
//! so the order of sent frames does not depend on how the input was split.

use std::fmt;
use std::fs;
use std::num::NonZeroUsize;
use std::path::Path;
use std::time::Duration;

use rfc6455::connection::{Config, Connection, Delivery, Event, Initiator, MessageKind, State};
use rfc6455::frame::{decode_frame, DecodeRules, Role, Status, RSV1};
use rfc6455::{CloseError, FrameError, Limits, ProtocolError};
use serde_json::{Map, Value};

mod common;
use common::output::drain_into;

/// The issue asks for at least this many vectors.
const MIN_VECTORS: usize = 120;

// --- the vector format ----------------------------------------------------

struct Vector {
    file: String,
    name: String,
    role: Role,
    config: Config,
    /// permessage-deflate: the agreed parameters and the send threshold.
    deflate: Option<(String, usize)>,
    echo: bool,
    echo_fragment_size: Option<NonZeroUsize>,
    /// Each step's wire bytes and its chop sizes (empty: one piece).
    steps: Vec<(Vec<u8>, Vec<usize>)>,
    events: Vec<Got>,
    sent: Vec<SentSpec>,
    outcome: Outcome,
}

impl Vector {
    fn id(&self) -> String {
        let role = match self.role {
            Role::Server => "server",
            Role::Client => "client",
        };
        format!("{} ({role}, {})", self.name, self.file)
    }
}

/// Bytes, printed short.
#[derive(Clone, PartialEq, Eq)]
struct Bytes(Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 24;
        let b = &self.0;
        match std::str::from_utf8(b) {
            Ok(s) if b.len() <= 64 => write!(f, "{s:?}"),
            _ => {
                write!(f, "{} bytes [", b.len())?;
                for x in b.iter().take(SHOW) {
                    write!(f, "{x:02x}")?;
                }
                if b.len() > SHOW {
                    write!(f, "..")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(Bytes),
    Binary(Bytes),
    Fragment(MessageKind, Bytes, bool),
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<u16>, String),
}

/// A frame we expect the connection to send.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentSpec {
    opcode: u8,
    fin: bool,
    /// Compressed: `payload` is what the frame inflates to.
    rsv1: bool,
    /// Data and ping/pong frames: the exact payload.
    payload: Option<Bytes>,
    /// Close frames: the code (`None`: empty payload).
    code: Option<Option<u16>>,
    /// Close frames: the reason, when the vector states it.
    reason: Option<String>,
}

/// A frame the connection sent, decoded as the peer would.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentFrame {
    opcode: u8,
    fin: bool,
    rsv1: bool,
    /// Inflated when `rsv1` is set.
    payload: Bytes,
}

impl SentSpec {
    fn matches(&self, frame: &SentFrame) -> bool {
        if self.opcode != frame.opcode || self.fin != frame.fin || self.rsv1 != frame.rsv1 {
            return false;
        }
        if let Some(code) = self.code {
            let p = &frame.payload.0;
            let got_code = (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
            let got_reason = p.get(2..).map(String::from_utf8_lossy).unwrap_or_default();
            return got_code == code && self.reason.as_deref().is_none_or(|r| r == got_reason);
        }
        self.payload.as_ref() == Some(&frame.payload)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Open,
    Closed,
    Failed {
        code: u16,
        error: String,
        by_byte: usize,
    },
}

// --- parsing ----------------------------------------------------------------

type Res<T> = Result<T, String>;

fn obj<'a>(v: &'a Value, what: &str) -> Res<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| format!("{what}: expected an object"))
}

fn only_keys(m: &Map<String, Value>, allowed: &[&str], what: &str) -> Res<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what}: unknown key {k:?}")),
        None => Ok(()),
    }
}

fn uint(v: &Value, what: &str) -> Res<usize> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{what}: expected a non-negative integer"))
}

fn string<'a>(v: &'a Value, what: &str) -> Res<&'a str> {
    v.as_str()
        .ok_or_else(|| format!("{what}: expected a string"))
}

fn boolean(m: &Map<String, Value>, key: &str, default: bool) -> Res<bool> {
    match m.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| format!("{key}: expected true or false")),
    }
}

fn hex(s: &str, what: &str) -> Res<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("{what}: odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16)
                .map_err(|_| format!("{what}: bad hex {s:?}"))
        })
        .collect()
}

fn repeated(unit: &[u8], len: usize, what: &str) -> Res<Vec<u8>> {
    if unit.is_empty() && len != 0 {
        return Err(format!("{what}: empty unit to repeat"));
    }
    Ok(unit.iter().copied().cycle().take(len).collect())
}

/// A payload in any of the README's forms.
fn payload(v: &Value, what: &str) -> Res<Vec<u8>> {
    if let Some(s) = v.as_str() {
        return Ok(s.as_bytes().to_vec());
    }
    let m = obj(v, what)?;
    if let Some(h) = m.get("hex") {
        only_keys(m, &["hex"], what)?;
        return hex(string(h, what)?, what);
    }
    if let Some(unit) = m.get("repeat") {
        only_keys(m, &["repeat", "len"], what)?;
        let len = uint(m.get("len").unwrap_or(&Value::Null), what)?;
        return repeated(string(unit, what)?.as_bytes(), len, what);
    }
    if let Some(unit) = m.get("repeat_hex") {
        only_keys(m, &["repeat_hex", "len"], what)?;
        let len = uint(m.get("len").unwrap_or(&Value::Null), what)?;
        return repeated(&hex(string(unit, what)?, what)?, len, what);
    }
    if let Some(code) = m.get("code") {
        only_keys(m, &["code", "reason", "reason_hex"], what)?;
        let code = u16::try_from(uint(code, what)?).map_err(|_| format!("{what}: code"))?;
        let mut out = code.to_be_bytes().to_vec();
        if let Some(r) = m.get("reason") {
            out.extend_from_slice(string(r, what)?.as_bytes());
        }
        if let Some(r) = m.get("reason_hex") {
            out.extend(hex(string(r, what)?, what)?);
        }
        return Ok(out);
    }
    Err(format!("{what}: unknown payload form"))
}

fn opcode(v: &Value, what: &str) -> Res<u8> {
    if let Some(n) = v.as_u64() {
        return u8::try_from(n)
            .ok()
            .filter(|&n| n < 16)
            .ok_or_else(|| format!("{what}: opcode out of range"));
    }
    Ok(match string(v, what)? {
        "continuation" => 0x0,
        "text" => 0x1,
        "binary" => 0x2,
        "close" => 0x8,
        "ping" => 0x9,
        "pong" => 0xa,
        other => return Err(format!("{what}: unknown opcode {other:?}")),
    })
}

/// Encodes a frame exactly as described, rule-breaking ones included.
fn encode_frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(if fin { 0x80 } else { 0 }) | rsv | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(m | n as u8);
    } else if let Ok(n) = u16::try_from(n) {
        out.push(m | 126);
        out.extend(n.to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend((n as u64).to_be_bytes());
    }
    match mask {
        None => out.extend_from_slice(payload),
        Some(key) => {
            out.extend(key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
    }
    out
}

fn chop(m: &Map<String, Value>, what: &str) -> Res<Vec<usize>> {
    match m.get("chop") {
        None => Ok(Vec::new()),
        Some(Value::Array(sizes)) => {
            let sizes = sizes
                .iter()
                .map(|s| uint(s, what))
                .collect::<Res<Vec<_>>>()?;
            if sizes.contains(&0) {
                return Err(format!("{what}: chop size 0"));
            }
            Ok(sizes)
        }
        Some(_) => Err(format!("{what}: chop: expected a list")),
    }
}

fn steps(list: &Value, what: &str, out: &mut Vec<(Vec<u8>, Vec<usize>)>) -> Res<()> {
    let list = list
        .as_array()
        .ok_or_else(|| format!("{what}: expected a list"))?;
    for (i, step) in list.iter().enumerate() {
        let what = format!("{what}[{i}]");
        let m = obj(step, &what)?;
        if let Some(times) = m.get("repeat") {
            only_keys(m, &["repeat", "steps"], &what)?;
            let mut inner = Vec::new();
            steps(m.get("steps").unwrap_or(&Value::Null), &what, &mut inner)?;
            for _ in 0..uint(times, &what)? {
                out.extend(inner.iter().cloned());
            }
        } else if let Some(raw) = m.get("raw") {
            only_keys(m, &["raw", "chop"], &what)?;
            out.push((hex(string(raw, &what)?, &what)?, chop(m, &what)?));
        } else {
            only_keys(
                m,
                &[
                    "fin", "rsv1", "rsv2", "rsv3", "opcode", "mask", "payload", "chop",
                ],
                &what,
            )?;
            let rsv = [("rsv1", 0x40), ("rsv2", 0x20), ("rsv3", 0x10)]
                .into_iter()
                .try_fold(0u8, |acc, (k, bit)| {
                    Ok::<u8, String>(acc | if boolean(m, k, false)? { bit } else { 0 })
                })?;
            let mask = match m.get("mask") {
                None => None,
                Some(k) => Some(
                    <[u8; 4]>::try_from(hex(string(k, &what)?, &what)?)
                        .map_err(|_| format!("{what}: mask must be 4 bytes"))?,
                ),
            };
            let data = match m.get("payload") {
                None => Vec::new(),
                Some(p) => payload(p, &what)?,
            };
            let op = opcode(m.get("opcode").unwrap_or(&Value::Null), &what)?;
            let wire = encode_frame(boolean(m, "fin", true)?, rsv, op, mask, &data);
            out.push((wire, chop(m, &what)?));
        }
    }
    Ok(())
}

/// A list whose items may be `{"repeat": n, "items": [...]}`.
fn expand<T: Clone>(list: &Value, what: &str, one: &dyn Fn(&Value, &str) -> Res<T>) -> Res<Vec<T>> {
    let list = list
        .as_array()
        .ok_or_else(|| format!("{what}: expected a list"))?;
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let what = format!("{what}[{i}]");
        match item.as_object() {
            Some(m) if m.contains_key("repeat") => {
                only_keys(m, &["repeat", "items"], &what)?;
                let inner = expand(m.get("items").unwrap_or(&Value::Null), &what, one)?;
                for _ in 0..uint(&m["repeat"], &what)? {
                    out.extend(inner.iter().cloned());
                }
            }
            _ => out.push(one(item, &what)?),
        }
    }
    Ok(out)
}

fn event(v: &Value, what: &str) -> Res<Got> {
    let m = obj(v, what)?;
    let (kind, body) = match m.iter().next() {
        Some(kv) if m.len() == 1 => kv,
        _ => return Err(format!("{what}: an event has exactly one key")),
    };
    Ok(match kind.as_str() {
        "text" => Got::Text(Bytes(payload(body, what)?)),
        "binary" => Got::Binary(Bytes(payload(body, what)?)),
        "ping" => Got::Ping(Bytes(payload(body, what)?)),
        "pong" => Got::Pong(Bytes(payload(body, what)?)),
        "close" => {
            let c = obj(body, what)?;
            only_keys(c, &["code", "reason"], what)?;
            let code = match c.get("code") {
                None | Some(Value::Null) => None,
                Some(n) => Some(u16::try_from(uint(n, what)?).map_err(|_| what.to_string())?),
            };
            let reason = match c.get("reason") {
                None => String::new(),
                Some(r) => string(r, what)?.to_owned(),
            };
            Got::Close(code, reason)
        }
        "fragment" => {
            let f = obj(body, what)?;
            only_keys(f, &["kind", "payload", "fin"], what)?;
            let kind = match string(f.get("kind").unwrap_or(&Value::Null), what)? {
                "text" => MessageKind::Text,
                "binary" => MessageKind::Binary,
                other => return Err(format!("{what}: unknown kind {other:?}")),
            };
            let data = payload(f.get("payload").unwrap_or(&Value::Null), what)?;
            Got::Fragment(kind, Bytes(data), boolean(f, "fin", true)?)
        }
        other => return Err(format!("{what}: unknown event {other:?}")),
    })
}

fn sent_spec(v: &Value, what: &str) -> Res<SentSpec> {
    let m = obj(v, what)?;
    only_keys(
        m,
        &["opcode", "fin", "rsv1", "payload", "code", "reason"],
        what,
    )?;
    let op = opcode(m.get("opcode").unwrap_or(&Value::Null), what)?;
    let fin = boolean(m, "fin", true)?;
    let rsv1 = boolean(m, "rsv1", false)?;
    if op == 0x8 {
        let code = match m.get("code") {
            None => return Err(format!("{what}: a sent close states its code")),
            Some(Value::Null) => None,
            Some(n) => Some(u16::try_from(uint(n, what)?).map_err(|_| what.to_string())?),
        };
        let reason = match m.get("reason") {
            None => None,
            Some(r) => Some(string(r, what)?.to_owned()),
        };
        return Ok(SentSpec {
            opcode: op,
            fin,
            rsv1,
            payload: None,
            code: Some(code),
            reason,
        });
    }
    let data = match m.get("payload") {
        None => Vec::new(),
        Some(p) => payload(p, what)?,
    };
    Ok(SentSpec {
        opcode: op,
        fin,
        rsv1,
        payload: Some(Bytes(data)),
        code: None,
        reason: None,
    })
}

fn outcome(v: &Value, what: &str) -> Res<Outcome> {
    let m = obj(v, what)?;
    match string(m.get("state").unwrap_or(&Value::Null), what)? {
        "open" => {
            only_keys(m, &["state"], what)?;
            Ok(Outcome::Open)
        }
        "closed" => {
            only_keys(m, &["state"], what)?;
            Ok(Outcome::Closed)
        }
        "failed" => {
            only_keys(m, &["state", "code", "error", "by_byte"], what)?;
            Ok(Outcome::Failed {
                code: u16::try_from(uint(m.get("code").unwrap_or(&Value::Null), what)?)
                    .map_err(|_| what.to_string())?,
                error: string(m.get("error").unwrap_or(&Value::Null), what)?.to_owned(),
                by_byte: uint(m.get("by_byte").unwrap_or(&Value::Null), what)?,
            })
        }
        other => Err(format!("{what}: unknown state {other:?}")),
    }
}

type Settings = (Config, bool, Option<NonZeroUsize>, Option<(String, usize)>);

fn config(v: Option<&Value>, what: &str) -> Res<Settings> {
    let mut config = Config::default();
    let (mut echo, mut frag, mut deflate) = (true, None, None);
    let Some(v) = v else {
        return Ok((config, echo, frag, deflate));
    };
    let m = obj(v, what)?;
    for (key, value) in m {
        let what = format!("{what}.{key}");
        match key.as_str() {
            "max_frame_size" => config.limits.max_frame_size = uint(value, &what)? as u64,
            "max_message_size" => config.limits.max_message_size = uint(value, &what)? as u64,
            "max_fragments" => {
                config.limits.max_fragments =
                    u32::try_from(uint(value, &what)?).map_err(|_| what.clone())?
            }
            "auto_pong" => config.auto_pong = value.as_bool().ok_or(what.clone())?,
            "delivery" => {
                config.delivery = match string(value, &what)? {
                    "messages" => Delivery::Messages,
                    "frames" => Delivery::Frames,
                    other => return Err(format!("{what}: unknown delivery {other:?}")),
                }
            }
            "echo" => echo = value.as_bool().ok_or(what.clone())?,
            "echo_fragment_size" => {
                frag = Some(NonZeroUsize::new(uint(value, &what)?).ok_or(what.clone())?)
            }
            "deflate" => {
                let d = obj(value, &what)?;
                only_keys(d, &["agreed", "threshold"], &what)?;
                let agreed = string(d.get("agreed").unwrap_or(&Value::Null), &what)?;
                let threshold = uint(d.get("threshold").unwrap_or(&Value::Null), &what)?;
                deflate = Some((agreed.to_owned(), threshold));
            }
            _ => return Err(format!("{what}: unknown setting")),
        }
    }
    Ok((config, echo, frag, deflate))
}

fn parse_vector(file: &str, v: &Value) -> Res<Vector> {
    let m = obj(v, "vector")?;
    let name = string(m.get("name").unwrap_or(&Value::Null), "name")?.to_owned();
    let what = format!("{name} ({file})");
    only_keys(
        m,
        &["name", "description", "role", "config", "input", "expect"],
        &what,
    )?;
    string(m.get("description").unwrap_or(&Value::Null), &what)?;
    let role = match string(m.get("role").unwrap_or(&Value::Null), &what)? {
        "server" => Role::Server,
        "client" => Role::Client,
        other => return Err(format!("{what}: unknown role {other:?}")),
    };
    let (config, echo, echo_fragment_size, deflate) = config(m.get("config"), &what)?;
    let mut input = Vec::new();
    steps(
        m.get("input").unwrap_or(&Value::Null),
        &format!("{what} input"),
        &mut input,
    )?;
    let expect = obj(m.get("expect").unwrap_or(&Value::Null), &what)?;
    only_keys(expect, &["events", "sent", "outcome"], &what)?;
    let null = Value::Null;
    Ok(Vector {
        file: file.to_owned(),
        name,
        role,
        config,
        deflate,
        echo,
        echo_fragment_size,
        steps: input,
        events: expand(
            expect.get("events").unwrap_or(&null),
            &format!("{what} events"),
            &event,
        )?,
        sent: expand(
            expect.get("sent").unwrap_or(&null),
            &format!("{what} sent"),
            &sent_spec,
        )?,
        outcome: outcome(
            expect.get("outcome").unwrap_or(&null),
            &format!("{what} outcome"),
        )?,
    })
}

fn load_vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/protocol");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut vectors = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let list = doc
            .get("vectors")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{file}: no \"vectors\" list"));
        for v in list {
            vectors.push(parse_vector(&file, v).unwrap_or_else(|e| panic!("{file}: {e}")));
        }
    }
    // Vectors that negotiate permessage-deflate need the feature.
    #[cfg(not(feature = "deflate"))]
    vectors.retain(|v| v.deflate.is_none());
    vectors
}

// --- running -----------------------------------------------------------------

/// What one feeding of a vector produced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    events: Vec<Got>,
    sent: Vec<SentFrame>,
    error: Option<ProtocolError>,
    state: State,
    initiator: Option<Initiator>,
    should_close_transport: bool,
    /// Rule breaks seen while running (events after the end, a second error).
    violations: Vec<String>,
}

fn own(event: &Event<'_>) -> Got {
    match *event {
        Event::Text(t) => Got::Text(Bytes(t.as_bytes().to_vec())),
        Event::Binary(b) => Got::Binary(Bytes(b.to_vec())),
        Event::Fragment { kind, data, fin } => Got::Fragment(kind, Bytes(data.to_vec()), fin),
        Event::Ping(p) => Got::Ping(Bytes(p.to_vec())),
        Event::Pong(p) => Got::Pong(Bytes(p.to_vec())),
        Event::Close { code, reason } => Got::Close(code.map(|c| c.0), reason.to_owned()),
    }
}

/// The vector's permessage-deflate settings, seen from `role`: sends
/// from the threshold up are compressed, context taken over where the
/// agreed parameters allow.
#[cfg(feature = "deflate")]
fn negotiated(v: &Vector, role: Role) -> Option<rfc6455::deflate::Negotiated> {
    use rfc6455::deflate::{DeflateConfig, Params};
    let (agreed, threshold) = v.deflate.as_ref()?;
    let ext = rfc6455::handshake::parse_extensions(agreed.as_bytes())?.next()?;
    let params = Params::parse_response(&ext).ok()?;
    let config = DeflateConfig {
        context_takeover: true,
        threshold: *threshold,
        ..DeflateConfig::default()
    };
    config.agreed(params, role)
}

fn decode_output(v: &Vector, mut wire: Vec<u8>) -> Result<Vec<SentFrame>, String> {
    let peer = match v.role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let rules = DecodeRules {
        max_frame_size: u64::MAX,
        allowed_rsv: if v.deflate.is_some() { RSV1 } else { 0 },
        ..DecodeRules::new(peer)
    };
    // The peer's decompressor, for compressed frames.
    #[cfg(feature = "deflate")]
    let mut inflate = negotiated(v, peer).map(|n| rfc6455::deflate::Decompressor::new(&n));
    let mut frames = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        match decode_frame(&mut wire[at..], &rules) {
            Ok(Status::Complete((f, used))) => {
                let mut payload = f.payload.to_vec();
                #[cfg(feature = "deflate")]
                if f.header.rsv1 {
                    // Single-frame messages only, in these vectors.
                    let d = inflate.as_mut().ok_or("RSV1 without deflate")?;
                    let mut out = Vec::new();
                    d.begin();
                    d.inflate(&payload, &mut out, usize::MAX)
                        .and_then(|()| d.finish(&mut out, usize::MAX))
                        .map_err(|e| format!("sent frame does not inflate: {e}"))?;
                    payload = out;
                }
                frames.push(SentFrame {
                    opcode: f.header.opcode.as_u8(),
                    fin: f.header.fin,
                    rsv1: f.header.rsv1,
                    payload: Bytes(payload),
                });
                at += used;
            }
            Ok(Status::Incomplete(_)) => return Err("output ends inside a frame".into()),
            Err(e) => return Err(format!("output does not decode: {e}")),
        }
    }
    Ok(frames)
}

/// Feeds `pieces` one read at a time. Returns the run and, if it failed,
/// how many input bytes had been fed when the error was reported.
fn run(v: &Vector, pieces: &[&[u8]]) -> (Run, Option<usize>) {
    let mut conn = match v.role {
        Role::Server => Connection::server(v.config),
        Role::Client => {
            let mut k = 0u8;
            Connection::client(
                v.config,
                Box::new(move || {
                    k = k.wrapping_add(1);
                    [k, k ^ 0x5a, k ^ 0xa5, 0x3c]
                }),
            )
        }
    };
    #[cfg(feature = "deflate")]
    if let Some(n) = negotiated(v, v.role) {
        conn = conn.with_deflate(&n);
    }
    let (echo, frag) = (v.echo, v.echo_fragment_size);
    let mut events = Vec::new();
    let mut wire = Vec::new();
    let mut error = None;
    let mut failed_at = None;
    let mut violations = Vec::new();
    let mut fed = 0;
    for piece in pieces {
        conn.receive(piece, Duration::ZERO);
        fed += piece.len();
        loop {
            let ended = error.is_some() || matches!(events.last(), Some(Got::Close(..)));
            let step = conn.next_event_with(|event, tx| {
                let got = own(&event);
                let sent = match event {
                    _ if !echo => Ok(()),
                    Event::Text(t) => match frag {
                        Some(n) => tx.send_message_fragmented(MessageKind::Text, t.as_bytes(), n),
                        None => tx.send_text(t),
                    },
                    Event::Binary(b) => match frag {
                        Some(n) => tx.send_message_fragmented(MessageKind::Binary, b, n),
                        None => tx.send_binary(b),
                    },
                    Event::Fragment { kind, data, fin } => tx.send_fragment(kind, data, fin),
                    _ => Ok(()),
                };
                (got, sent)
            });
            match step {
                Ok(Some((got, sent))) => {
                    if ended {
                        violations.push(format!("event after the end: {got:?}"));
                    }
                    if let Err(e) = sent {
                        violations.push(format!("echo of {got:?} refused: {e}"));
                    }
                    events.push(got);
                    drain_into(&mut conn, &mut wire);
                }
                Ok(None) => break,
                Err(e) => {
                    if ended {
                        violations.push(format!("error after the end: {e}"));
                    }
                    error.get_or_insert(e);
                    failed_at.get_or_insert(fed);
                    drain_into(&mut conn, &mut wire);
                    break;
                }
            }
        }
        drain_into(&mut conn, &mut wire);
    }
    let sent = decode_output(v, wire).unwrap_or_else(|e| {
        violations.push(e);
        Vec::new()
    });
    if conn.error() != error {
        violations.push(format!(
            "error() says {:?}, next_event said {error:?}",
            conn.error()
        ));
    }
    let run = Run {
        events,
        sent,
        error,
        state: conn.state(),
        initiator: conn.close_initiator(),
        should_close_transport: conn.should_close_transport(),
        violations,
    };
    (run, failed_at)
}

fn error_name(e: ProtocolError) -> &'static str {
    match e {
        ProtocolError::Frame(f) => match f {
            FrameError::ReservedOpcode(_) => "reserved_opcode",
            FrameError::ReservedBits(_) => "reserved_bits",
            FrameError::FragmentedControl => "fragmented_control",
            FrameError::ControlTooLong => "control_too_long",
            FrameError::LengthMsbSet => "length_msb_set",
            FrameError::NonMinimalLength => "non_minimal_length",
            FrameError::FrameTooLarge => "frame_too_large",
            FrameError::UnmaskedFrame => "unmasked_frame",
            FrameError::MaskedFrame => "masked_frame",
        },
        ProtocolError::Close(c) => match c {
            CloseError::OneBytePayload => "close_one_byte",
            CloseError::PayloadTooLong => "close_too_long",
            CloseError::InvalidCode(_) => "close_invalid_code",
            CloseError::InvalidReason => "close_invalid_reason",
        },
        ProtocolError::InvalidUtf8 => "invalid_utf8",
        ProtocolError::UnexpectedContinuation => "unexpected_continuation",
        ProtocolError::ExpectedContinuation => "expected_continuation",
        ProtocolError::MessageTooLarge => "message_too_large",
        ProtocolError::TooManyFragments => "too_many_fragments",
        ProtocolError::InvalidCompressedData => "invalid_compressed_data",
        ProtocolError::DecompressionFailed => "decompression_failed",
    }
}

/// Compares a run with the vector's expectations; returns what differs.
/// `pieces` is how the input was fed: a failure due by byte N must be
/// reported once the read holding byte N has been fed.
fn check(v: &Vector, pieces: &[&[u8]], run: &Run, failed_at: Option<usize>) -> Vec<String> {
    let mut problems = run.violations.clone();
    if run.events != v.events {
        problems.push(format!(
            "events:\n    expected {:?}\n    got      {:?}",
            v.events, run.events
        ));
    }
    let sent_ok =
        run.sent.len() == v.sent.len() && v.sent.iter().zip(&run.sent).all(|(s, f)| s.matches(f));
    if !sent_ok {
        problems.push(format!(
            "sent frames:\n    expected {:?}\n    got      {:?}",
            v.sent, run.sent
        ));
    }
    let closes = run.sent.iter().filter(|f| f.opcode == 0x8).count();
    if closes > 1 {
        problems.push(format!("{closes} close frames sent"));
    }
    match &v.outcome {
        Outcome::Open => {
            if run.error.is_some() || run.state != State::Open {
                problems.push(format!(
                    "expected open, got {:?} with error {:?}",
                    run.state, run.error
                ));
            }
        }
        Outcome::Closed => {
            if run.error.is_some() || run.state != State::Closed {
                problems.push(format!(
                    "expected a clean close, got {:?} with error {:?}",
                    run.state, run.error
                ));
            }
            if run.initiator != Some(Initiator::Remote) {
                problems.push(format!("close initiator {:?}", run.initiator));
            }
            // A server closes TCP after the handshake; a client waits for it.
            if run.should_close_transport != (v.role == Role::Server) {
                problems.push(format!(
                    "should_close_transport is {}",
                    run.should_close_transport
                ));
            }
        }
        Outcome::Failed {
            code,
            error,
            by_byte,
        } => match run.error {
            None => problems.push(format!("expected failure {error} ({code}), got none")),
            Some(e) => {
                if e.close_code().0 != *code || error_name(e) != error {
                    problems.push(format!(
                        "expected failure {error} ({code}), got {} ({})",
                        error_name(e),
                        e.close_code().0
                    ));
                }
                let deadline = pieces
                    .iter()
                    .scan(0, |fed, p| {
                        *fed += p.len();
                        Some(*fed)
                    })
                    .find(|&fed| fed >= *by_byte);
                if let (Some(at), Some(deadline)) = (failed_at, deadline) {
                    if at > deadline {
                        problems.push(format!(
                            "failure reported after {at} input bytes, due by byte {by_byte}"
                        ));
                    }
                }
                if run.state != State::Closed || !run.should_close_transport {
                    problems.push(format!(
                        "after failing: state {:?}, should_close_transport {}",
                        run.state, run.should_close_transport
                    ));
                }
            }
        },
    }
    problems
}

/// The input split the three ways; `whole` is all of it.
fn feedings<'a>(v: &'a Vector, whole: &'a [u8]) -> [(&'static str, Vec<&'a [u8]>); 3] {
    let mut steps = Vec::new();
    for (wire, sizes) in &v.steps {
        if sizes.is_empty() {
            steps.push(&wire[..]);
            continue;
        }
        let mut rest = &wire[..];
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            steps.push(piece);
            rest = tail;
        }
    }
    let bytes = whole.chunks(1).collect();
    [("steps", steps), ("whole", vec![whole]), ("bytes", bytes)]
}

#[test]
fn every_protocol_vector_passes_fed_whole_in_steps_and_byte_by_byte() {
    let vectors = load_vectors();
    assert!(
        vectors.len() >= MIN_VECTORS,
        "only {} protocol vectors, want at least {MIN_VECTORS}",
        vectors.len()
    );
    let mut failures = Vec::new();
    for v in &vectors {
        let whole: Vec<u8> = v
            .steps
            .iter()
            .flat_map(|(w, _)| w.iter().copied())
            .collect();
        let mut first: Option<(&str, Run)> = None;
        for (mode, pieces) in feedings(v, &whole) {
            let (run, failed_at) = run(v, &pieces);
            for p in check(v, &pieces, &run, failed_at) {
                failures.push(format!("{} fed {mode}: {p}", v.id()));
            }
            match &first {
                None => first = Some((mode, run)),
                Some((m, r)) if *r != run => failures.push(format!(
                    "{} fed {mode} differs from fed {m}:\n    {m}: {r:?}\n    {mode}: {run:?}",
                    v.id()
                )),
                Some(_) => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors' checks failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn vector_names_are_unique_per_role_and_cover_the_autobahn_groups() {
    let vectors = load_vectors();
    let mut seen = std::collections::HashSet::new();
    for v in &vectors {
        assert!(
            seen.insert((v.role, v.name.clone())),
            "duplicate {}",
            v.id()
        );
    }
    for group in ["1", "2", "3", "4", "5", "6", "7", "9", "10"] {
        let n = vectors
            .iter()
            .filter(|v| v.name.split('.').next() == Some(group))
            .count();
        assert!(n > 0, "no vector for Autobahn group {group}");
    }
    // permessage-deflate: the RSV1 rules and the RFC 7692 frames.
    #[cfg(feature = "deflate")]
    {
        let deflate = vectors.iter().filter(|v| v.deflate.is_some()).count();
        assert!(deflate >= 30, "only {deflate} permessage-deflate vectors");
        for section in [
            "7.2.3.1", "7.2.3.2", "7.2.3.3", "7.2.3.4", "7.2.3.5", "7.2.3.6",
        ] {
            let name = format!("rfc7692-{section}");
            assert!(vectors.iter().any(|v| v.name == name), "no vector {name}");
        }
    }
    // The defaults the vectors rely on when they set no config.
    assert_eq!(Config::default().limits, Limits::DEFAULT);
}
