//! The fan-out mode (`--subscribers`): P publishers and N subscribers on
//! one topic URL, every message checked at every receiver.
//!
//! Connections `0..P` of the run publish; every connection receives the
//! messages of every publisher but itself. A message carries its publisher,
//! sequence number and send time (see [`HEADER`]), then padding chosen by
//! those two numbers, so a receiver checks every byte, the order and the
//! completeness per publisher, and the latency from the one clock all
//! threads share.
//!
//! Flow control across threads: for each publisher a ring of `window`
//! counters ([`Tally`]) counts the receivers of each message in flight. A
//! receiver increments the counter of every message it gets; the publisher
//! sends message `k` only once message `k - window` has been counted by
//! every receiver, and recycles the counter. A receiver that completes a
//! message of a publisher on another thread wakes that thread's `Poll`.
//!
//! Per delivered message: one counter increment and a byte comparison, no
//! allocation; a publisher builds each message in a buffer it reuses.

use std::io::ErrorKind;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Token, Waker};
use rfc6455::connection::{Config, Event, MessageKind};
use rfc6455::Limits;

use crate::args::Options;
use crate::cpu::{server_fields, ProcessCpu, WindowCpu};
use crate::driver::{
    close_socket, fail, flush, nanos_since, read_some, start_close, update_interest, Conn, Got,
    Net, Phase, Pool, Schedule, Target,
};
use crate::histogram::Histogram;
use crate::launch::{launch, LoadThread};
use crate::rng::SplitMix64;

/// Bytes at the start of every message: the publisher's number (u32), the
/// sequence number (u64) and the send time (u64, nanoseconds since the
/// run's epoch), little-endian.
pub const HEADER: usize = 20;
/// Distinct padding windows: consecutive messages differ.
const PAD_WINDOWS: usize = 251;
/// After the window, the messages in flight are awaited as long as one of
/// them reaches its last receiver at least this often.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Then: time for the close handshakes.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The token of a thread's waker; connections use their index.
const WAKE: Token = Token(usize::MAX);
/// A load thread at or above this share of a core is the bottleneck.
const SATURATED: f64 = 0.95;

/// What every thread is asked to do.
pub struct Plan {
    target: Target,
    size: usize,
    publishers: usize,
    window: usize,
    /// Time between two messages of a publisher; `None`: as fast as the
    /// window allows.
    interval: Option<Duration>,
    /// The padding of message (publisher, seq) is a window into these.
    padding: Vec<u8>,
    /// Send times count from here, in every thread.
    epoch: Instant,
}

/// A thread's waker and whether a wake is already on its way.
struct Wake {
    waker: Waker,
    pending: AtomicBool,
}

/// Delivery counts all threads share.
struct Tally {
    /// Receivers of every message: every connection but its sender.
    receivers: u32,
    window: usize,
    /// Per publisher, per sequence number modulo the window: receivers
    /// that have the message.
    slots: Box<[AtomicU32]>,
    /// The thread each publisher runs on.
    owner: Box<[usize]>,
    /// Messages that reached every receiver, over all publishers.
    delivered: AtomicU64,
    /// Publishers that stopped and saw every message of theirs delivered.
    finished: AtomicUsize,
    wakes: Box<[Wake]>,
}

impl Tally {
    fn slot(&self, publisher: usize, seq: u64) -> &AtomicU32 {
        &self.slots[publisher * self.window + (seq % self.window as u64) as usize]
    }

    /// Wakes thread `t` unless a wake is already pending.
    fn wake(&self, t: usize) {
        let wake = &self.wakes[t];
        if !wake.pending.swap(true, Ordering::AcqRel) {
            if let Err(e) = wake.waker.wake() {
                eprintln!("wsload: wake: {e}");
            }
        }
    }
}

