//! The TCP floor on io_uring: a prototype beside `tcp-echo` (epoll through
//! mio), to decide with figures whether an io_uring driver for our server
//! is worth building. Driven by `wsload tcp://...`.
//!
//! One thread, one ring (`IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN`:
//! completions are processed only when this thread enters the kernel):
//!
//! - a multishot accept on the listener;
//! - per connection one multishot receive that takes its buffers from a
//!   provided-buffer ring (1,024 buffers of 16 KiB, our read chunk), so no
//!   buffer is tied to an idle connection and no receive is re-submitted
//!   per message;
//! - the echo is sent straight from the buffer it arrived in, which goes
//!   back to the ring when the send completes; at most one send per
//!   connection is in flight (so bytes stay in order), and what arrives
//!   meanwhile leaves with the next one, as one vectored write;
//! - one `io_uring_enter` per loop turn submits every send queued in the
//!   turn and waits for the next completions.
//!
//! `unsafe` is here only where the io-uring crate or the shared memory
//! demands it (registering and filling the buffer ring, pushing entries
//! whose buffers the kernel uses later, taking ownership of accepted
//! descriptors), each block with its SAFETY argument. The library itself
//! stays `#![forbid(unsafe_code)]`.
//!
//! `uring-echo [--listen ADDR]`, default 127.0.0.1:9002.

use std::alloc::{alloc_zeroed, handle_alloc_error, Layout};
use std::collections::VecDeque;
use std::io::{self, ErrorKind};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::{BufRingEntry, Fd};
use io_uring::{cqueue, opcode, squeue, IoUring};
use rfc6455_peers::setup::listen_addr_for;

/// Buffer group of the provided-buffer ring.
const BGID: u16 = 0;
/// Buffers in the ring (a power of two).
const BUF_COUNT: u16 = 1024;
/// Bytes per buffer: our server's default read chunk.
const BUF_SIZE: usize = 16 << 10;
const SQ_ENTRIES: u32 = 4096;
/// Most buffers one vectored send takes.
const MAX_IOV: usize = 64;

// user_data: the operation in the top byte, the connection's generation in
// the next three, its slot in the low four (a completion for a closed and
// reused slot is recognised as stale).
const ACCEPT: u64 = 1;
const RECV: u64 = 2;
const SEND: u64 = 3;

fn tag(op: u64, generation: u32, slot: usize) -> u64 {
    (op << 56) | ((u64::from(generation) & 0xff_ffff) << 32) | slot as u64
}

fn untag(data: u64) -> (u64, u32, usize) {
    (
        data >> 56,
        ((data >> 32) & 0xff_ffff) as u32,
        (data & 0xffff_ffff) as usize,
    )
}

fn main() -> io::Result<()> {
    let addr = listen_addr_for(
        "uring-echo",
        "The TCP floor on io_uring, for benchmarks: writes back every byte it reads\n\
         (multishot receive into a provided-buffer ring, sends from those buffers, one\n\
         io_uring_enter per loop turn), one thread.",
    );
    let listener = TcpListener::bind(addr)?;
    eprintln!("uring-echo listening on tcp://{}", listener.local_addr()?);
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(4 * SQ_ENTRIES)
        .build(SQ_ENTRIES)?;
    let buffers = BufRing::new(&ring)?;
    let mut server = Server {
        ring,
        buffers,
        conns: Vec::new(),
        generations: Vec::new(),
        free: Vec::new(),
        starved: Vec::new(),
        listener,
    };
    server.arm_accept()?;
    server.run()
}

/// The provided-buffer ring: its entries and the buffers they point to,
/// shared with the kernel. Both are allocated once and never freed: the
/// kernel may write into a buffer until the ring itself is torn down, which
/// happens only as the process exits.
struct BufRing {
    entries: *mut BufRingEntry,
    buffers: *mut u8,
    /// Our copy of the tail; the kernel sees it at `publish`.
    tail: u16,
}

impl BufRing {
    fn new(ring: &IoUring) -> io::Result<BufRing> {
        let entries_layout = Layout::from_size_align(
            usize::from(BUF_COUNT) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .map_err(io::Error::other)?;
        let buffers_layout = Layout::from_size_align(usize::from(BUF_COUNT) * BUF_SIZE, 4096)
            .map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size.
        let (entries, buffers) =
            unsafe { (alloc_zeroed(entries_layout), alloc_zeroed(buffers_layout)) };
        if entries.is_null() {
            handle_alloc_error(entries_layout);
        }
        if buffers.is_null() {
            handle_alloc_error(buffers_layout);
        }
        let mut this = BufRing {
            entries: entries.cast(),
            buffers,
            tail: 0,
        };
        for bid in 0..BUF_COUNT {
            this.give_back(bid);
        }
        this.publish();
        // SAFETY: `entries` is page-aligned memory for BUF_COUNT entries
        // that is never freed (see the type's doc), so it outlives the
        // registration; the kernel only reads the entries and the tail.
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(entries as u64, BUF_COUNT, BGID, 0)?;
        }
        Ok(this)
    }

