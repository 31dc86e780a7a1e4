//! Throughput of the sans-I/O connection, in memory, with baselines measured
//! in the same run:
//!
//! - `receive/small`: one million 16-byte masked text (and binary) messages
//!   (server role), pre-encoded, fed in 64 KiB reads with every event
//!   pulled: messages/s and bytes/s. Baseline: the same reads copied into a
//!   buffer and nothing else.
//! - `receive/large`: a 64 MiB message in 64 KiB frames, binary and text
//!   (text is UTF-8 checked), bytes/s. Baseline: the same copies.
//! - `echo`: a client sends a binary message, the server decodes it and
//!   echoes it from inside `next_event_with`, the client decodes the echo;
//!   20 B, 1 KiB, 16 KiB and 1 MiB. Baseline: four copies of the payload,
//!   the least data movement an echo through two endpoints implies.
//!
//! Run: `cargo bench --bench connection -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::{Frame, OpCode};

const READ: usize = 64 << 10;
const T0: Duration = Duration::ZERO;

fn config() -> Config {
    Config {
        read_chunk: READ,
        ..Config::default()
    }
}

/// A client-side key source: any keys will do for a benchmark.
fn keys() -> Box<dyn FnMut() -> [u8; 4] + Send> {
    let mut k = 0x9e37_79b9u32;
    Box::new(move || {
        k = k.wrapping_mul(0x0019_660d).wrapping_add(0x3c6e_f35f);
        k.to_le_bytes()
    })
}

/// Feeds `wire` in reads of at most `READ` bytes, pulling every event after
/// each read. Returns the number of events.
fn feed(conn: &mut Connection, wire: &[u8]) -> usize {
    let mut events = 0;
    let mut at = 0;
    while at < wire.len() {
        let room = conn.read_buf();
        let n = room.len().min(READ).min(wire.len() - at);
        room[..n].copy_from_slice(&wire[at..at + n]);
        conn.commit_read(n, T0);
        at += n;
        while let Some(event) = conn.next_event().expect("valid input") {
            black_box(&event);
            events += 1;
        }
    }
    events
}

/// The baseline for `feed`: the same reads, copied and nothing more.
fn copy_only(buf: &mut [u8], wire: &[u8]) -> usize {
    let mut reads = 0;
    for chunk in wire.chunks(READ) {
        buf[..chunk.len()].copy_from_slice(chunk);
        black_box(&mut *buf);
        reads += 1;
    }
    reads
}

fn masked(wire: &mut Vec<u8>, fin: bool, opcode: OpCode, payload: &[u8], key: [u8; 4]) {
    let mut frame = Frame::new(opcode, payload).masked(key);
    frame.header.fin = fin;
    frame.encode_to_vec(wire);
}

fn receive_small(c: &mut Criterion) {
    const MESSAGES: usize = 1_000_000;
    let payload = b"sixteen bytes!!!";
    let mut keys = keys();
    let mut group = c.benchmark_group("receive/small");
    group.sample_size(10);
    let mut wire = Vec::new();
    for (name, opcode) in [
        ("1M x 16 B text, 64 KiB reads", OpCode::Text),
        ("1M x 16 B binary, 64 KiB reads", OpCode::Binary),
    ] {
        wire.clear();
        for _ in 0..MESSAGES {
            masked(&mut wire, true, opcode, payload, keys());
        }
        group.throughput(Throughput::ElementsAndBytes {
            elements: MESSAGES as u64,
            bytes: wire.len() as u64,
        });
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut conn = Connection::server(config());
                assert_eq!(feed(&mut conn, &wire), MESSAGES);
            })
        });
    }
    let mut buf = vec![0u8; READ];
    group.bench_function("baseline: copy the reads", |b| {
        b.iter(|| copy_only(&mut buf, &wire))
    });
    group.finish();
}

fn receive_large(c: &mut Criterion) {
    const TOTAL: usize = 64 << 20;
    const FRAME: usize = 64 << 10;
    let mut group = c.benchmark_group("receive/large");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(TOTAL as u64));
    // Text mixing one- to four-byte characters, cut at frame boundaries
    // whatever they split.
    let text = "plain ASCII, ünïcödé, 中文字符, 😀🎉 ".repeat(TOTAL / 40 + 1);
    let text = &text.as_bytes()[..TOTAL];
    let binary: Vec<u8> = (0..TOTAL).map(|i| (i * 31 + 7) as u8).collect();
    let mut keys = keys();
    for (name, opcode, payload) in [
        (
            "64 MiB binary in 64 KiB frames",
            OpCode::Binary,
            &binary[..],
        ),
        ("64 MiB text in 64 KiB frames", OpCode::Text, text),
    ] {
        let mut wire = Vec::with_capacity(TOTAL + TOTAL / FRAME * 14);
        let frames = TOTAL / FRAME;
        for (i, chunk) in payload.chunks(FRAME).enumerate() {
            let op = if i == 0 { opcode } else { OpCode::Continuation };
            masked(&mut wire, i + 1 == frames, op, chunk, keys());
        }
        let mut conn = Connection::server(config());
        group.bench_function(name, |b| {
            // One connection for all iterations: the assembly buffer is
            // reused, as it would be on a long-lived connection.
            b.iter(|| assert_eq!(feed(&mut conn, &wire), 1))
        });
    }
    let mut buf = vec![0u8; READ];
    group.bench_function("baseline: copy the reads", |b| {
        b.iter(|| copy_only(&mut buf, &binary))
    });
    group.finish();
}

/// Moves `from`'s output into `to` a read at a time, letting `to` handle
/// its events after each read with `on_event`.
fn transfer(
    from: &mut Connection,
    to: &mut Connection,
    mut on_event: impl FnMut(Event<'_>, &mut rfc6455::Sender),
) {
    loop {
        let out = from.output();
        if out.is_empty() {
            return;
        }
        let room = to.read_buf();
        let n = room.len().min(out.len());
        room[..n].copy_from_slice(&out[..n]);
        from.consume_output(n);
        to.commit_read(n, T0);
        while to
            .next_event_with(&mut on_event)
            .expect("valid input")
            .is_some()
        {}
    }
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo");
    for size in [20usize, 1 << 10, 16 << 10, 1 << 20] {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        group.throughput(Throughput::ElementsAndBytes {
            elements: 1,
            bytes: size as u64,
        });
        if size >= 1 << 20 {
            group.sample_size(20);
        } else {
            group.sample_size(100);
        }
        let mut client = Connection::client(config(), keys());
        let mut server = Connection::server(config());
        group.bench_with_input(BenchmarkId::new("binary", size), &payload, |b, payload| {
            b.iter(|| {
                client.send_binary(payload).expect("room to send");
                transfer(&mut client, &mut server, |event, tx| {
                    if let Event::Binary(data) = event {
                        tx.send_binary(data).expect("room to echo");
                    }
                });
                let mut got = 0;
                transfer(&mut server, &mut client, |event, _| {
                    if let Event::Binary(data) = event {
                        got += data.len();
                    }
                });
                assert_eq!(got, payload.len());
            })
        });
        let mut bufs = [vec![0u8; size], vec![0u8; size]];
        group.bench_with_input(
            BenchmarkId::new("baseline: 4 copies", size),
            &payload,
            |b, payload| {
                b.iter(|| {
                    let [x, y] = &mut bufs;
                    x.copy_from_slice(payload);
                    y.copy_from_slice(black_box(&x[..]));
                    x.copy_from_slice(black_box(&y[..]));
                    y.copy_from_slice(black_box(&x[..]));
                    black_box(&y[..]);
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, receive_small, receive_large, echo);
criterion_main!(benches);