/// What the fan-out mode keeps per connection.
pub struct Member {
    publisher: Option<Publisher>,
    /// Per publisher: one past the highest sequence number received.
    next: Box<[u64]>,
    /// Per publisher: which of the [`SEEN`] sequence numbers below `next`
    /// arrived (bit `i` for `next - 1 - i`), to tell a repeat from a
    /// message that comes late.
    seen: Box<[u64]>,
    /// Per publisher: distinct messages received.
    got: Box<[u64]>,
    /// Messages that arrived after a later one of the same publisher.
    reordered: u64,
    /// Messages that arrived again.
    repeated: u64,
}

/// How far below the highest sequence number a repeat is still told from a
/// late message: the window keeps a receiver's messages of one publisher
/// within `--window` of each other, so this covers windows up to 64.
const SEEN: u64 = 64;

struct Publisher {
    id: usize,
    sent: u64,
    /// Messages `0..acked` reached every receiver.
    acked: u64,
    /// When the next message is due (with --rate).
    due: Instant,
    /// Stopped, with every message delivered.
    finished: bool,
}

type MemberConn = Conn<Member>;

/// A thread's results.
pub struct Report {
    hist: Histogram,
    /// Messages published within the window.
    published: u64,
    errors: u64,
    cpu: Option<Duration>,
    /// This thread's publishers: (number, messages sent in all).
    sent: Vec<(usize, u64)>,
    members: Vec<Received>,
}

/// What one connection received.
struct Received {
    /// Its own publisher number, if it publishes.
    publisher: Option<usize>,
    /// Distinct messages received per publisher.
    got: Box<[u64]>,
    reordered: u64,
    /// Messages received again.
    repeated: u64,
}

pub struct Worker {
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    /// This thread's index, for the tally's owners and wakers.
    index: usize,
    pool: Pool<Member>,
    /// Indices of this thread's publishers in its connections.
    publishers: Vec<usize>,
    /// The message a publisher is building.
    scratch: Vec<u8>,
    hist: Histogram,
    published: u64,
    cpu: Option<Duration>,
}

/// The thread-wide state the loop's steps update.
struct Ctx<'a> {
    plan: &'a Plan,
    tally: &'a Tally,
    index: usize,
    schedule: Schedule,
    net: Net<'a>,
    hist: &'a mut Histogram,
    published: &'a mut u64,
    scratch: &'a mut Vec<u8>,
}

impl Worker {
    fn split(&mut self, schedule: Schedule) -> (Ctx<'_>, &mut [MemberConn], &[usize]) {
        let (net, conns) = self.pool.split();
        (
            Ctx {
                plan: &self.plan,
                tally: &self.tally,
                index: self.index,
                schedule,
                net,
                hist: &mut self.hist,
                published: &mut self.published,
                scratch: &mut self.scratch,
            },
            conns,
            &self.publishers,
        )
    }
}

impl LoadThread for Worker {
    type Report = Report;

    fn connect(&mut self, abort: &AtomicBool) -> bool {
        let publishers = self.plan.publishers;
        let now = Instant::now();
        let connected = self
            .pool
            .connect_all(&self.plan.target, abort, |number| Member {
                publisher: (number < publishers).then_some(Publisher {
                    id: number,
                    sent: 0,
                    acked: 0,
                    due: now,
                    finished: false,
                }),
                next: vec![0; publishers].into_boxed_slice(),
                seen: vec![0; publishers].into_boxed_slice(),
                got: vec![0; publishers].into_boxed_slice(),
                reordered: 0,
                repeated: 0,
            });
        self.publishers = (self.pool.conns.iter().enumerate())
            .filter(|(_, c)| c.state.publisher.is_some())
            .map(|(i, _)| i)
            .collect();
        connected
    }

