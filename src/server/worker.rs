//! One worker thread: a mio `Poll`, a listener, and the connections it
//! accepted.
//!
//! A turn of the loop: serve the sockets epoll reports (read, run the
//! handler, write), deliver what the handler published to this worker's
//! subscribers, run due timers, take what other threads published, then
//! write once to every subscriber that got something in this turn.

use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::prelude::rust_2021::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::buffers::Buffers;
use super::context::{Counts, Services};
use super::heartbeat;
use super::hub::{Envelope, Hub, Tag};
use super::publication::{self, Publication, Run};
use super::timers::{HandlerTimers, Timers};
use super::topics::{self, Topics};
use super::transport::Transport;
use super::upgrade::{self, HandshakeState, Outcome};
use super::{ConnId, Context, Handler, Message, Peer, ServerConfig};
use crate::close::{CloseCode, CloseReason};
use crate::connection::{Connection, Delivery, Event, State};
use crate::frame::{ControlPayload, MAX_HEADER_LEN};
use crate::lane::ReplyLane;

const WAKER: Token = Token(usize::MAX);
const LISTENER: Token = Token(usize::MAX - 1);
/// Interest of a connection that is read: urgent data (EPOLLPRI) too, see
/// `Conn::read_until_blocked`.
const READ: Interest = Interest::READABLE.add(Interest::PRIORITY);

/// A connection quiet for this long gives back its buffers.
const IDLE_SWEEP: Duration = Duration::from_secs(2);
/// How long accepting pauses after running out of file descriptors, or
/// after [`ACCEPT_ERRORS_IN_A_ROW`] failures.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Failed accepts in one turn after which accepting pauses: errors that
/// concern one connection (ECONNABORTED, EPROTO, EPERM from a firewall)
/// end with the queue, but a listener that fails every call (EINVAL,
/// EBADF) would otherwise spin the worker.
const ACCEPT_ERRORS_IN_A_ROW: u32 = 64;
/// Slices handed to one vectored write: a turn's published messages to a
/// subscriber leave together up to this many.
const WRITE_SLICES: usize = 64;

/// Slices for a write of at most two shared frames: data, frame, data,
/// frame, data, and owed control frames.
const SOME_SLICES: usize = 6;
/// Least time between two log lines about slow subscribers.
const SLOW_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Opens a listening socket that shares its port with the other workers'.
/// Fails (`AddrInUse`) when something listens on `addr` already. The
/// workers share their port through `SO_REUSEPORT`, which the kernel as
/// gladly lets another process of the same user join: a second instance
/// would take part of the first one's connections instead of failing. A
/// socket without `SO_REUSEPORT` cannot bind where such a listener is.
pub(crate) fn check_free(addr: SocketAddr) -> io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    if addr.port() == 0 {
        return Ok(()); // the kernel picks a free port
    }
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As the listeners: a restart is not held up by TIME_WAIT.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())
}

