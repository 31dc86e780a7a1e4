//! Codec benchmarks, each against a baseline measured in the same run.
//!
//! - `mask/*`: `apply_mask` against `apply_mask_scalar` (the byte loop) and
//!   `copy_from_slice` of the same length (the memory-bandwidth ceiling),
//!   16 B to 1 MiB, in bytes per second.
//! - `mask_misaligned_64k/*`: 64 KiB starting 0-7 bytes into its buffer,
//!   with the mask offset to match (a payload piece that starts mid-key).
//! - `mask_offset/*`: 16 B and 125 B pieces at mask offset 0 and 3.
//! - `header/*`: header decode and encode, in headers per second.
//! - `frame_decode/*`: `decode_frame` of masked frames (header checks plus
//!   unmasking in place), in payload bytes per second.
//!
//! `cargo bench --bench codec` (short measurement times are the default
//! here; criterion's command-line flags override them).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rfc6455::frame::{
    decode_frame, DecodeRules, Frame, FrameHeader, OpCode, Role, Status, MAX_HEADER_LEN,
};
use rfc6455::mask::{apply_mask, apply_mask_scalar};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in [16, 125, KIB, 16 * KIB, 64 * KIB, MIB] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = data(size);
        group.bench_with_input(BenchmarkId::new("apply_mask", size), &size, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), black_box(0)))
        });
        group.bench_with_input(BenchmarkId::new("scalar", size), &size, |b, _| {
            b.iter(|| apply_mask_scalar(black_box(&mut buf), black_box(KEY), black_box(0)))
        });
        let src = data(size);
        group.bench_with_input(BenchmarkId::new("copy", size), &size, |b, _| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&src)))
        });
    }
    group.finish();
}

fn mask_misaligned(c: &mut Criterion) {
    const SIZE: usize = 64 * KIB;
    let mut group = c.benchmark_group("mask_misaligned_64k");
    group.throughput(Throughput::Bytes(SIZE as u64));
    // Vec<u8> allocations of this size are at least 8-aligned (in practice
    // 16), so `shift` is the misalignment from an 8-byte boundary.
    let mut buf = data(SIZE + 8);
    for shift in 0..8usize {
        group.bench_with_input(BenchmarkId::new("apply_mask", shift), &shift, |b, &s| {
            b.iter(|| {
                apply_mask(
                    black_box(&mut buf[s..s + SIZE]),
                    black_box(KEY),
                    black_box(s),
                )
            })
        });
    }
    let src = data(SIZE + 8);
    group.bench_function(BenchmarkId::new("copy", 3), |b| {
        b.iter(|| black_box(&mut buf[3..3 + SIZE]).copy_from_slice(black_box(&src[5..5 + SIZE])))
    });
    group.finish();
}

/// Small pieces with a nonzero mask offset (a payload unmasked read by
/// read): the key has to be rotated first, which offset 0 skips.
fn mask_offset(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask_offset");
    for size in [16, 125] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf = data(size);
        for offset in [0, 3] {
            let id = BenchmarkId::new(format!("apply_mask/offset_{offset}"), size);
            group.bench_function(id, |b| {
                b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), black_box(offset)))
            });
        }
    }
    group.finish();
}

fn header(c: &mut Criterion) {
    let mut group = c.benchmark_group("header");
    group.throughput(Throughput::Elements(1));
    let server = DecodeRules::new(Role::Server);
    let client = DecodeRules {
        max_frame_size: u64::MAX,
        ..DecodeRules::new(Role::Client)
    };
    let cases = [
        (
            "7bit_masked",
            FrameHeader::new(OpCode::Text, 20),
            Some(KEY),
            server,
        ),
        (
            "16bit_masked",
            FrameHeader::new(OpCode::Binary, 1000),
            Some(KEY),
            server,
        ),
        (
            "64bit_unmasked",
            FrameHeader::new(OpCode::Binary, 1 << 32),
            None,
            client,
        ),
    ];
    for (name, mut h, key, rules) in cases {
        h.mask = key;
        let wire = h.to_bytes();
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| FrameHeader::decode(black_box(&wire), black_box(&rules)))
        });
        let mut out = [0u8; MAX_HEADER_LEN];
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| black_box(&h).encode(black_box(&mut out)))
        });
    }
    group.finish();
}

fn frame_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_decode");
    let rules = DecodeRules::new(Role::Server);
    for size in [20, KIB, 16 * KIB, MIB] {
        group.throughput(Throughput::Bytes(size as u64));
        let payload = data(size);
        let mut wire = Vec::new();
        Frame::new(OpCode::Binary, &payload)
            .masked(KEY)
            .encode_to_vec(&mut wire);
        // Decoding unmasks in place; doing it again re-masks. The header is
        // untouched, so every iteration does the same work.
        group.bench_with_input(BenchmarkId::new("masked", size), &size, |b, _| {
            b.iter(|| match decode_frame(black_box(&mut wire), &rules) {
                Ok(Status::Complete((frame, used))) => {
                    black_box(frame.payload);
                    used
                }
                other => panic!("{other:?}"),
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = mask, mask_misaligned, mask_offset, header, frame_decode
}
criterion_main!(benches);