    /// Start of buffer `bid`.
    fn buffer(&self, bid: u16) -> *const u8 {
        debug_assert!(bid < BUF_COUNT);
        self.buffers.wrapping_add(usize::from(bid) * BUF_SIZE)
    }

    /// Hands buffer `bid` back to the kernel (seen at the next `publish`).
    fn give_back(&mut self, bid: u16) {
        let index = usize::from(self.tail & (BUF_COUNT - 1));
        // SAFETY: `index` < BUF_COUNT, inside the entries allocation. The
        // kernel reads only the entries between its head and the published
        // tail; this one lies past the published tail, and since at most
        // BUF_COUNT buffers exist, it is not one the kernel still reads.
        let entry = unsafe { &mut *self.entries.add(index) };
        entry.set_addr(self.buffer(bid) as u64);
        entry.set_len(BUF_SIZE as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the entries given back since the last call.
    fn publish(&mut self) {
        // SAFETY: the tail is a u16 inside the first entry (its `resv`
        // field), 2-byte aligned, within the allocation. The kernel reads it
        // concurrently, so it is written atomically with release ordering,
        // after the entries it covers.
        unsafe {
            let tail = BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

/// Part of a received buffer still to be sent.
struct Chunk {
    bid: u16,
    start: usize,
    end: usize,
}

struct Conn {
    stream: TcpStream,
    generation: u32,
    /// Received, not yet sent, in order; the first `in_flight` are in the
    /// send the kernel holds.
    pending: VecDeque<Chunk>,
    in_flight: usize,
    /// The iovecs of that send: left alone until it completes.
    iov: Vec<libc::iovec>,
    receiving: bool,
    /// End of stream or an error: close once nothing is in flight.
    ending: bool,
}

struct Server {
    ring: IoUring,
    buffers: BufRing,
    conns: Vec<Option<Conn>>,
    /// The generation of each slot, bumped when its connection closes.
    generations: Vec<u32>,
    free: Vec<usize>,
    /// Connections whose receive stopped for want of buffers.
    starved: Vec<usize>,
    listener: TcpListener,
}

impl Server {
    fn run(&mut self) -> io::Result<()> {
        let mut completions: Vec<(u64, i32, u32)> = Vec::with_capacity(4 * SQ_ENTRIES as usize);
        loop {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {} // CQ full: reap first
                Err(e) => return Err(e),
            }
            completions.clear();
            completions.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let mut recycled = false;
            for &(data, result, flags) in &completions {
                let (op, generation, slot) = untag(data);
                match op {
                    ACCEPT => self.accepted(result, flags)?,
                    RECV => recycled |= self.received(slot, generation, result, flags)?,
                    SEND => {
                        recycled = true;
                        self.sent(slot, generation, result)?;
                    }
                    _ => {}
                }
            }
            if recycled {
                self.buffers.publish();
                for slot in std::mem::take(&mut self.starved) {
                    if let Some(conn) = self.conns[slot].as_mut() {
                        if !conn.ending && !conn.receiving {
                            conn.receiving = true;
                            let entry = recv_entry(conn, slot);
                            self.push(&entry)?;
                        }
                    }
                }
            }
        }
    }

    /// Queues an entry, submitting first if the queue is full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry built here points only at memory that
            // outlives its operation: buffers of the ring (never freed, and
            // not given back before the send completes), a connection's
            // `iov` (untouched while its send is in flight; a connection is
            // dropped only with nothing in flight) or nothing at all.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(Fd(self.listener.as_raw_fd()))
            .build()
            .user_data(tag(ACCEPT, 0, 0));
        self.push(&entry)
    }

    fn accepted(&mut self, result: i32, flags: u32) -> io::Result<()> {
        if !cqueue::more(flags) {
            self.arm_accept()?;
        }
        if result < 0 {
            eprintln!(
                "uring-echo: accept: {}",
                io::Error::from_raw_os_error(-result)
            );
            return Ok(());
        }
        // SAFETY: a successful accept returns a new descriptor that nothing
        // else in this process knows of; the stream takes ownership.
        let stream = unsafe { TcpStream::from_raw_fd(result) };
        let _ = stream.set_nodelay(true);
        let slot = self.free.pop().unwrap_or(self.conns.len());
        if slot == self.conns.len() {
            self.conns.push(None);
            self.generations.push(0);
        }
        let conn = Conn {
            stream,
            generation: self.generations[slot],
            pending: VecDeque::new(),
            in_flight: 0,
            iov: Vec::with_capacity(MAX_IOV),
            receiving: true,
            ending: false,
        };
        let entry = recv_entry(&conn, slot);
        self.conns[slot] = Some(conn);
        self.push(&entry)
    }

    /// A receive completion; true if it gave a buffer back.
    fn received(
        &mut self,
        slot: usize,
        generation: u32,
        result: i32,
        flags: u32,
    ) -> io::Result<bool> {
        let bid = cqueue::buffer_select(flags);
        let conn = match self.conns.get_mut(slot).and_then(Option::as_mut) {
            Some(conn) if conn.generation == generation => conn,
            _ => {
                if let Some(bid) = bid {
                    self.buffers.give_back(bid);
                }
                return Ok(bid.is_some());
            }
        };
        let more = cqueue::more(flags);
        if !more {
            conn.receiving = false;
        }
        match (result, bid) {
            (n, Some(bid)) if n > 0 => {
                conn.pending.push_back(Chunk {
                    bid,
                    start: 0,
                    end: n as usize,
                });
                if conn.in_flight == 0 {
                    self.send_pending(slot)?;
                }
                if !more {
                    // Stopped (the kernel ends a multishot receive now and
                    // then): re-arm.
                    if let Some(conn) = self.conns[slot].as_mut() {
                        conn.receiving = true;
                        let entry = recv_entry(conn, slot);
                        self.push(&entry)?;
                    }
                }
                Ok(false)
            }
            (n, _) if n == -libc::ENOBUFS => {
                self.starved.push(slot);
                Ok(false)
            }
            _ => {
                // End of stream (0) or an error: finish the sends, then close.
                if let Some(bid) = bid {
                    self.buffers.give_back(bid);
                }
                conn.ending = true;
                if !conn.receiving && conn.in_flight == 0 && conn.pending.is_empty() {
                    self.close(slot);
                }
                Ok(bid.is_some())
            }
        }
    }

    /// A send completion: gives back the buffers it emptied, sends what
    /// waits.
    fn sent(&mut self, slot: usize, generation: u32, result: i32) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
            return Ok(());
        };
        if conn.generation != generation {
            return Ok(());
        }
        let sent_chunks = std::mem::take(&mut conn.in_flight);
        if result < 0 {
            // The peer is gone: drop what waits; the receive ends with the
            // shutdown, and then the connection closes.
            for chunk in conn.pending.drain(..) {
                self.buffers.give_back(chunk.bid);
            }
            conn.ending = true;
            let _ = conn.stream.shutdown(Shutdown::Both);
            if !conn.receiving {
                self.close(slot);
            }
            return Ok(());
        }
        let mut left = result as usize;
        for _ in 0..sent_chunks {
            let Some(chunk) = conn.pending.front_mut() else {
                break;
            };
            let len = chunk.end - chunk.start;
            if left < len {
                chunk.start += left;
                break;
            }
            left -= len;
            let bid = chunk.bid;
            conn.pending.pop_front();
            self.buffers.give_back(bid);
        }
        if !conn.pending.is_empty() {
            return self.send_pending(slot);
        }
        if conn.ending && !conn.receiving {
            self.close(slot);
        }
        Ok(())
    }

    /// Sends what the connection has pending, as one send or one vectored
    /// write of up to MAX_IOV buffers.
    fn send_pending(&mut self, slot: usize) -> io::Result<()> {
        let Some(conn) = self.conns[slot].as_mut() else {
            return Ok(());
        };
        let fd = Fd(conn.stream.as_raw_fd());
        let user_data = tag(SEND, conn.generation, slot);
        let entry = if conn.pending.len() == 1 {
            let chunk = &conn.pending[0];
            conn.in_flight = 1;
            let start = self.buffers.buffer(chunk.bid).wrapping_add(chunk.start);
            opcode::Send::new(fd, start, (chunk.end - chunk.start) as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build()
        } else {
            conn.iov.clear();
            for chunk in conn.pending.iter().take(MAX_IOV) {
                conn.iov.push(libc::iovec {
                    iov_base: self.buffers.buffer(chunk.bid).wrapping_add(chunk.start) as *mut _,
                    iov_len: chunk.end - chunk.start,
                });
            }
            conn.in_flight = conn.iov.len();
            opcode::Writev::new(fd, conn.iov.as_ptr(), conn.iov.len() as u32).build()
        };
        self.push(&entry.user_data(user_data))
    }

    fn close(&mut self, slot: usize) {
        if let Some(conn) = self.conns[slot].take() {
            for chunk in conn.pending {
                self.buffers.give_back(chunk.bid);
            }
            self.generations[slot] = self.generations[slot].wrapping_add(1);
            self.free.push(slot);
            // Dropping the stream closes the descriptor: nothing of it is
            // in flight any more.
        }
    }
}

fn recv_entry(conn: &Conn, slot: usize) -> squeue::Entry {
    opcode::RecvMulti::new(Fd(conn.stream.as_raw_fd()), BGID)
        .build()
        .user_data(tag(RECV, conn.generation, slot))
}