    fn load(&mut self, schedule: Schedule) {
        let start = Instant::now();
        for conn in &mut self.pool.conns {
            if let Some(publisher) = conn.state.publisher.as_mut() {
                publisher.due = start;
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut cpu = WindowCpu::default();
        // Set once the window is over: until when to wait for the
        // messages in flight, moved on whenever one is delivered.
        let mut drain_deadline = None;
        let mut delivered = 0;
        // Set once the connections are told to close.
        let mut close_deadline = None;
        let (mut ctx, conns, publishers) = self.split(schedule);
        loop {
            let now = Instant::now();
            if cpu.sample(now, &schedule) {
                drain_deadline = Some(now + DRAIN_TIMEOUT);
            }
            let stopped = drain_deadline.is_some();
            pump(&mut ctx, conns, publishers, now, stopped);
            if let (Some(drain), None) = (drain_deadline.as_mut(), close_deadline) {
                let progress = ctx.tally.delivered.load(Ordering::Relaxed);
                if progress != delivered {
                    delivered = progress;
                    *drain = now + DRAIN_TIMEOUT;
                }
                let all = ctx.tally.finished.load(Ordering::Acquire) == ctx.plan.publishers;
                if all || now >= *drain {
                    close_deadline = Some(now + CLOSE_TIMEOUT);
                    close_all(&mut ctx, conns);
                }
            }
            if *ctx.net.live == 0 {
                break;
            }
            let until = match (close_deadline, drain_deadline) {
                (Some(deadline), _) if now >= deadline => break,
                (Some(deadline), _) => deadline,
                (None, Some(deadline)) => deadline,
                (None, None) => {
                    let edge = if now < schedule.measure_from {
                        schedule.measure_from
                    } else {
                        schedule.measure_to
                    };
                    next_due(&ctx, conns, publishers).map_or(edge, |due| due.min(edge))
                }
            };
            let timeout = until.saturating_duration_since(now);
            if let Err(e) = ctx.net.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("wsload: poll: {e}");
                ctx.net.errors.count += 1;
                break;
            }
            for event in events.iter() {
                if event.token() == WAKE {
                    // Cleared before the pump at the top of the loop looks,
                    // so that a later completion wakes again.
                    ctx.tally.wakes[ctx.index]
                        .pending
                        .store(false, Ordering::Release);
                    continue;
                }
                let i = event.token().0;
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                drive(&mut conns[i], i, &mut ctx, readable);
            }
        }
        for conn in conns.iter_mut() {
            let message = match conn.phase {
                Phase::Done => continue,
                Phase::Closing => "the server did not answer the close frame",
                _ => "still open at the end",
            };
            fail(conn, &mut ctx.net, message);
        }
        self.cpu = cpu.used();
    }

    fn report(mut self) -> Report {
        Report {
            published: self.published,
            errors: self.pool.errors.count,
            cpu: self.cpu,
            sent: (self.pool.conns.iter())
                .filter_map(|c| c.state.publisher.as_ref().map(|p| (p.id, p.sent)))
                .collect(),
            members: (self.pool.conns.iter_mut())
                .map(|c| {
                    let m = &mut c.state;
                    Received {
                        publisher: m.publisher.as_ref().map(|p| p.id),
                        got: std::mem::take(&mut m.got),
                        reordered: m.reordered,
                        repeated: m.repeated,
                    }
                })
                .collect(),
            hist: self.hist,
        }
    }
}

/// Advances each publisher of this thread: recycles the counters of the
/// messages every receiver has, then sends what the window (and the rate)
/// allows, until the window ends; after that, reports the publisher
/// finished once all its messages are delivered.
fn pump(
    ctx: &mut Ctx<'_>,
    conns: &mut [MemberConn],
    publishers: &[usize],
    now: Instant,
    stopped: bool,
) {
    let (plan, tally) = (ctx.plan, ctx.tally);
    let t = nanos_since(plan.epoch, now);
    let in_window = now >= ctx.schedule.measure_from && now < ctx.schedule.measure_to;
    for &i in publishers {
        let conn = &mut conns[i];
        let Some(publisher) = conn.state.publisher.as_mut() else {
            continue;
        };
        let acked = publisher.acked;
        while publisher.acked < publisher.sent {
            let slot = tally.slot(publisher.id, publisher.acked);
            if slot.load(Ordering::Acquire) < tally.receivers {
                break;
            }
            slot.fetch_sub(tally.receivers, Ordering::AcqRel);
            publisher.acked += 1;
        }
        if publisher.acked > acked {
            (tally.delivered).fetch_add(publisher.acked - acked, Ordering::Relaxed);
        }
        if stopped {
            if !publisher.finished && publisher.acked == publisher.sent {
                publisher.finished = true;
                if tally.finished.fetch_add(1, Ordering::AcqRel) + 1 == plan.publishers {
                    (0..tally.wakes.len())
                        .filter(|&t| t != ctx.index)
                        .for_each(|t| tally.wake(t));
                }
            }
            continue;
        }
        if conn.phase != Phase::Open {
            continue;
        }
        let Some(ws) = conn.ws.as_mut() else {
            continue;
        };
        let mut result = Ok(());
        while publisher.sent < publisher.acked + plan.window as u64 {
            let stamp = match plan.interval {
                None => t,
                Some(_) if now < publisher.due => break,
                Some(interval) => {
                    // Held back by the window for a whole interval or more:
                    // its latency counts from when it was due.
                    let held = now >= publisher.due + interval;
                    let stamp = if held {
                        nanos_since(plan.epoch, publisher.due)
                    } else {
                        t
                    };
                    publisher.due += interval;
                    stamp
                }
            };
            let scratch = &mut *ctx.scratch;
            scratch.clear();
            scratch.extend_from_slice(&(publisher.id as u32).to_le_bytes());
            scratch.extend_from_slice(&publisher.sent.to_le_bytes());
            scratch.extend_from_slice(&stamp.to_le_bytes());
            scratch.extend_from_slice(padding(plan, publisher.id, publisher.sent));
            if let Err(e) = ws.send_message(MessageKind::Binary, scratch) {
                result = Err(format!("send refused: {e}"));
                break;
            }
            publisher.sent += 1;
            if in_window {
                *ctx.published += 1;
            }
        }
        if let Err(message) = result.and_then(|()| flush(conn)) {
            fail(conn, &mut ctx.net, &message);
        }
        update_interest(conn, i, &mut ctx.net);
    }
}

/// The earliest time a publisher of this thread may send its next message,
/// with --rate and the window open.
fn next_due(ctx: &Ctx<'_>, conns: &[MemberConn], publishers: &[usize]) -> Option<Instant> {
    ctx.plan.interval?;
    (publishers.iter())
        .filter(|&&i| conns[i].phase == Phase::Open)
        .filter_map(|&i| conns[i].state.publisher.as_ref())
        .filter(|p| p.sent < p.acked + ctx.plan.window as u64)
        .map(|p| p.due)
        .min()
}

/// Starts the close handshake on every open connection.
fn close_all(ctx: &mut Ctx<'_>, conns: &mut [MemberConn]) {
    for (i, conn) in conns.iter_mut().enumerate() {
        if conn.phase == Phase::Open {
            if let Err(message) = start_close(conn) {
                fail(conn, &mut ctx.net, &message);
            }
            update_interest(conn, i, &mut ctx.net);
        }
    }
}

/// Serves a readiness event of connection `i`: reads and checks everything
/// that arrived, writes what is queued (pongs, the close frame).
fn drive(conn: &mut MemberConn, i: usize, ctx: &mut Ctx<'_>, readable: bool) {
    if conn.phase == Phase::Done {
        return;
    }
    let result = if readable {
        read_and_check(conn, ctx)
    } else {
        Ok(())
    };
    if let Err(message) = result.and_then(|()| flush(conn)) {
        fail(conn, &mut ctx.net, &message);
    }
    update_interest(conn, i, &mut ctx.net);
}

/// Reads until the socket is drained (a short read says so: edge-triggered
/// readiness fires again for anything that arrives later), checking every
/// message.
///
/// The clock is read for each read: while this loop runs, the publishers go
/// on as this member takes messages, so a time taken once for the whole
/// drain could count messages published inside the window as received
/// before it, without bound. Read by read, at most a window of messages per
/// publisher can be published between the clock and the read.
fn read_and_check(conn: &mut MemberConn, ctx: &mut Ctx<'_>) -> Result<(), String> {
    loop {
        let now = Instant::now();
        let since_epoch = now.saturating_duration_since(ctx.plan.epoch);
        let t = nanos_since(ctx.plan.epoch, now);
        let in_window = now >= ctx.schedule.measure_from && now < ctx.schedule.measure_to;
        let got = read_some(conn, since_epoch)?;
        if got == Got::Nothing {
            return Ok(());
        }
        check_events(conn, ctx, t, in_window)?;
        if matches!(got, Got::Short(_)) || conn.phase == Phase::Done {
            return Ok(());
        }
    }
}

/// Handles the events of the bytes read so far.
fn check_events(
    conn: &mut MemberConn,
    ctx: &mut Ctx<'_>,
    t: u64,
    in_window: bool,
) -> Result<(), String> {
    loop {
        let Some(ws) = conn.ws.as_mut() else {
            return Ok(());
        };
        let data = match ws.next_event() {
            Ok(None) => return Ok(()),
            Ok(Some(Event::Binary(b))) => b,
            Ok(Some(Event::Text(_))) => {
                return Err("a text message; the publishers send binary".into());
            }
            Ok(Some(Event::Ping(_) | Event::Pong(_))) => continue,
            Ok(Some(Event::Close { code, reason })) => {
                if conn.phase == Phase::Closing {
                    close_socket(conn, &mut ctx.net);
                    return Ok(());
                }
                let code = code.map_or(1005, |c| c.0);
                return Err(format!("the server closed the connection: {code} {reason}"));
            }
            Ok(Some(Event::Fragment { .. })) => return Err("unexpected fragment".into()),
            Err(e) => return Err(format!("protocol error (close {}): {e}", e.close_code().0)),
        };
        deliver(&mut conn.state, data, ctx, t, in_window)?;
    }
}

/// Checks one received message and counts it.
fn deliver(
    member: &mut Member,
    data: &[u8],
    ctx: &mut Ctx<'_>,
    t: u64,
    in_window: bool,
) -> Result<(), String> {
    let plan = ctx.plan;
    let header = (data.len() == plan.size)
        .then(|| parse_header(data))
        .flatten()
        .ok_or_else(|| {
            format!(
                "a message of {} bytes; the publishers send {}",
                data.len(),
                plan.size
            )
        })?;
    let (id, seq, sent_at) = header;
    if id >= plan.publishers {
        return Err(format!(
            "a message from publisher {id}; there are {}",
            plan.publishers
        ));
    }
    if member.publisher.as_ref().is_some_and(|p| p.id == id) {
        return Err(
            "a publisher got its own message back: the server echoes, or publishes to the \
             sender too"
                .into(),
        );
    }
    let want = padding(plan, id, seq);
    if &data[HEADER..] != want {
        let at = (data[HEADER..].iter().zip(want))
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(format!(
            "message {seq} of publisher {id} differs at byte {}",
            HEADER + at
        ));
    }
    let (next, seen) = (&mut member.next[id], &mut member.seen[id]);
    if seq >= *next {
        let shift = seq + 1 - *next;
        *seen = if shift >= SEEN { 0 } else { *seen << shift } | 1;
        *next = seq + 1;
    } else {
        let below = *next - 1 - seq;
        if below < SEEN {
            if *seen & (1 << below) != 0 {
                // A repeat: neither a delivery nor a reorder, and kept out
                // of the tally, where it would stand for a receiver that
                // does not have the message.
                member.repeated += 1;
                return Ok(());
            }
            *seen |= 1 << below;
        }
        member.reordered += 1;
    }
    member.got[id] += 1;
    let tally = ctx.tally;
    if tally.slot(id, seq).fetch_add(1, Ordering::AcqRel) + 1 == tally.receivers {
        let owner = tally.owner[id];
        if owner != ctx.index {
            tally.wake(owner);
        }
    }
    if in_window {
        ctx.hist.record(t.saturating_sub(sent_at));
    }
    Ok(())
}

/// Publisher, sequence number and send time.
fn parse_header(data: &[u8]) -> Option<(usize, u64, u64)> {
    let id = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
    let seq = u64::from_le_bytes(data.get(4..12)?.try_into().ok()?);
    let sent = u64::from_le_bytes(data.get(12..20)?.try_into().ok()?);
    Some((usize::try_from(id).ok()?, seq, sent))
}

/// The padding of message `seq` of publisher `id`.
fn padding(plan: &Plan, id: usize, seq: u64) -> &[u8] {
    let start = ((id as u64).wrapping_mul(7).wrapping_add(seq) % PAD_WINDOWS as u64) as usize;
    &plan.padding[start..start + plan.size - HEADER]
}

/// Runs the fan-out mode and prints its line.
pub fn run(options: &Options, seeds: &mut SplitMix64) -> ExitCode {
    let (plan, receivers) = match make_plan(options, seeds) {
        Ok(made) => made,
        Err(message) => {
            eprintln!("wsload: {message}");
            return ExitCode::from(2);
        }
    };
    let plan = Arc::new(plan);
    let shares = crate::shares(options, seeds);
    let mut pools = Vec::new();
    let mut wakes = Vec::new();
    let mut owner = vec![0; plan.publishers];
    for (t, share) in shares.into_iter().enumerate() {
        let end = (share.first + share.count).min(plan.publishers);
        if share.first < end {
            owner[share.first..end].fill(t);
        }
        let made = Pool::new(share).and_then(|pool: Pool<Member>| {
            let waker = Waker::new(pool.poll.registry(), WAKE)?;
            Ok((pool, waker))
        });
        match made {
            Ok((pool, waker)) => {
                pools.push(pool);
                wakes.push(Wake {
                    waker,
                    pending: AtomicBool::new(false),
                });
            }
            Err(e) => {
                eprintln!("wsload: cannot start a poll: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let tally = Arc::new(Tally {
        receivers,
        window: plan.window,
        slots: (0..plan.publishers * plan.window)
            .map(|_| AtomicU32::new(0))
            .collect(),
        owner: owner.into_boxed_slice(),
        delivered: AtomicU64::new(0),
        finished: AtomicUsize::new(0),
        wakes: wakes.into_boxed_slice(),
    });
    let workers = (pools.into_iter().enumerate())
        .map(|(index, pool)| Worker {
            plan: Arc::clone(&plan),
            tally: Arc::clone(&tally),
            index,
            pool,
            publishers: Vec::new(),
            scratch: Vec::with_capacity(plan.size),
            hist: Histogram::new(),
            published: 0,
            cpu: None,
        })
        .collect();
    let Some(outcome) = launch(workers, options) else {
        return ExitCode::FAILURE;
    };

    let mut totals = Totals {
        hist: Histogram::new(),
        ..Totals::default()
    };
    let mut sent = vec![0u64; plan.publishers];
    let mut members = Vec::new();
    let mut cpus = Some(Vec::new());
    for report in outcome.reports {
        let Some(report) = report else {
            totals.errors += 1;
            cpus = None;
            continue;
        };
        totals.hist.merge(&report.hist);
        totals.published += report.published;
        totals.errors += report.errors;
        for (id, n) in report.sent {
            sent[id] = n;
        }
        members.extend(report.members);
        cpus = cpus.zip(report.cpu).map(|(mut all, c)| {
            all.push(c.as_secs_f64());
            all
        });
    }
    if !outcome.all_up && totals.errors == 0 {
        totals.errors = 1; // a thread gave up because another one failed
    }
    if outcome.all_up {
        let duplicated = account(&sent, &members, &mut totals);
        if duplicated > 0 {
            eprintln!("wsload: {duplicated} message(s) received more often than sent");
            totals.errors += 1;
        }
    }
    let secs = options.secs.as_secs_f64();
    totals.cpu = cpus.filter(|_| outcome.all_up).map(|all| {
        let total = all.iter().sum::<f64>() / secs;
        let max = all.iter().cloned().fold(0.0, f64::max) / secs;
        (total, max)
    });
    totals.server_cpu = outcome.server_cpu;
    if let Some((total, max)) = totals.cpu {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if max >= SATURATED || total >= SATURATED * options.threads.min(cores) as f64 {
            eprintln!(
                "wsload: its load threads used {total:.2} cores (the busiest {max:.2}) with \
                 {cores} available: wsload is the bottleneck and the rate is partly its \
                 limit (server_ns_per_msg is not); give it more --threads and cores"
            );
        }
    }
    println!("{}", summary(options, &totals));
    if totals.errors == 0 && totals.lost == 0 && totals.reordered == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Losses and reorders per receiver, from what each publisher sent; the
/// number of messages received again or beyond that (duplicates).
fn account(sent: &[u64], members: &[Received], t: &mut Totals) -> u64 {
    let mut duplicated = 0;
    for member in members {
        duplicated += member.repeated;
        let mut lost = 0;
        for (id, (&sent, &got)) in sent.iter().zip(member.got.iter()).enumerate() {
            if Some(id) != member.publisher {
                lost += sent.saturating_sub(got);
                duplicated += got.saturating_sub(sent);
            }
        }
        t.lost += lost;
        t.reordered += member.reordered;
        t.lossy_subs += u64::from(lost > 0 || member.reordered > 0);
    }
    duplicated
}

/// Resolves the URL, sets the limits and builds the padding; also gives
/// the receivers per message.
fn make_plan(options: &Options, seeds: &mut SplitMix64) -> Result<(Plan, u32), String> {
    let subscribers = options.subscribers.unwrap_or(0);
    let receivers = subscribers
        .checked_add(options.publishers - 1)
        .and_then(|r| u32::try_from(r).ok())
        .ok_or("--subscribers: too many")?;
    let size = options.size as u64;
    let frame = options.size + 14;
    let in_flight = options.window.saturating_mul(options.publishers);
    let limits = Limits {
        max_frame_size: Limits::DEFAULT.max_frame_size.max(size),
        max_message_size: Limits::DEFAULT.max_message_size.max(size),
        max_output_buffer: Limits::DEFAULT
            .max_output_buffer
            .max(frame.saturating_mul(options.window).saturating_add(256)),
        ..Limits::DEFAULT
    };
    let mut padding = vec![0u8; options.size - HEADER + PAD_WINDOWS];
    SplitMix64::new(seeds.next_u64()).fill(&mut padding);
    let config = Config {
        limits,
        // Room for every message that can be in flight to a receiver,
        // within what 10,000 connections can hold.
        read_chunk: frame.saturating_mul(in_flight).clamp(4 << 10, 32 << 10),
        ..Config::default()
    };
    let plan = Plan {
        target: crate::target(options, config)?,
        size: options.size,
        publishers: options.publishers,
        window: options.window,
        interval: options.rate.map(|r| Duration::from_secs_f64(1.0 / r)),
        padding,
        epoch: Instant::now(),
    };
    Ok((plan, receivers))
}

#[derive(Default)]
struct Totals {
    hist: Histogram,
    published: u64,
    lost: u64,
    reordered: u64,
    /// Receivers that lost or reordered at least one message.
    lossy_subs: u64,
    /// wsload's CPU over the window in cores: all threads, the busiest.
    cpu: Option<(f64, f64)>,
    /// The server's CPU over the window.
    server_cpu: Option<ProcessCpu>,
    errors: u64,
}

/// The one machine-readable result line.
fn summary(o: &Options, t: &Totals) -> String {
    let secs = o.secs.as_secs_f64();
    let msgs = t.hist.count();
    let us = |ns: u64| ns as f64 / 1e3;
    let hist = &t.hist;
    let rate = o.rate.map_or_else(|| "max".to_owned(), |r| format!("{r}"));
    let (cpu, cpu_max) = t.cpu.map_or_else(
        || ("-".to_owned(), "-".to_owned()),
        |(c, m)| (format!("{c:.2}"), format!("{m:.2}")),
    );
    let mut line = format!(
        "mode=fanout subscribers={} publishers={} size={} secs={secs:.2} window={} \
         publish_rate={rate} threads={} published={} pub_rate={:.0} msgs={msgs} rate={:.0} \
         p50_us={:.1} p99_us={:.1} p999_us={:.1} max_us={:.1} lost={} reordered={} \
         lossy_subs={} cpu={cpu} cpu_max={cpu_max}",
        o.subscribers.unwrap_or(0),
        o.publishers,
        o.size,
        o.window,
        o.threads,
        t.published,
        t.published as f64 / secs,
        msgs as f64 / secs,
        us(hist.quantile(0.5)),
        us(hist.quantile(0.99)),
        us(hist.quantile(0.999)),
        us(hist.max()),
        t.lost,
        t.reordered,
        t.lossy_subs,
    );
    if o.server_pid.is_some() {
        line += &server_fields(t.server_cpu, msgs, secs);
        match t.server_cpu.and_then(|c| c.user_sys()) {
            Some((user, sys)) => {
                line += &format!(
                    " server_user={:.2} server_sys={:.2}",
                    user / secs,
                    sys / secs
                )
            }
            None => line += " server_user=- server_sys=-",
        }
    }
    line += &format!(" errors={}", t.errors);
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn losses_and_duplicates_are_counted_per_receiver() {
        // Two publishers sent 10 and 7; connection 0 is publisher 0.
        let sent = [10, 7];
        let member = |publisher, got: [u64; 2], reordered, repeated| Received {
            publisher,
            got: got.into(),
            reordered,
            repeated,
        };
        let members = [
            member(Some(0), [0, 7], 0, 0), // own messages not expected
            member(None, [10, 7], 0, 0),
            member(None, [9, 5], 1, 0),  // 3 lost, 1 reordered
            member(None, [10, 8], 0, 0), // one more than sent
            member(None, [10, 7], 0, 2), // two received again
        ];
        let mut t = Totals::default();
        assert_eq!(account(&sent, &members, &mut t), 3);
        assert_eq!((t.lost, t.reordered, t.lossy_subs), (3, 1, 1));
    }

    #[test]
    fn header_round_trip() {
        let mut m = Vec::new();
        m.extend_from_slice(&7u32.to_le_bytes());
        m.extend_from_slice(&123_456u64.to_le_bytes());
        m.extend_from_slice(&987_654_321u64.to_le_bytes());
        assert_eq!(m.len(), HEADER);
        assert_eq!(parse_header(&m), Some((7, 123_456, 987_654_321)));
        assert_eq!(parse_header(&m[..19]), None);
    }

    #[test]
    fn summary_is_one_line_of_key_values() {
        let o = Options {
            subscribers: Some(1000),
            conns: 1001,
            size: 64,
            server_pid: Some(1),
            ..Options::default()
        };
        let mut hist = Histogram::new();
        for _ in 0..5000 {
            hist.record(2_000_000);
        }
        let t = Totals {
            hist,
            published: 5,
            cpu: Some((0.5, 0.5)),
            server_cpu: Some(ProcessCpu {
                secs: 2.5,
                user_share: Some(0.4),
            }),
            ..Totals::default()
        };
        let line = summary(&o, &t);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with(
                "mode=fanout subscribers=1000 publishers=1 size=64 secs=5.00 window=16 \
                 publish_rate=max threads=1 published=5 pub_rate=1 msgs=5000 rate=1000 "
            ),
            "{line}"
        );
        assert!(
            line.ends_with(
                " lost=0 reordered=0 lossy_subs=0 cpu=0.50 cpu_max=0.50 server_cpu=0.50 \
                 server_ns_per_msg=500000 server_user_ns_per_msg=200000 \
                 server_kernel_ns_per_msg=300000 server_user=0.20 server_sys=0.30 errors=0"
            ),
            "{line}"
        );
        for field in line.split(' ') {
            assert!(field.split_once('=').is_some(), "{field}");
        }
    }
}