pub(crate) fn listen(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

enum Phase {
    /// Reading the opening request.
    Handshake(HandshakeState),
    /// Writing an HTTP response (a page or a rejection), then closing.
    Http,
    /// WebSocket frames flow.
    Open(Box<Connection>),
    /// Done: our FIN is sent; input is read and dropped until the peer
    /// closes too (or the close timeout), so unread input cannot turn our
    /// close into a reset that destroys the last bytes we sent.
    Lingering,
}

struct Conn {
    socket: Transport,
    peer_addr: SocketAddr,
    /// Unique for the worker's lifetime: tells live timer entries apart.
    stamp: u64,
    timer_at: Option<Instant>,
    phase: Phase,
    /// HTTP bytes (a response) to write before any frame.
    http_out: Vec<u8>,
    http_at: usize,
    accepted_at: Instant,
    writable: bool,
    read_paused: bool,
    /// A transport error or end of stream: remove at the next settle.
    broken: bool,
    /// epoll reported the peer's end of stream, an error or TCP urgent
    /// data. None of them brings a new event for what already waits in the
    /// socket (and a read stops short at the urgent mark), so from then on
    /// this connection is read until WouldBlock, not just to a short read.
    read_until_blocked: bool,
    ping_sent_at: Option<Instant>,
    /// When the peer's last message came (not a ping, a pong or a
    /// heartbeat text): the idle timeout counts from it.
    message_at: Instant,
    close_deadline: Option<Instant>,
    /// Since when queued output has waited without a byte written.
    stalled_since: Option<Instant>,
    /// In `Worker::again`: read again next turn without a new event.
    queued_again: bool,
    /// In `Worker::dirty`: published messages wait to be written.
    dirty: bool,
}

/// Puts `slot` in `again` (read next turn without waiting for an event:
/// its read budget ran out, or reading resumed), once.
fn read_again(again: &mut Vec<usize>, conn: &mut Conn, slot: usize) {
    if !conn.queued_again {
        conn.queued_again = true;
        again.push(slot);
    }
}

impl Conn {
    /// A connection just accepted, in `phase`, first looked at `timer_at`.
    fn new(
        socket: Transport,
        peer_addr: SocketAddr,
        stamp: u64,
        phase: Phase,
        timer_at: Option<Instant>,
        now: Instant,
    ) -> Conn {
        Conn {
            socket,
            peer_addr,
            stamp,
            timer_at,
            phase,
            http_out: Vec::new(),
            http_at: 0,
            accepted_at: now,
            message_at: now,
            writable: false,
            read_paused: false,
            broken: false,
            read_until_blocked: false,
            ping_sent_at: None,
            close_deadline: None,
            stalled_since: None,
            queued_again: false,
            dirty: false,
        }
    }

    /// Bytes queued for the socket: TLS records, an HTTP response, then
    /// frames.
    fn pending_output(&self) -> usize {
        let frames = match &self.phase {
            Phase::Open(c) => c.pending_output_len(),
            _ => 0,
        };
        self.socket.pending() + self.http_out.len() - self.http_at + frames
    }
}

pub(crate) struct Worker {
    index: usize,
    poll: Poll,
    listener: Option<TcpListener>,
    waker: Arc<Waker>,
    config: Arc<ServerConfig>,
    /// Most connections over all workers (counted in the hub).
    max_conns: usize,
    hub: Arc<Hub>,
    /// Topics, handler timers, publishing: what handlers reach.
    services: Services,
    /// Connections with published messages to write this turn.
    dirty: Vec<usize>,
    /// What other threads published, taken from the hub's inbox.
    inbox: Vec<Envelope>,
    /// A run of published messages being delivered (kept for its
    /// capacity).
    run: Run,
    /// Where a write's small slices are joined ([`Transport::write_slices`]).
    coalesce: Vec<u8>,
    /// Slow-subscriber counts when they were last logged.
    slow_logged: (Instant, u64, u64),
    conns: Slab<Conn>,
    timers: Timers,
    buffers: Buffers,
    /// Large replies written from the read buffer (see `lane`).
    lane: ReplyLane,
    epoch: Instant,
    next_stamp: u64,
    /// Connections to serve again without a new readiness event: their
    /// read budget ran out, or reading resumed after backpressure.
    again: Vec<usize>,
    accept_paused_until: Option<Instant>,
    shutdown_deadline: Option<Instant>,
    accept_error_logged: bool,
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        listener: std::net::TcpListener,
        config: Arc<ServerConfig>,
        max_conns: usize,
        hub: Arc<Hub>,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listener = TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let now = Instant::now();
        Ok(Worker {
            index,
            poll,
            listener: Some(listener),
            waker,
            services: Services {
                worker: index,
                config: Arc::clone(&config),
                hub: Arc::clone(&hub),
                topics: Topics::default(),
                timers: HandlerTimers::default(),
                outbox: Vec::new(),
                counts: Counts::default(),
            },
            config,
            max_conns,
            hub,
            dirty: Vec::new(),
            inbox: Vec::new(),
            run: Run::default(),
            coalesce: Vec::new(),
            slow_logged: (now, 0, 0),
            conns: Slab::new(),
            timers: Timers::default(),
            buffers: Buffers::default(),
            lane: ReplyLane::new(),
            epoch: now,
            next_stamp: 0,
            again: Vec::new(),
            accept_paused_until: None,
            shutdown_deadline: None,
            accept_error_logged: false,
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    fn context(&mut self, now: Instant) -> Context<'_> {
        Context {
            services: &mut self.services,
            now,
        }
    }

    pub(crate) fn run<H: Handler>(&mut self, mut handler: H) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        handler.on_start(&mut self.context(Instant::now()));
        self.deliver_outbox();
        loop {
            let timeout = self.poll_timeout(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            let mut woken = false;
            for event in events.iter() {
                match event.token() {
                    WAKER => woken = true,
                    LISTENER => self.accept(now),
                    Token(slot) => {
                        let read_to_block =
                            event.is_read_closed() || event.is_error() || event.is_priority();
                        if read_to_block {
                            if let Some(conn) = self.conns.get_mut(slot) {
                                conn.read_until_blocked = true;
                            }
                        }
                        let read = event.is_readable() || read_to_block;
                        self.drive(slot, now, read, &mut handler);
                    }
                }
            }
            for slot in std::mem::take(&mut self.again) {
                if let Some(conn) = self.conns.get_mut(slot) {
                    conn.queued_again = false;
                    self.drive(slot, now, true, &mut handler);
                }
            }
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
                self.accept(now);
            }
            self.run_timers(now, &mut handler);
            if woken {
                self.deliver_inbox();
            }
            self.flush_dirty(now, &mut handler);
            self.publish_counters(now);
            if self.hub.shutdown.load(Ordering::SeqCst) && self.shutdown_deadline.is_none() {
                self.begin_shutdown(now, &mut handler);
            }
            if let Some(deadline) = self.shutdown_deadline {
                if self.conns.is_empty() || now >= deadline {
                    let slots: Vec<usize> = self.conns.iter().map(|(slot, _)| slot).collect();
                    for slot in slots {
                        self.remove(slot, &mut handler);
                    }
                    return Ok(());
                }
            }
        }
    }

    fn poll_timeout(&mut self, now: Instant) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        [
            self.timers.next_deadline(),
            self.services.timers.next_deadline(),
            self.accept_paused_until,
            self.shutdown_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.saturating_duration_since(now))
    }

    fn accept(&mut self, now: Instant) {
        if self.accept_paused_until.is_some() {
            return;
        }
        let Some(listener) = self.listener.as_mut() else {
            return;
        };
        let mut failed = 0;
        loop {
            let (mut socket, addr) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_resource_exhausted(&e) || failed + 1 >= ACCEPT_ERRORS_IN_A_ROW => {
                    if !self.accept_error_logged {
                        log::warn!("worker {}: accept failed: {e}; pausing accepts", self.index);
                        self.accept_error_logged = true;
                    }
                    self.accept_paused_until = Some(now + ACCEPT_BACKOFF);
                    return;
                }
                Err(e) => {
                    // ECONNABORTED and the like concern one connection only.
                    log::debug!("worker {}: accept: {e}", self.index);
                    failed += 1;
                    continue;
                }
            };
            failed = 0;
            self.accept_error_logged = false;
            if !self.hub.reserve_connection(self.max_conns) {
                log::debug!("worker {}: refusing {addr}: at max connections", self.index);
                // Over TLS no plain answer is possible before a handshake.
                if !self.config.is_tls() {
                    let _ = socket.write(upgrade::SERVICE_UNAVAILABLE);
                }
                let _ = socket.shutdown(Shutdown::Both);
                continue;
            }
            let _ = socket.set_nodelay(true);
            let entry = self.conns.vacant_entry();
            let slot = entry.key();
            if slot >= u32::MAX as usize {
                self.hub.release_connection();
                continue; // topic tables index slots as u32
            }
            if let Err(e) = self
                .poll
                .registry()
                .register(&mut socket, Token(slot), READ)
            {
                log::warn!("worker {}: register: {e}", self.index);
                self.hub.release_connection();
                continue;
            }
            let socket = match self.config.transport(socket) {
                Ok(socket) => socket,
                Err(e) => {
                    log::warn!("worker {}: {e}", self.index);
                    self.hub.release_connection();
                    continue;
                }
            };
            self.next_stamp += 1;
            let deadline = now + self.config.handshake_timeout;
            let phase = Phase::Handshake(HandshakeState::new(&self.config.connection.limits));
            entry.insert(Conn::new(
                socket,
                addr,
                self.next_stamp,
                phase,
                Some(deadline),
                now,
            ));
            self.timers.schedule(deadline, slot, self.next_stamp);
            log::trace!("worker {}: accepted {addr} as {slot}", self.index);
        }
    }

    /// Serves one connection: reads (if asked), runs the handler, writes,
    /// and settles what happens to it next.
    fn drive<H: Handler>(&mut self, slot: usize, now: Instant, read: bool, handler: &mut H) {
        let id = ConnId {
            worker: self.index,
            slot,
        };
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        if read && !conn.broken {
            let mut ctx = Context {
                services: &mut self.services,
                now,
            };
            if let Phase::Handshake(_) = conn.phase {
                read_handshake(conn, id, self.epoch, &mut ctx, handler);
            }
            match &mut conn.phase {
                Phase::Handshake(_) => {}
                Phase::Http | Phase::Lingering => {
                    if drain_input(conn, self.config.read_budget) {
                        read_again(&mut self.again, conn, slot);
                    }
                }
                Phase::Open(_) => {
                    let more = read_frames(
                        conn,
                        id,
                        &self.config,
                        &mut self.buffers,
                        &mut self.lane,
                        self.epoch,
                        ctx,
                        handler,
                    );
                    if more {
                        read_again(&mut self.again, conn, slot);
                    }
                }
            }
        }
        self.settle(slot, now, handler);
        self.deliver_outbox();
    }

    /// Delivers what handlers published in the last callback to this
    /// worker's subscribers (other workers got theirs at once).
    ///
    /// Consecutive small messages to the same topic and subscribers (what
    /// one read of a publishing connection brought) go as one run.
    fn deliver_outbox(&mut self) {
        // Called after every connection's turn: most turns publish nothing.
        if self.services.outbox.is_empty() {
            return;
        }
        let mut outbox = std::mem::take(&mut self.services.outbox);
        let mut run = std::mem::take(&mut self.run);
        let mut rest = &outbox[..];
        while let [first, ..] = rest {
            let len = publication::run_len(
                rest,
                |a, b| a.topic == b.topic && a.exclude == b.exclude,
                |o| o.frame.wire_len(),
            );
            run.clear();
            run.plain
                .extend(rest[..len].iter().map(|o| o.frame.clone()));
            self.deliver(&first.topic, &run, &Tag::Plain, first.exclude);
            rest = &rest[len..];
        }
        run.clear();
        self.run = run;
        outbox.clear();
        if self.services.outbox.is_empty() {
            self.services.outbox = outbox; // keep the capacity
        }
    }

    /// Closes this worker's subscribers of `topic` in the tagged form, so
    /// that they resume: with 1012 when the run of ids broke (they learn
    /// what could not be recovered), with 1013 when a message was skipped
    /// here (the history has it).
    fn close_tagged(&mut self, topic: &str, code: CloseCode, reason: &str) {
        for member in self.services.topics.members(topic) {
            if !member.mode.tagged() {
                continue;
            }
            let slot = member.slot as usize;
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            let Phase::Open(c) = &mut conn.phase else {
                continue;
            };
            if c.close(code, CloseReason::truncate(reason)).is_ok() && !conn.dirty {
                conn.dirty = true;
                self.dirty.push(slot);
            }
        }
    }

    /// Delivers what other threads published to this worker; consecutive
    /// small messages to the same topic and subscribers go as one run.
    fn deliver_inbox(&mut self) {
        let mut inbox = std::mem::take(&mut self.inbox);
        self.hub.take_inbox(self.index, &mut inbox);
        let mut run = std::mem::take(&mut self.run);
        let mut rest = &inbox[..];
        while let [first, ..] = rest {
            let len = publication::run_len(rest, Envelope::continues_run, Envelope::run_len);
            run.clear();
            for e in &rest[..len] {
                run.plain.push(e.frame.clone());
                match &e.tag {
                    Tag::Id { id, tagged } => {
                        run.tagged.push(tagged.clone());
                        run.ids.push(Some(*id));
                    }
                    Tag::NoId { tagged } => {
                        run.tagged.push(tagged.clone());
                        run.ids.push(None);
                    }
                    _ => {}
                }
            }
            self.deliver(&first.topic, &run, &first.tag, first.skip);
            rest = &rest[len..];
        }
        run.clear();
        self.run = run;
        inbox.clear();
        self.inbox = inbox;
    }

    /// Queues `run` (one message, or several with the same audience) to
    /// this worker's subscribers of `topic` (but the connection `exclude`,
    /// by slot and stamp), or its tagged form to those that asked for ids;
    /// they are written in [`flush_dirty`](Self::flush_dirty). `tag` is the
    /// first message's: a change in the topic's run of ids
    /// ([`Tag::Anchored`], [`Tag::Broken`], [`Tag::Missed`]) comes alone
    /// and goes to tagged subscribers only.
    fn deliver(&mut self, topic: &str, run: &Run, tag: &Tag, exclude: Option<(usize, u64)>) {
        match tag {
            Tag::Broken => {
                let code = CloseCode::SERVICE_RESTART;
                return self.close_tagged(topic, code, "topic history broken: resume");
            }
            Tag::Missed => {
                let code = CloseCode::TRY_AGAIN_LATER;
                return self.close_tagged(topic, code, "messages missed: resume");
            }
            _ => {}
        }
        let Services {
            topics,
            config,
            counts,
            ..
        } = &mut self.services;
        let mut plain = Publication::new(&run.plain);
        let mut tagged = Publication::new(&run.tagged);
        // A subscriber whose floor is below every id takes every message.
        let least_id = run.ids.iter().flatten().min().copied();
        for member in topics.members(topic) {
            let slot = member.slot as usize;
            let floor = member.mode.floor();
            if matches!(tag, Tag::Anchored) && (!member.mode.tagged() || floor > 0) {
                // Those that came before the log had an id have floor 0.
                continue;
            }
            // Ids promise no gap: such a subscriber is closed, not skipped.
            let gapless = member.mode.tagged();
            let message = if member.mode.tagged() && !run.tagged.is_empty() {
                &mut tagged
            } else {
                &mut plain
            };
            // Replayed, or published before it subscribed: only those after.
            let after = least_id
                .filter(|&id| id <= floor)
                .map(|_| move |i: usize| run.ids[i].is_none_or(|id| id > floor));
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if Some((slot, conn.stamp)) == exclude {
                continue;
            }
            let Phase::Open(c) = &conn.phase else {
                continue;
            };
            if topics::is_behind(c, config)
                && !conn.broken
                && flush(conn, &mut self.coalesce).is_err()
            {
                // Over the limit after a burst: a subscriber whose socket
                // takes the backlog is not slow. Write it now.
                conn.broken = true;
            }
            let Phase::Open(c) = &mut conn.phase else {
                continue;
            };
            let offered = match after {
                None => topics::offer(c, message, config, gapless),
                Some(keep) => topics::offer_some(c, message, keep, config, gapless),
            };
            if !counts.record(offered) {
                continue;
            }
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(slot);
            }
        }
        counts.compressed += plain.compressed() + tagged.compressed();
    }

    /// Writes to every connection that got published messages this turn:
    /// one write each, however many messages.
    fn flush_dirty<H: Handler>(&mut self, now: Instant, handler: &mut H) {
        // Closes (timeouts, shutdown) may have published from on_close.
        self.deliver_outbox();
        while !self.dirty.is_empty() {
            for slot in std::mem::take(&mut self.dirty) {
                if let Some(conn) = self.conns.get_mut(slot) {
                    conn.dirty = false;
                    self.settle(slot, now, handler);
                }
            }
            // Closing a connection can publish (on_close).
            self.deliver_outbox();
        }
    }

    /// Hands this worker's counters to the hub, and logs slow subscribers
    /// now and then.
    fn publish_counters(&mut self, now: Instant) {
        let c = &self.hub.counters[self.index];
        let counts = self.services.counts;
        c.published.store(counts.published, Ordering::Relaxed);
        c.delivered.store(counts.delivered, Ordering::Relaxed);
        c.dropped_slow.store(counts.dropped_slow, Ordering::Relaxed);
        c.closed_slow.store(counts.closed_slow, Ordering::Relaxed);
        c.refused.store(counts.refused, Ordering::Relaxed);
        c.compressed.store(counts.compressed, Ordering::Relaxed);
        c.connections.store(self.conns.len(), Ordering::Relaxed);
        let topics = &self.services.topics;
        c.subscriptions
            .store(topics.subscription_count(), Ordering::Relaxed);
        c.topics.store(topics.len(), Ordering::Relaxed);
        let (since, dropped, closed) = self.slow_logged;
        if now >= since + SLOW_LOG_INTERVAL
            && (counts.dropped_slow != dropped || counts.closed_slow != closed)
        {
            log::warn!(
                "worker {}: slow subscribers: {} published messages dropped, {} subscribers closed in the last {} s",
                self.index,
                counts.dropped_slow - dropped,
                counts.closed_slow - closed,
                now.duration_since(since).as_secs()
            );
            self.slow_logged = (now, counts.dropped_slow, counts.closed_slow);
        }
    }

    /// Writes what is queued, then decides the connection's fate: close it,
    /// change its interest, resume reading, hand back its read buffer.
    fn settle<H: Handler>(&mut self, slot: usize, now: Instant, handler: &mut H) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let before = conn.pending_output();
        if !conn.broken {
            if let Err(e) = flush(conn, &mut self.coalesce) {
                log::debug!("worker {}: write to {slot}: {e}", self.index);
                conn.broken = true;
            }
        }
        if matches!(conn.phase, Phase::Lingering)
            && conn.socket.read_ended()
            && conn.socket.pending() == 0
        {
            // Both ends are done: the peer's end came while our last TLS
            // records still waited (see `drain_input`), and they are out.
            conn.broken = true;
        }
        if conn.broken {
            self.remove(slot, handler);
            return;
        }
        let after = conn.pending_output();
        conn.stalled_since = match conn.stalled_since {
            _ if after == 0 => None,
            _ if after < before => Some(now),
            None => Some(now),
            since => since,
        };
        if let (Some(since), Some(limit)) = (conn.stalled_since, self.config.send_timeout) {
            reschedule(&mut self.timers, conn, slot, since + limit);
        }
        let http_pending = conn.http_at < conn.http_out.len();
        let done = match &conn.phase {
            Phase::Handshake(_) | Phase::Lingering => false,
            Phase::Http => !http_pending,
            Phase::Open(c) => c.should_close_transport(),
        };
        if done {
            self.linger(slot, now, handler);
            return;
        }
        let (pending, closing) = match &mut conn.phase {
            Phase::Open(c) => {
                if !c.has_output() && c.buffered_input_len() == 0 {
                    self.buffers.take_back(c);
                }
                (c.pending_output_len(), c.state() != State::Open)
            }
            _ => (conn.http_out.len() - conn.http_at, false),
        };
        let pending = pending + conn.socket.pending();
        if conn.read_paused && pending <= self.config.low_water {
            conn.read_paused = false;
            read_again(&mut self.again, conn, slot);
        }
        let want_write = pending > 0;
        if want_write != conn.writable {
            let interest = if want_write {
                READ | Interest::WRITABLE
            } else {
                READ
            };
            if self
                .poll
                .registry()
                .reregister(conn.socket.socket_mut(), Token(slot), interest)
                .is_err()
            {
                conn.broken = true;
                self.remove(slot, handler);
                return;
            }
            conn.writable = want_write;
        }
        if conn.timer_at.is_none() {
            // Just upgraded: book the first look at its deadlines.
            let first = [
                self.config.idle_timeout,
                self.config.ping_interval,
                Some(IDLE_SWEEP),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(IDLE_SWEEP);
            reschedule(&mut self.timers, conn, slot, now + first);
        }
        if closing && conn.close_deadline.is_none() {
            let deadline = now + self.config.close_timeout;
            conn.close_deadline = Some(deadline);
            reschedule(&mut self.timers, conn, slot, deadline);
        }
    }

    /// Half-closes a connection whose exchange is over and waits for the
    /// peer's end of stream.
    fn linger<H: Handler>(&mut self, slot: usize, now: Instant, handler: &mut H) {
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        Self::end_open(
            slot,
            conn,
            &mut self.buffers,
            &mut self.services,
            now,
            handler,
        );
        // The server closes first after a clean close (RFC 6455 7.1.1): a
        // FIN after everything written (over TLS, after close_notify, and
        // once the socket has taken what waits; `settle` keeps writing).
        if conn.socket.shutdown_write().is_err() {
            self.remove(slot, handler);
            return;
        }
        conn.phase = Phase::Lingering;
        let deadline = now + self.config.close_timeout;
        conn.close_deadline = Some(deadline);
        reschedule(&mut self.timers, conn, slot, deadline);
        let want_write = conn.socket.pending() > 0;
        if conn.writable != want_write {
            let interest = if want_write {
                READ | Interest::WRITABLE
            } else {
                READ
            };
            let _ =
                self.poll
                    .registry()
                    .reregister(conn.socket.socket_mut(), Token(slot), interest);
            conn.writable = want_write;
        }
        // Input may already be waiting: edge-triggered, so drain it now.
        let more = drain_input(conn, self.config.read_budget);
        if conn.broken {
            self.remove(slot, handler);
        } else if more {
            read_again(&mut self.again, conn, slot);
        }
    }

    /// Reports the end of a WebSocket connection to the handler and takes
    /// back its buffers and subscriptions.
    fn end_open<H: Handler>(
        slot: usize,
        conn: &mut Conn,
        buffers: &mut Buffers,
        services: &mut Services,
        now: Instant,
        handler: &mut H,
    ) {
        let Phase::Open(c) = &mut conn.phase else {
            return;
        };
        services.unsubscribe_all(slot);
        let code = match (c.peer_close(), c.error()) {
            (Some((code, _)), _) => code,
            (None, Some(e)) => e.close_code(),
            (None, None) => CloseCode::ABNORMAL,
        };
        buffers.release_idle(c);
        let id = ConnId {
            worker: services.worker,
            slot,
        };
        handler.on_close(&mut Context { services, now }, id, code);
        conn.phase = Phase::Lingering;
    }

    fn remove<H: Handler>(&mut self, slot: usize, handler: &mut H) {
        if !self.conns.contains(slot) {
            return;
        }
        let mut conn = self.conns.remove(slot);
        self.hub.release_connection();
        let _ = self.poll.registry().deregister(conn.socket.socket_mut());
        let now = Instant::now();
        Self::end_open(
            slot,
            &mut conn,
            &mut self.buffers,
            &mut self.services,
            now,
            handler,
        );
        log::trace!("worker {}: closed {slot}", self.index);
    }

    fn run_timers<H: Handler>(&mut self, now: Instant, handler: &mut H) {
        while let Some(token) = self.services.timers.pop_due(now) {
            handler.on_timer(&mut self.context(now), token);
            self.deliver_outbox();
        }
        while let Some((when, slot, stamp)) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if conn.stamp != stamp || conn.timer_at != Some(when) {
                continue; // stale
            }
            conn.timer_at = None;
            self.check_deadlines(slot, now, handler);
        }
        if self.timers.len() > 2 * self.conns.len() + 64 {
            let conns = &self.conns;
            // An entry is live if it is the one its connection booked: an
            // earlier booking leaves the later entry behind, same stamp.
            self.timers.compact(|when, slot, stamp| {
                conns
                    .get(slot)
                    .is_some_and(|c| c.stamp == stamp && c.timer_at == Some(when))
            });
        }
    }

    /// Acts on whatever is due for one connection and schedules its next
    /// look.
    fn check_deadlines<H: Handler>(&mut self, slot: usize, now: Instant, handler: &mut H) {
        let config = Arc::clone(&self.config);
        let epoch = self.epoch;
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        if conn.close_deadline.is_some_and(|t| now >= t) {
            log::debug!("worker {}: {slot}: close timeout", self.index);
            self.remove(slot, handler);
            return;
        }
        if let (Some(since), Some(limit)) = (conn.stalled_since, config.send_timeout) {
            if now >= since + limit {
                log::debug!("worker {}: {slot}: send timeout", self.index);
                self.remove(slot, handler);
                return;
            }
        }
        // The request is in and answered: the response is cut off only if
        // it stops moving for as long (it may take a while to download).
        let answered_from = match conn.phase {
            Phase::Http => conn.stalled_since,
            _ => None,
        };
        let next = match &mut conn.phase {
            Phase::Lingering => conn.close_deadline,
            Phase::Handshake(_) | Phase::Http => {
                let from = answered_from.map_or(conn.accepted_at, |t| t.max(conn.accepted_at));
                let deadline = from + config.handshake_timeout;
                if now >= deadline {
                    log::debug!("worker {}: {slot}: handshake timeout", self.index);
                    self.remove(slot, handler);
                    return;
                }
                Some(deadline)
            }
            Phase::Open(c) => {
                let mut last = c.last_received().map_or(conn.accepted_at, |d| epoch + d);
                if conn.read_paused {
                    // Backpressure leaves the peer's input (a pong too)
                    // unread: output that still moves is its sign of life.
                    if let Some(moved) = conn.stalled_since {
                        last = last.max(moved);
                    }
                }
                let mut next = conn.close_deadline;
                let open = c.state() == State::Open;
                if let (Some(idle), true) = (config.idle_timeout, open) {
                    // Idle is without messages: the pongs that answer our
                    // pings keep `last` fresh and would keep a quiet peer
                    // for good. Bytes of a message still arriving, or
                    // left unread under backpressure, count.
                    let quiet_since = if c.buffered_input_len() > 0 || conn.read_paused {
                        last.max(conn.message_at)
                    } else {
                        conn.message_at
                    };
                    if now >= quiet_since + idle {
                        let _ =
                            c.close(CloseCode::GOING_AWAY, CloseReason::truncate("idle timeout"));
                    } else {
                        next = min_time(next, quiet_since + idle);
                    }
                }
                if let (Some(interval), true) = (config.ping_interval, c.state() == State::Open) {
                    if conn.ping_sent_at.is_some_and(|sent| last >= sent) {
                        conn.ping_sent_at = None; // something arrived: alive
                    }
                    match conn.ping_sent_at {
                        Some(sent) if now >= sent + interval => {
                            log::debug!("worker {}: {slot}: no answer to ping", self.index);
                            let _ = c.close(
                                CloseCode::INTERNAL_ERROR,
                                CloseReason::truncate("ping timeout"),
                            );
                        }
                        Some(sent) => next = min_time(next, sent + interval),
                        None if now >= last + interval => {
                            let _ = c.ping(ControlPayload::EMPTY);
                            conn.ping_sent_at = Some(now);
                            next = min_time(next, now + interval);
                        }
                        None => next = min_time(next, last + interval),
                    }
                }
                if now >= last + IDLE_SWEEP {
                    self.buffers.release_idle(c);
                    conn.socket.release_idle_memory();
                } else {
                    next = min_time(next, last + IDLE_SWEEP);
                    if !c.has_output() {
                        // Busy, but written out: what a burst of output grew
                        // goes (the read and message buffers go back at
                        // each drain already), at each look at the deadlines.
                        c.sender().shrink_idle();
                    }
                }
                next
            }
        };
        if let Some(when) = next {
            reschedule(&mut self.timers, conn, slot, when);
        }
        self.settle(slot, now, handler);
    }

    fn begin_shutdown<H: Handler>(&mut self, now: Instant, handler: &mut H) {
        log::info!("worker {}: shutting down", self.index);
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.shutdown_deadline = Some(now + self.config.close_timeout);
        let slots: Vec<usize> = self.conns.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            match &mut conn.phase {
                Phase::Handshake(_) => self.remove(slot, handler),
                Phase::Http | Phase::Lingering => {}
                Phase::Open(c) => {
                    // One already closing (or whose peer ended the stream)
                    // finishes as it is.
                    if c.state() == State::Open {
                        let _ = c.close(
                            CloseCode::GOING_AWAY,
                            CloseReason::truncate("server shutting down"),
                        );
                    }
                    self.settle(slot, now, handler);
                }
            }
        }
    }
}

