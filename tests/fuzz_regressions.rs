//! Replays saved fuzz inputs through the fuzz targets' check functions, on a
//! stable toolchain, as part of a plain `cargo test`.
//!
//! - `fuzz/regressions/<target>/`: committed; every crash the fuzzers found,
//!   minimised, kept after its fix.
//! - `fuzz/corpus/<target>/`: local only (gitignored); the seeds written
//!   from `vectors/` by `scripts/fuzz-seeds.py` and whatever the fuzzers
//!   added. Replayed when present.
//!
//! The check functions are `rfc6455::fuzzing::fuzz_*`, the same ones the
//! targets in `fuzz/fuzz_targets/` call: one definition of each invariant.

use std::fs;
use std::path::Path;

use rfc6455::fuzzing::{Check, TARGETS};

fn replay(target: &str, check: Check) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["regressions", "corpus"] {
        let Ok(entries) = fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths.iter().filter(|p| p.is_file()) {
            let data = fs::read(path).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    count
}

fn check_named(name: &str) -> Check {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, f)| f)
        .unwrap_or_else(|| panic!("no target {name}"))
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let n = replay(stringify!($name), check_named(stringify!($name)));
            eprintln!("{}: {n} inputs replayed", stringify!($name));
        }
    )*};
}

replay_tests!(
    frame_decode,
    handshake_request,
    handshake_response,
    connection_server,
    connection_client,
    connection_frames,
    utf8_incremental,
    mask,
    deflate_negotiation,
    deflate_inflate,
    envelope,
    tls_server,
    app_routes,
);

#[test]
fn every_target_has_a_replay_test_and_a_fuzz_target() {
    let listed = [
        "frame_decode",
        "handshake_request",
        "handshake_response",
        "connection_server",
        "connection_client",
        "connection_frames",
        "utf8_incremental",
        "mask",
        "deflate_negotiation",
        "deflate_inflate",
        "envelope",
        "tls_server",
        "app_routes",
    ];
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, listed);
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for name in names {
        assert!(
            targets.join(format!("{name}.rs")).is_file(),
            "no fuzz target {name}"
        );
    }
}

/// The oracles themselves run on a stable toolchain too: a few thousand
/// pseudo-random inputs per target, so that a broken check fails here and
/// not only under the fuzzer.
#[test]
fn checks_hold_on_pseudo_random_inputs() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for &(name, check) in TARGETS {
        for _ in 0..2000 {
            let len = (next() % 300) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{name} fails on {data:02x?}");
        }
    }
}
