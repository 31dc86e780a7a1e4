//! Runs the permessage-deflate vectors in `vectors/deflate/` (the format is
//! in that folder's README.md): negotiation in both roles, and compressed
//! payloads through the `Decompressor` (and, where the vector says zlib
//! makes those bytes, the `Compressor`).
#![cfg(feature = "deflate")]

use std::fs;
use std::path::Path;
use std::time::Duration;

use rfc6455::connection::{Config, Connection};
use rfc6455::deflate::{
    Compressor, Decompressor, DeflateConfig, Direction, InflateError, ParamError, Params,
    ResponseError,
};
use rfc6455::frame::Role;
use rfc6455::handshake::parse_extensions;
use rfc6455::{Limits, ProtocolError};
use serde_json::Value;

fn load(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vectors/deflate")
        .join(file);
    let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn config(v: &Value) -> DeflateConfig {
    let c = &v["config"];
    let mut config = DeflateConfig::default();
    if let Some(b) = c["max_window_bits"].as_u64() {
        config.max_window_bits = b as u8;
    }
    if let Some(b) = c["peer_max_window_bits"].as_u64() {
        config.peer_max_window_bits = Some(b as u8);
    }
    config.context_takeover = c["context_takeover"].as_bool().unwrap_or(false);
    config.peer_context_takeover = c["peer_context_takeover"].as_bool().unwrap_or(false);
    config
}

fn name(v: &Value) -> &str {
    v["name"].as_str().unwrap()
}

#[test]
fn server_negotiation() {
    let vectors = load("negotiation-server.json");
    assert!(vectors.len() >= 25);
    for v in &vectors {
        let offer = v["offer"].as_str().unwrap();
        let offers = parse_extensions(offer.as_bytes()).expect("offers follow the grammar");
        let got = config(v).negotiate(offers).map(|n| n.response());
        assert_eq!(got.as_deref(), v["response"].as_str(), "{}", name(v));
        // Whatever a server answers, a client that made the same offer
        // accepts it: the answer stays within the offer.
        if let Some(response) = &got {
            let ext = parse_extensions(response.as_bytes())
                .unwrap()
                .next()
                .unwrap();
            Params::parse_response(&ext).expect("the response parses");
        }
    }
}

fn error_name(e: ResponseError) -> &'static str {
    match e {
        ResponseError::Param(ParamError::Unknown) => "unknown",
        ResponseError::Param(ParamError::Duplicate) => "duplicate",
        ResponseError::Param(ParamError::InvalidValue) => "invalid_value",
        ResponseError::Param(ParamError::MissingValue) => "missing_value",
        ResponseError::Unoffered => "unoffered_extension",
        ResponseError::Repeated => "repeated",
        ResponseError::MissingServerNoContextTakeover => "missing_server_no_context_takeover",
        ResponseError::MissingServerMaxWindowBits => "missing_server_max_window_bits",
        ResponseError::WindowTooLarge => "window_too_large",
        ResponseError::UnofferedClientMaxWindowBits => "unoffered_client_max_window_bits",
        ResponseError::UnsupportedWindow => "unsupported_window",
    }
}

fn direction(v: &Value) -> Direction {
    Direction {
        window_bits: v["window_bits"].as_u64().unwrap() as u8,
        takeover: v["takeover"].as_bool().unwrap(),
    }
}

#[test]
fn client_negotiation() {
    let vectors = load("negotiation-client.json");
    assert!(vectors.len() >= 20);
    for v in &vectors {
        let config = config(v);
        assert_eq!(
            config.offer().to_string(),
            v["offer"].as_str().unwrap(),
            "{}",
            name(v)
        );
        let response = v["response"].as_str().unwrap_or("");
        let extensions = parse_extensions(response.as_bytes()).unwrap();
        let got = config.accept_extensions(extensions);
        let expect = &v["expect"];
        match (got, expect["error"].as_str()) {
            (Err(e), Some(want)) => assert_eq!(error_name(e), want, "{}", name(v)),
            (Ok(None), None) => assert_eq!(expect["negotiated"], false, "{}", name(v)),
            (Ok(Some(n)), None) => {
                assert_eq!(n.send(), direction(&expect["send"]), "{}", name(v));
                assert_eq!(n.recv(), direction(&expect["recv"]), "{}", name(v));
            }
            (got, _) => panic!("{}: got {got:?}, expected {expect}", name(v)),
        }
    }
}

fn payload(parts: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts.as_array().unwrap() {
        match part {
            Value::String(hex) => out.extend(
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()),
            ),
            Value::Object(m) => {
                let byte = u8::from_str_radix(m["repeat_hex"].as_str().unwrap(), 16).unwrap();
                let len = m["len"].as_u64().unwrap() as usize;
                out.resize(out.len() + len, byte);
            }
            other => panic!("bad payload part {other}"),
        }
    }
    out
}