fn min_time(a: Option<Instant>, b: Instant) -> Option<Instant> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl Drop for Worker {
    /// A worker that ends with connections still in it (a handler
    /// panicked, or polling failed) gives back what they hold in the hub:
    /// their places under `max_connections`, which the other workers would
    /// otherwise refuse for good, and their subscriptions, so publishers
    /// stop queuing to an inbox no one takes. The sockets close with it.
    fn drop(&mut self) {
        if self.conns.is_empty() {
            return;
        }
        if std::thread::panicking() {
            log::error!(
                "worker {} ended by a panic; its {} connections are closed",
                self.index,
                self.conns.len()
            );
        }
        for (slot, _) in &self.conns {
            self.services.unsubscribe_all(slot);
            self.hub.release_connection();
        }
    }
}

/// Points the connection's single live timer entry at `when`.
fn reschedule(timers: &mut Timers, conn: &mut Conn, slot: usize, when: Instant) {
    if conn.timer_at.is_some_and(|t| t <= when) {
        return; // an earlier look is already booked; it will reschedule
    }
    conn.timer_at = Some(when);
    timers.schedule(when, slot, conn.stamp);
}

fn is_resource_exhausted(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Reads the opening request; on a complete one, answers it and either
/// opens the WebSocket connection or switches to writing an HTTP response.
fn read_handshake<H: Handler>(
    conn: &mut Conn,
    id: ConnId,
    epoch: Instant,
    ctx: &mut Context<'_>,
    handler: &mut H,
) {
    let Phase::Handshake(state) = &mut conn.phase else {
        return;
    };
    let outcome = loop {
        match state.read_from(&mut conn.socket) {
            Ok(0) => {
                conn.broken = true;
                return;
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                conn.broken = true;
                return;
            }
        }
        match state.advance(id, conn.peer_addr, ctx, handler, &mut conn.http_out) {
            Outcome::Incomplete => continue,
            other => break other,
        }
    };
    match outcome {
        Outcome::Incomplete => {}
        Outcome::Respond => conn.phase = Phase::Http,
        Outcome::Upgrade { consumed, deflate } => {
            let Phase::Handshake(mut state) = std::mem::replace(&mut conn.phase, Phase::Http)
            else {
                return;
            };
            let mut c = upgrade::open_connection(
                crate::connection::Config {
                    delivery: Delivery::Messages,
                    ..ctx.services.config.connection
                },
                &deflate,
            );
            // A first frame may have come in the same packet as the head:
            // received now (the idle and ping deadlines count from it).
            c.receive(
                &state.buf[consumed..],
                ctx.now.saturating_duration_since(epoch),
            );
            conn.phase = Phase::Open(Box::new(c));
            conn.timer_at = None; // the handshake deadline entry goes stale
            let Conn {
                socket,
                phase: Phase::Open(c),
                broken,
                peer_addr,
                stamp,
                ..
            } = conn
            else {
                return;
            };
            if let Some(request) = state.upgrade_request() {
                let mut peer = Peer {
                    id,
                    stamp: *stamp,
                    peer_addr: *peer_addr,
                    tx: c,
                    socket,
                    direct_write_min: usize::MAX, // the 101 is not written yet
                    more_input: true,
                    broken,
                    lane: None,
                    ctx: Context {
                        services: &mut *ctx.services,
                        now: ctx.now,
                    },
                };
                handler.on_open(&mut peer, &request);
            }
            // Frames that came with the request, and whatever else the
            // socket holds, are read next by the caller.
        }
    }
}

/// Discards input while an HTTP response is being written, or after our
/// FIN, until the socket would block or `budget` bytes are read. Returns
/// whether to come back without a new readiness event.
fn drain_input(conn: &mut Conn, mut budget: usize) -> bool {
    let mut sink = [0u8; 4096];
    loop {
        if budget == 0 {
            return true;
        }
        let room = sink.len().min(budget);
        match conn.socket.read(&mut sink[..room]) {
            Ok(0) => {
                // Done once what we send is out too (TLS records may wait
                // below the response: `settle` ends it when they are).
                conn.broken = conn.http_at >= conn.http_out.len() && conn.socket.pending() == 0;
                return false;
            }
            Ok(n) => budget -= n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => {
                conn.broken = true;
                return false;
            }
        }
    }
}

/// Reads frames until the socket would block, the budget is spent or
/// backpressure stops reading. Returns whether to come back without a new
/// readiness event. The replies noted in `lane` are written before it
/// returns.
#[allow(clippy::too_many_arguments)]
fn read_frames<H: Handler>(
    conn: &mut Conn,
    id: ConnId,
    config: &ServerConfig,
    buffers: &mut Buffers,
    lane: &mut ReplyLane,
    epoch: Instant,
    ctx: Context<'_>,
    handler: &mut H,
) -> bool {
    let more = read_frames_noting(conn, id, config, buffers, lane, epoch, ctx, handler);
    if let Conn {
        socket,
        phase: Phase::Open(c),
        broken,
        ..
    } = conn
    {
        if *broken {
            lane.discard(c.sender());
            buffers.give_read_from(lane);
            return false;
        }
        let (input, tx) = c.input_and_sender();
        let flushed = lane.flush(input, tx, socket);
        buffers.give_read_from(lane);
        if flushed.is_err() {
            *broken = true;
            return false;
        }
    }
    more
}

/// [`read_frames`], leaving the large replies from the read buffer noted
/// in `lane`: they are written when the buffer is about to move and at the
/// end, so one write carries the replies to several reads.
#[allow(clippy::too_many_arguments)]
fn read_frames_noting<H: Handler>(
    conn: &mut Conn,
    id: ConnId,
    config: &ServerConfig,
    buffers: &mut Buffers,
    lane: &mut ReplyLane,
    epoch: Instant,
    ctx: Context<'_>,
    handler: &mut H,
) -> bool {
    let Conn {
        socket,
        peer_addr,
        phase: Phase::Open(c),
        broken,
        read_paused,
        read_until_blocked,
        stamp,
        http_out,
        http_at,
        message_at,
        ..
    } = conn
    else {
        return false;
    };
    let stamp = *stamp;
    // Frames that came with the upgrade request are handled before the 101
    // is written (`settle` writes it): nothing may go to the socket ahead
    // of it, so replies are queued until then.
    let write_early = *http_at >= http_out.len();
    let Context { services, now } = ctx;
    let since_epoch = now.saturating_duration_since(epoch);
    let mut budget = config.read_budget;
    // Frames that came with the handshake request wait in the buffer.
    let mut fresh = c.buffered_input_len() > 0;
    loop {
        // A read that returns less than asked has emptied the socket
        // (epoll(7)): with edge-triggered readiness, more data brings a new
        // event, so the read that would only say WouldBlock is skipped,
        // unless `read_until_blocked`.
        let mut drained = false;
        if fresh {
            fresh = false;
        } else {
            if *read_paused || *broken {
                return false;
            }
            if budget == 0 {
                return true;
            }
            if !lane.is_empty() && !c.read_keeps_input() {
                // The read would move noted payloads: read on into a spare
                // buffer, or write what is noted first.
                if lane.can_hold(c.input_and_sender().0) {
                    let old = c.replace_read_buffer(buffers.spare_read());
                    lane.hold(old);
                } else {
                    let (input, tx) = c.input_and_sender();
                    let flushed = lane.flush(input, tx, socket);
                    buffers.give_read_from(lane);
                    if flushed.is_err() {
                        *broken = true;
                        return false;
                    }
                }
            }
            buffers.lend(c);
            let buf = c.read_buf();
            let room = buf.len().min(budget);
            match socket.read(&mut buf[..room]) {
                Ok(0) => {
                    // The connection is now closed, but replies to what came
                    // before the end of stream are still written (a peer may
                    // half-close and wait for them); `settle` then closes.
                    c.receive_eof();
                    return false;
                }
                Ok(n) => {
                    c.commit_read(n, since_epoch);
                    budget -= n;
                    drained = n < room && !*read_until_blocked && !socket.read_ended();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    *broken = true;
                    return false;
                }
            }
        }
        lane.open(c.input_and_sender().0);
        loop {
            let buffered = c.buffered_input_len();
            let result = c.next_event_with(|event, tx| {
                let message = match event {
                    Event::Text(t) if heartbeat::answer(config.heartbeat.as_ref(), t, tx) => return,
                    Event::Text(t) => {
                        *message_at = now;
                        Message::Text(t)
                    }
                    Event::Binary(b) => {
                        *message_at = now;
                        Message::Binary(b)
                    }
                    Event::Ping(p) => Message::Ping(p),
                    Event::Pong(p) => Message::Pong(p),
                    // Close is handled by the connection; fragments need
                    // Delivery::Frames, which the server does not use.
                    Event::Close { .. } | Event::Fragment { .. } => return,
                };
                // Bytes beyond this message's frame (its header is at most
                // 14 bytes) belong to the next one.
                let size = match &message {
                    Message::Text(t) => t.len(),
                    Message::Binary(b) => b.len(),
                    Message::Ping(_) | Message::Pong(_) => 0,
                };
                let mut peer = Peer {
                    id,
                    stamp,
                    peer_addr: *peer_addr,
                    tx,
                    socket: &mut *socket,
                    direct_write_min: if write_early {
                        config.direct_write_min
                    } else {
                        usize::MAX
                    },
                    more_input: buffered > size + MAX_HEADER_LEN,
                    broken: &mut *broken,
                    lane: write_early.then_some(&mut *lane),
                    ctx: Context {
                        services: &mut *services,
                        now,
                    },
                };
                handler.on_message(&mut peer, message);
            });
            match result {
                Ok(Some(())) => {}
                Ok(None) => break,
                Err(e) => {
                    log::debug!("worker {}: {}: protocol error: {e}", id.worker, id.slot);
                    break;
                }
            }
        }
        if c.state() == State::Closed {
            return false;
        }
        if c.pending_output_len() > config.high_water {
            *read_paused = true;
            return false;
        }
        if drained {
            return false;
        }
    }
}

/// Writes what waits below the connection (TLS records), the pending HTTP
/// bytes, then the connection's output, until done or the socket would
/// block.
fn flush(conn: &mut Conn, coalesce: &mut Vec<u8>) -> io::Result<()> {
    conn.socket.flush_pending()?;
    while conn.http_at < conn.http_out.len() {
        match conn.socket.write(&conn.http_out[conn.http_at..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => conn.http_at += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if !conn.http_out.is_empty() {
        conn.http_out = Vec::new();
        conn.http_at = 0;
    }
    let Phase::Open(c) = &mut conn.phase else {
        return Ok(());
    };
    // Bytes written around the queue count as output but are not handed
    // out here: an empty hand-out ends the loop, not `has_output`.
    while c.has_output() {
        let written = match c.queued_shared_frames() {
            // Own replies only: they come out as one slice.
            0 => {
                let out = c.output();
                (!out.is_empty()).then(|| conn.socket.write(out))
            }
            // Published frames (or runs) each come as their own slice: one
            // write. Few of them (the usual turn of a subscriber) need few
            // slices, and an array that is cheap to set up.
            1..=2 => write_vectored::<SOME_SLICES>(c, &mut conn.socket, coalesce),
            _ => write_vectored::<WRITE_SLICES>(c, &mut conn.socket, coalesce),
        };
        let Some(written) = written else {
            return Ok(());
        };
        match written {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => c.consume_output(n),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One write of what `c` hands out, in at most `N` slices; `None` when it
/// hands out nothing.
fn write_vectored<const N: usize>(
    c: &mut Connection,
    socket: &mut Transport,
    coalesce: &mut Vec<u8>,
) -> Option<io::Result<usize>> {
    let mut slices = [IoSlice::new(&[]); N];
    match c.output_vectored(&mut slices) {
        0 => None,
        // One slice: write(2), which skips copying an iovec in.
        1 => Some(socket.write(&slices[0])),
        n => Some(socket.write_slices(&slices[..n], coalesce)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Echo;

    /// A lingering connection whose socket is one end of a loopback
    /// pair (the other end is returned, to keep it open).
    fn conn(stamp: u64, peer: &std::net::TcpListener) -> (Conn, std::net::TcpStream) {
        let client = std::net::TcpStream::connect(peer.local_addr().unwrap()).unwrap();
        let (server, peer_addr) = peer.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let now = Instant::now();
        let socket = Transport::Plain(mio::net::TcpStream::from_std(server));
        let mut conn = Conn::new(socket, peer_addr, stamp, Phase::Lingering, None, now);
        conn.close_deadline = Some(now + Duration::from_secs(3600));
        (conn, client)
    }

    /// A worker on a listener of its own, alone in its hub.
    fn worker(max_conns: usize) -> (Worker, Arc<Hub>) {
        let config = Arc::new(ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
            ..ServerConfig::default()
        });
        let listener = listen(config.listen).unwrap();
        let hub = Arc::new(Hub::new(1, 1 << 20, None, None));
        let worker = Worker::new(0, listener, config, max_conns, Arc::clone(&hub)).unwrap();
        (worker, hub)
    }

    #[test]
    fn compaction_drops_entries_a_reschedule_left_behind() {
        // Each connection booked a later look, then an earlier one (as an
        // upgrade does after the handshake deadline): the later entry is
        // dead. Compaction must drop it, or it keeps running on every turn
        // without getting the heap below its threshold.
        let (mut worker, _) = worker(1000);
        let peers = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let now = Instant::now();
        let mut clients = Vec::new();
        for stamp in 1..=100 {
            let (mut conn, client) = conn(stamp, &peers);
            clients.push(client);
            let slot = worker.conns.vacant_key();
            for later in [3000, 2000, 1000] {
                let when = now + Duration::from_secs(later);
                reschedule(&mut worker.timers, &mut conn, slot, when);
            }
            worker.conns.insert(conn);
        }
        assert_eq!(worker.timers.len(), 300);
        worker.run_timers(now, &mut Echo);
        assert_eq!(worker.timers.len(), 100, "one live entry per connection");
    }

    #[test]
    fn a_worker_that_dies_gives_back_its_connections_and_subscriptions() {
        let (mut worker, hub) = worker(3);
        let peers = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Vec::new();
        for stamp in 1..=3 {
            assert!(hub.reserve_connection(3));
            let (conn, client) = conn(stamp, &peers);
            clients.push(client);
            let slot = worker.conns.insert(conn);
            worker.services.subscribe(slot, "news").unwrap();
        }
        assert!(!hub.reserve_connection(3), "full");
        assert_eq!(hub.subscribers("news"), 3);
        let dying = std::thread::spawn(move || {
            let _worker = worker;
            std::panic!("a handler's bug");
        });
        assert!(dying.join().is_err());
        assert_eq!(hub.subscribers("news"), 0);
        for _ in 0..3 {
            assert!(hub.reserve_connection(3), "the places are free again");
        }
    }

    #[test]
    fn a_busy_connection_gives_back_the_output_buffer_a_burst_grew() {
        // 4 MiB queued for a peer that reads it all, while it goes on
        // sending (a heartbeat): the queue's capacity once stayed, freed
        // only after 2 s without input, so any active connection kept
        // what its largest burst had grown (up to the output bound).
        let (mut worker, _) = worker(1000);
        let peers = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut conn, mut client) = conn(1, &peers);
        let mut c = Connection::server(crate::connection::Config::default());
        let burst = 4 << 20;
        c.sender().send_binary(&vec![7u8; burst]).unwrap();
        conn.phase = Phase::Open(Box::new(c));
        conn.close_deadline = None;
        let slot = worker.conns.vacant_key();
        worker
            .poll
            .registry()
            .register(conn.socket.socket_mut(), Token(slot), READ)
            .unwrap();
        worker.conns.insert(conn);
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let reader = std::thread::spawn(move || {
            let mut sink = vec![0u8; 1 << 16];
            let mut got = 0;
            while got < burst {
                let n = client.read(&mut sink).unwrap();
                assert!(n > 0, "end of stream after {got} bytes");
                got += n;
            }
            client
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = Instant::now();
            worker.settle(slot, now, &mut Echo);
            let Phase::Open(c) = &worker.conns[slot].phase else {
                std::panic!("closed");
            };
            if !c.has_output() {
                break;
            }
            assert!(now < deadline, "the peer did not take the burst");
            std::thread::sleep(Duration::from_millis(1));
        }
        let _client = reader.join().unwrap();
        // Input just came: not idle.
        let now = Instant::now();
        let conn = &mut worker.conns[slot];
        let Phase::Open(c) = &mut conn.phase else {
            std::panic!("closed");
        };
        let ping = [0x89, 0x80, 1, 2, 3, 4];
        c.receive(&ping, now.saturating_duration_since(worker.epoch));
        let held = c.heap_bytes();
        assert!(held >= burst, "the burst grew the queue: {held}");
        conn.timer_at = None;
        worker.check_deadlines(slot, now, &mut Echo);
        let Phase::Open(c) = &worker.conns[slot].phase else {
            std::panic!("closed");
        };
        let held = c.heap_bytes();
        assert!(held < burst / 4, "still held after the burst: {held}");
    }

    #[test]
    fn input_dropped_after_the_close_is_read_within_the_budget() {
        // Input after our FIN is read only to be dropped, but it counts
        // against the read budget like frames: it was read until the
        // socket would block, and a peer that kept it full held the loop
        // (timers too) for as long as it kept sending.
        let budget = 8 << 10;
        let config = Arc::new(ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
            read_budget: budget,
            ..ServerConfig::default()
        });
        let listener = listen(config.listen).unwrap();
        let hub = Arc::new(Hub::new(1, 1 << 20, None, None));
        let mut worker = Worker::new(0, listener, config, 1000, hub).unwrap();
        let peers = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (conn, mut client) = conn(1, &peers);
        let slot = worker.conns.insert(conn);
        let sent = 1 << 20;
        let writer = std::thread::spawn(move || {
            client.write_all(&vec![0u8; sent]).unwrap();
            client
        });
        let waiting = |worker: &Worker| {
            let Transport::Plain(s) = &worker.conns[slot].socket else {
                unreachable!()
            };
            let mut buf = vec![0u8; 2 * sent];
            s.peek(&mut buf).unwrap_or(0)
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while waiting(&worker) < 4 * budget {
            assert!(Instant::now() < deadline, "the input did not arrive");
            std::thread::sleep(Duration::from_millis(1));
        }
        let before = waiting(&worker);
        worker.drive(slot, Instant::now(), true, &mut Echo);
        let read = before - waiting(&worker);
        assert!(read <= budget, "read {read} bytes in one turn");
        assert_eq!(worker.again, [slot], "to be read again without an event");
        let _client = writer.join().unwrap();
    }

    #[test]
    fn a_listener_that_always_fails_pauses_accepting() {
        // A socket bound but not listening fails every accept with EINVAL.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        socket.set_nonblocking(true).unwrap();
        let config = Arc::new(ServerConfig::default());
        let hub = Arc::new(Hub::new(1, 1 << 20, None, None));
        let mut worker = Worker::new(0, socket.into(), config, 1000, hub).unwrap();
        // Before, this call never returned.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let now = Instant::now();
            worker.accept(now);
            let _ = done_tx.send(worker.accept_paused_until.map(|t| t - now));
        });
        let paused = done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("accept returned");
        assert_eq!(paused, Some(ACCEPT_BACKOFF));
        handle.join().unwrap();
    }
}
