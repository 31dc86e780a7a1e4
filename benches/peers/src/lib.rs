//! Peers for rfc6455's benchmarks: echo servers built on `tokio-tungstenite`
//! and `fastwebsockets`, and the in-memory paths that run the same client
//! frames through ours, `tungstenite` and `fastwebsockets` for the criterion
//! comparison in `benches/compare.rs`.
//!
//! This package is not part of the root workspace and is never built by the
//! root `cargo test`; build it from this directory.
//!
//! Its binaries beside the two WebSocket echo servers, for
//! `scripts/bench-echo.sh`: `tcp-echo`, the TCP floor (our server's read
//! and write pattern on mio with no WebSocket work, driven by `wsload
//! tcp://...`); `uring-echo`, the same floor on io_uring (a prototype to
//! decide whether an io_uring driver is worth it); and `core-rtt`, the
//! core-to-core round trip that tells in which state the VM's two cores
//! are. The JavaScript peers (Bun and uWebSockets.js) live in `js/`.
//!
//! - [`setup`]: the `--listen` flag of the two servers, and the limits and
//!   settings each peer library gets, in the servers and in the benchmark.
//! - [`fastws`]: fastwebsockets' echo over any stream, plain or TLS.
//! - [`mem`]: an in-memory duplex stream, blocking (`std::io`) and async
//!   (`tokio::io`), that serves a fixed input in 64 KiB reads and collects
//!   what is written.
//! - [`input`]: the masked client frames every path receives, and the bytes
//!   an echo of them must produce.
//! - [`paths`]: frame decode and server echo, one type per library.

pub mod fastws;
pub mod input;
pub mod mem;
pub mod paths;
pub mod setup;