#[test]
fn payloads() {
    let vectors = load("payloads.json");
    for v in &vectors {
        let takeover = v["takeover"].as_bool().unwrap();
        let bits = v["window_bits"].as_u64().unwrap() as u8;
        let max = v["max_message_size"].as_u64().unwrap_or(64 << 20) as usize;
        // Both directions agreed alike; this end receives as the server and
        // compresses (for the `zlib` checks) as the server too.
        let params = Params {
            server_no_context_takeover: !takeover,
            client_no_context_takeover: !takeover,
            server_max_window_bits: Some(bits),
            client_max_window_bits: Some(Some(bits)),
        };
        let config = DeflateConfig {
            context_takeover: takeover,
            level: 6.into(),
            threshold: 0,
            ..DeflateConfig::default()
        };
        let negotiated = config.agreed(params, Role::Server).unwrap();
        let mut inflate = Decompressor::new(&negotiated);
        let mut deflate = Compressor::new(&negotiated);
        for (i, m) in v["messages"].as_array().unwrap().iter().enumerate() {
            let id = format!("{} message {i}", name(v));
            let data = payload(&m["payload"]);
            let mut out = Vec::new();
            inflate.begin();
            // In pieces of 1000 bytes, as reads might bring it.
            let mut result = data.chunks(1000).try_for_each(|piece| {
                let r = inflate.inflate(piece, &mut out, max);
                assert!(out.len() <= max, "{id}: {} bytes held", out.len());
                r
            });
            if result.is_ok() {
                result = inflate.finish(&mut out, max);
            }
            assert!(
                out.len() <= max && out.capacity() <= max,
                "{id}: {} bytes reserved",
                out.capacity()
            );
            match (result, m["error"].as_str()) {
                (Ok(()), None) => {
                    if let Some(text) = m["inflated"].as_str() {
                        assert_eq!(String::from_utf8(out.clone()).unwrap(), text, "{id}");
                    }
                    if let Some(len) = m["inflated_len"].as_u64() {
                        assert_eq!(out.len() as u64, len, "{id}");
                    }
                }
                (Err(InflateError::InvalidData), Some("invalid_data")) => {}
                (Err(InflateError::TooLarge), Some("too_large")) => {
                    assert_eq!(out.len(), max, "{id}: stops at the limit");
                }
                (got, want) => panic!("{id}: got {got:?}, expected {want:?}"),
            }
            if m["zlib"] == true {
                let mut made = Vec::new();
                let text = m["inflated"].as_str().unwrap().as_bytes();
                deflate.compress_fragment(text, true, &mut made).unwrap();
                assert_eq!(made, data, "{id}: compressed bytes");
            } else if let Some(text) = m["inflated"].as_str() {
                // Keep the compressor's history in step with the receiver's.
                deflate
                    .compress_fragment(text.as_bytes(), true, &mut Vec::new())
                    .unwrap();
            }
        }
    }
}

/// A client frame with a zero mask key (legal, and the payload stays as
/// it is).
fn client_frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n < 1 << 16 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn the_bombs_close_with_1009_at_the_connection_whole_and_in_fragments() {
    let bombs: Vec<Value> = load("payloads.json")
        .into_iter()
        .filter(|v| name(v).starts_with("bomb-") && v["messages"][0]["error"] == "too_large")
        .collect();
    assert_eq!(bombs.len(), 2, "the 4 MiB and the 1 GiB bomb");
    let offer = parse_extensions(b"permessage-deflate").unwrap();
    let negotiated = DeflateConfig::default().negotiate(offer).unwrap();
    for v in &bombs {
        let max = v["max_message_size"].as_u64().unwrap();
        let data = payload(&v["messages"][0]["payload"]);
        for pieces in [1, 64, 4096] {
            let id = format!("{} in {pieces} frames", name(v));
            let size = data.len().div_ceil(pieces);
            let mut wire = Vec::new();
            let chunks: Vec<&[u8]> = data.chunks(size).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let opcode = if i == 0 { 2 } else { 0 };
                wire.extend(client_frame(i + 1 == chunks.len(), i == 0, opcode, chunk));
            }
            let limits = Limits {
                max_message_size: max,
                max_frame_size: 2 << 20,
                ..Limits::DEFAULT
            };
            let mut conn = Connection::server(Config {
                limits,
                ..Config::default()
            })
            .with_deflate(&negotiated);
            // Read by read, as a socket brings it: the error must come
            // within the read that passes the limit, long before the end.
            let mut fed = 0;
            let mut result = Ok(None);
            for read in wire.chunks(16 << 10) {
                conn.receive(read, Duration::ZERO);
                fed += read.len();
                result = conn.next_event().map(|e| e.map(|_| ()));
                assert!(
                    conn.heap_bytes() as u64 <= max + (4 << 20),
                    "{id}: {} bytes held",
                    conn.heap_bytes()
                );
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(ProtocolError::MessageTooLarge), "{id}");
            // Deflate reaches about 1030:1 here: the limit passes within
            // the first max/1000 bytes of input, plus a read and headers.
            let bound = max / 1000 + (16 << 10) + 14 * pieces as u64;
            assert!(
                (fed as u64) <= bound,
                "{id}: read {fed} bytes of {}",
                wire.len()
            );
            let out = conn.output().to_vec();
            assert_eq!(
                (out[0], &out[2..4]),
                (0x88, &[0x03, 0xf1][..]),
                "{id}: close 1009"
            );
        }
    }
}
