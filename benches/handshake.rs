//! The opening handshake, server side, on the request Chromium 156 sends
//! (vectors/handshake/requests-valid.json, `chromium-156`):
//!
//! - `accept-key`: SHA-1 + base64 of the key alone, the baseline every
//!   handshake pays;
//! - `parse`: scan and validate the request (a reused parser);
//! - `parse+validate+101`: a fresh parser per connection, parse, validate,
//!   check the Origin, pick a subprotocol, write the 101;
//! - `byte-at-a-time`: the same request arriving one byte per read, to show
//!   the resumable scan keeps the cost linear.
//!
//! Throughput is in bytes of request head.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rfc6455::frame::Status;
use rfc6455::handshake::{Accept, AcceptKey, Opening, RequestParser};

/// The head of the `chromium-156` vector.
fn chromium_request() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/handshake/requests-valid.json");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vector = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "chromium-156")
        .unwrap();
    let mut head = Vec::new();
    for line in vector["lines"].as_array().unwrap() {
        head.extend_from_slice(line.as_str().unwrap().as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

fn handshake(c: &mut Criterion) {
    let request = chromium_request();
    let mut group = c.benchmark_group("handshake/chromium");
    group.throughput(Throughput::Bytes(request.len() as u64));

    group.bench_function("accept-key", |b| {
        b.iter(|| AcceptKey::from_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });

    let mut parser = RequestParser::default();
    group.bench_function("parse", |b| {
        b.iter(|| {
            parser.reset();
            match parser.parse(black_box(&request)) {
                Ok(Status::Complete(Opening::WebSocket(ws))) => ws.consumed(),
                _ => unreachable!(),
            }
        })
    });

    let mut out = Vec::with_capacity(256);
    group.bench_function("parse+validate+101", |b| {
        b.iter(|| {
            out.clear();
            let mut parser = RequestParser::default();
            let Ok(Status::Complete(Opening::WebSocket(ws))) = parser.parse(black_box(&request))
            else {
                unreachable!()
            };
            ws.check_origin(&["http://127.0.0.1:9010"]).unwrap();
            let protocol = ws.select_protocol(&["chat"]);
            ws.accept(
                &Accept::new().protocol(protocol).server("rfc6455"),
                &mut out,
            )
            .unwrap();
            black_box(&out);
        })
    });

    group.bench_function("byte-at-a-time", |b| {
        b.iter(|| {
            let mut parser = RequestParser::default();
            for end in 1..request.len() {
                let r = parser.parse(black_box(&request[..end]));
                debug_assert!(matches!(r, Ok(Status::Incomplete(_))));
            }
            matches!(parser.parse(&request), Ok(Status::Complete(_)))
        })
    });
    group.finish();
}

criterion_group!(benches, handshake);
criterion_main!(benches);
