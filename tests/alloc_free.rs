//! The single-frame path allocates nothing once warm: receiving masked text
//! and binary messages (server role) through `read_buf` / `commit_read` /
//! `next_event_with`, echoing each from inside the callback, and draining
//! `output` / `consume_output`.
//!
//! A counting global allocator wraps the system one. Counts are per thread,
//! so the test harness's own allocations on other threads do not disturb
//! them; this file holds a single test all the same.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::{Frame, OpCode};

struct Counting;

thread_local! {
    // `const` and `Copy`: no lazy initialisation and no destructor, so using
    // it from inside the allocator cannot itself allocate.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may already be gone while a thread shuts down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; counting touches only a
// thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded as received; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from this allocator, which is `System`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is `System`'s.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A batch of masked single-frame messages as a client sends them: text and
/// binary, 0 to about 3 KiB, with a ping every 25 messages.
fn batch() -> (Vec<u8>, usize) {
    let text = "ünïcödé text, 16+ bytes: €😀 ".repeat(100);
    let mut wire = Vec::new();
    let mut messages = 0;
    for i in 0..100usize {
        let len = (i * 37) % 3000;
        let key = [i as u8, 0x5a, (i * 7) as u8, 0xc3];
        if i % 2 == 0 {
            let mut end = len.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Frame::new(OpCode::Text, &text.as_bytes()[..end])
                .masked(key)
                .encode_to_vec(&mut wire);
        } else {
            let data: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            Frame::new(OpCode::Binary, &data)
                .masked(key)
                .encode_to_vec(&mut wire);
        }
        messages += 1;
        if i % 25 == 0 {
            Frame::new(OpCode::Ping, b"hb")
                .masked(key)
                .encode_to_vec(&mut wire);
        }
    }
    (wire, messages)
}

/// Feeds `wire` in reads of `read` bytes, echoing every message and
/// draining the output after each read. Returns the messages echoed.
fn echo_pass(conn: &mut Connection, wire: &[u8], read: usize, sink: &mut u64) -> usize {
    let mut echoed = 0;
    let mut at = 0;
    while at < wire.len() {
        let room = conn.read_buf();
        let n = room.len().min(read).min(wire.len() - at);
        room[..n].copy_from_slice(&wire[at..at + n]);
        conn.commit_read(n, Duration::ZERO);
        at += n;
        while let Some(sent) = conn
            .next_event_with(|event, tx| match event {
                Event::Text(t) => tx.send_text(t).map(|()| true),
                Event::Binary(b) => tx.send_binary(b).map(|()| true),
                _ => Ok(false), // the pong is queued by itself
            })
            .expect("valid input")
        {
            if sent.expect("output has room") {
                echoed += 1;
            }
        }
        loop {
            let out = conn.output();
            if out.is_empty() {
                break;
            }
            // Stands in for a socket write.
            *sink = sink.wrapping_add(out.len() as u64 + u64::from(out[0]));
            let len = out.len();
            conn.consume_output(len);
        }
    }
    echoed
}

#[test]
fn echoing_single_frame_messages_allocates_nothing_once_warm() {
    // The counter sees this thread's allocations.
    let start = allocations();
    let probe = std::hint::black_box(vec![0u8; 100]);
    assert!(allocations() > start);
    drop(probe);

    let (wire, per_batch) = batch();
    let mut conn = Connection::server(Config::default());
    let mut sink = 0u64;
    // Reads of several sizes, so frames also arrive split across reads.
    let reads = [64 << 10, 4096, 1000, 77, 16 << 10];

    // Warm-up: buffers reach their working sizes (the read room grows while
    // reads fill it, up to READ_CHUNK_GROWTH times the chunk).
    for _ in 0..2 {
        for &read in &reads {
            echo_pass(&mut conn, &wire, read, &mut sink);
        }
    }

    let before = allocations();
    let mut echoed = 0;
    let mut passes = 0;
    while echoed < 10_000 {
        echoed += echo_pass(&mut conn, &wire, reads[passes % reads.len()], &mut sink);
        passes += 1;
    }
    let allocated = allocations() - before;

    assert_eq!(echoed, passes * per_batch);
    assert_ne!(sink, 0);
    assert_eq!(
        allocated, 0,
        "{allocated} allocations over {echoed} echoed messages"
    );
}
