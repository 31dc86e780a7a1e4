//! UTF-8 validation benchmarks, against `std::str::from_utf8` on the same
//! bytes in the same run, in bytes per second.
//!
//! Four kinds of text, each made almost entirely of characters of one width:
//! ASCII (1 byte), Cyrillic (2), Chinese (3) and emoji (4), with the spaces
//! and punctuation real text has.
//!
//! - `utf8_whole/<kind>/<size>`: `utf8::validate` (what a single-frame text
//!   message goes through) against `std::str::from_utf8`, 64 B to 1 MiB.
//!   125 B is a typical small chat message.
//! - `utf8_split/<kind>/<piece>`: 64 KiB fed to `Utf8Validator` in pieces of
//!   125 B or 1,000 B (a text message in many frames, or one frame in many
//!   reads). Neither size is a multiple of 2, 3 or 4, so most cuts fall
//!   inside a character. Two baselines: `std/<piece>` does the same job with
//!   `std::str::from_utf8` on each piece (carrying an unfinished character
//!   over, as `Utf8Validator` does); `std-whole` validates the whole 64 KiB
//!   once, which is what the message would cost checked at its end, without
//!   failing fast, and bounds what any piecewise check can reach.
//!
//! `cargo bench --bench utf8`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rfc6455::utf8::{validate, Utf8Validator};

const KIB: usize = 1024;

/// (name, a sample that repeats to make the text)
const KINDS: [(&str, &str); 4] = [
    (
        "ascii",
        "The quick brown fox jumps over the lazy dog; sphinx of black quartz, judge my vow. ",
    ),
    (
        "2-byte",
        "Съешь же ещё этих мягких французских булок, да выпей чаю. ",
    ),
    (
        "3-byte",
        "浏览器通过长连接向服务器发送文本和二进制消息，并用心跳保持连接。",
    ),
    ("4-byte", "😀🚀🎉🌍🔥💬📈🛰️ "),
];

/// `sample` repeated to `len` bytes at most, cut at a character boundary.
fn text(sample: &str, len: usize) -> Vec<u8> {
    let mut s = String::with_capacity(len + sample.len());
    while s.len() < len {
        s.push_str(sample);
    }
    let mut end = len;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.into_bytes()
}

/// The baseline for pieces: `std::str::from_utf8` on each piece, the bytes
/// of a character cut at the end of one carried to the next.
fn std_pieces(bytes: &[u8], piece: usize) -> bool {
    let mut carry = [0u8; 4];
    let mut carried = 0;
    for mut p in bytes.chunks(piece) {
        if carried > 0 {
            let width = match carry[0] {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let take = (width - carried).min(p.len());
            carry[carried..carried + take].copy_from_slice(&p[..take]);
            carried += take;
            p = &p[take..];
            match std::str::from_utf8(&carry[..carried]) {
                Ok(_) => carried = 0,
                Err(e) if e.error_len().is_none() => continue,
                Err(_) => return false,
            }
        }
        match std::str::from_utf8(p) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                let tail = &p[e.valid_up_to()..];
                carry[..tail.len()].copy_from_slice(tail);
                carried = tail.len();
            }
            Err(_) => return false,
        }
    }
    carried == 0
}

fn whole(c: &mut Criterion) {
    for (kind, sample) in KINDS {
        let mut group = c.benchmark_group(format!("utf8_whole/{kind}"));
        for size in [64, 125, KIB, 64 * KIB, 1024 * KIB] {
            let bytes = text(sample, size);
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_with_input(BenchmarkId::new("ours", size), &bytes, |b, bytes| {
                b.iter(|| validate(black_box(bytes)).is_ok())
            });
            group.bench_with_input(BenchmarkId::new("std", size), &bytes, |b, bytes| {
                b.iter(|| std::str::from_utf8(black_box(bytes)).is_ok())
            });
        }
        group.finish();
    }
}

fn split(c: &mut Criterion) {
    for (kind, sample) in KINDS {
        let mut group = c.benchmark_group(format!("utf8_split/{kind}"));
        let bytes = text(sample, 64 * KIB);
        assert!(std_pieces(&bytes, 125) && std_pieces(&bytes, 1000));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for piece in [125, 1000] {
            group.bench_with_input(BenchmarkId::new("ours", piece), &piece, |b, &piece| {
                b.iter(|| {
                    let mut v = Utf8Validator::new();
                    black_box(&bytes).chunks(piece).all(|p| v.feed(p).is_ok()) && v.finish().is_ok()
                })
            });
            group.bench_with_input(BenchmarkId::new("std", piece), &piece, |b, &piece| {
                b.iter(|| std_pieces(black_box(&bytes), piece))
            });
        }
        group.bench_function("std-whole", |b| {
            b.iter(|| std::str::from_utf8(black_box(&bytes)).is_ok())
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = whole, split
}
criterion_main!(benches);
