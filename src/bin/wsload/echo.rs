//! The echo mode's load thread: every connection sends a message, checks
//! its echo byte for byte and sends the next, keeping `depth` in flight;
//! after the window it lets the echoes in flight come back and closes
//! every connection with a close handshake.
//!
//! Per message it does no allocation: the payload is a window into bytes
//! built once, the send time goes into a ring fixed at connection setup,
//! the latency into a fixed histogram, and the connection's buffers are
//! reused. With `--deflate` each window is compressed once per thread
//! and sent, masked, on every connection (see [`Precompressed`]).

use std::io::{self, ErrorKind};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Events;
use rfc6455::connection::{Event, MessageKind};

use crate::cpu::WindowCpu;
use crate::driver::{
    close_socket, fail, flush, nanos_since, read_some, start_close, update_interest, Conn, Got,
    Net, Phase, Pool, Schedule, Share, Target,
};
use crate::histogram::Histogram;
use crate::launch::LoadThread;
use crate::payload::{json_records, Payload};

/// Distinct message windows into the payload bytes: consecutive messages
/// of a connection differ, so a lost, repeated or reordered echo shows up
/// as a mismatch.
pub const WINDOWS: usize = 251;
/// After the window: time for the echoes in flight and the close handshake.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What every thread is asked to do.
pub struct Plan {
    pub target: Target,
    pub size: usize,
    pub depth: usize,
    pub kind: MessageKind,
    pub payload: Payload,
    /// Hold the connections without sending.
    pub idle: bool,
    /// Bare TCP, no handshake and no framing (`tcp://` URLs): see `raw`.
    pub raw: bool,
}

/// A thread's results.
pub struct Report {
    pub msgs: u64,
    pub hist: Histogram,
    pub errors: u64,
    /// CPU time the thread used in the window, where /proc tells.
    pub cpu: Option<Duration>,
    /// Bytes read from the sockets in the window: the server's frames as
    /// sent (compressed with --deflate), without TCP/IP headers.
    pub wire_in: u64,
}

/// What the echo mode keeps per connection.
pub struct Echoes {
    sent: u64,
    received: u64,
    /// Send times (ns since the thread's epoch) of the messages in flight,
    /// indexed by sequence number modulo the depth.
    stamps: Box<[u64]>,
}

type EchoConn = Conn<Echoes>;

fn in_flight(conn: &EchoConn) -> u64 {
    conn.state.sent - conn.state.received
}

/// With permessage-deflate, each message window compressed once per
/// thread and sent on every connection with the same key (a masked copy
/// each), as the server's publications are: wsload's CPU goes to the load,
/// not to compressing the same bytes again (at 1 KiB it halved it, so the
/// rate is the server's limit, not wsload's). The bytes on the wire are
/// those the connection would have made: the same compressor, the same
/// settings, no context.
#[cfg(feature = "deflate")]
struct Precompressed {
    key: rfc6455::deflate::SharedKey,
    plain: rfc6455::connection::SharedFrame,
    /// `None` when compressing does not make the window smaller.
    compressed: Option<rfc6455::connection::SharedFrame>,
}

/// Windows are precompressed up to this size: the cache holds two copies
/// of each of the [`WINDOWS`] windows.
#[cfg(feature = "deflate")]
const PRECOMPRESS_MAX: usize = 64 << 10;

#[cfg(not(feature = "deflate"))]
struct Precompressed;

/// The thread-wide state a connection's events update, apart from the
/// connections themselves.
struct Load<'a> {
    plan: &'a Plan,
    payload: &'a [u8],
    /// One slot per window with `--deflate` (filled on first use), else
    /// empty.
    precompressed: &'a mut [Option<Precompressed>],
    epoch: Instant,
    schedule: Schedule,
    net: Net<'a>,
    hist: &'a mut Histogram,
    cpu: &'a mut Option<Duration>,
    wire_in: &'a mut u64,
}

pub struct Worker {
    plan: Arc<Plan>,
    pool: Pool<Echoes>,
    payload: Vec<u8>,
    precompressed: Vec<Option<Precompressed>>,
    epoch: Instant,
    hist: Histogram,
    cpu: Option<Duration>,
    wire_in: u64,
}

impl Worker {
    pub fn new(plan: Arc<Plan>, share: Share) -> io::Result<Worker> {
        let mut pool = Pool::new(share)?;
        let mut payload = vec![0u8; plan.size + WINDOWS];
        pool.rng.fill(&mut payload);
        if plan.payload == Payload::Json {
            payload = json_records(plan.size + WINDOWS);
        } else if plan.kind == MessageKind::Text {
            // Printable ASCII: valid UTF-8 wherever a window starts or ends.
            for b in &mut payload {
                *b = b' ' + *b % 95;
            }
        }
        #[cfg(feature = "deflate")]
        let slots = if plan.target.deflate && plan.size <= PRECOMPRESS_MAX {
            WINDOWS
        } else {
            0
        };
        #[cfg(not(feature = "deflate"))]
        let slots = 0;
        Ok(Worker {
            precompressed: (0..slots).map(|_| None).collect(),
            plan,
            pool,
            payload,
            epoch: Instant::now(),
            hist: Histogram::new(),
            cpu: None,
            wire_in: 0,
        })
    }

    /// Splits the worker into the thread-wide load state and the
    /// connections, so that one connection can be driven while the rest is
    /// borrowed.
    fn split(&mut self, schedule: Schedule) -> (Load<'_>, &mut [EchoConn]) {
        let (net, conns) = self.pool.split();
        (
            Load {
                plan: &self.plan,
                payload: &self.payload,
                precompressed: &mut self.precompressed,
                epoch: self.epoch,
                schedule,
                net,
                hist: &mut self.hist,
                cpu: &mut self.cpu,
                wire_in: &mut self.wire_in,
            },
            conns,
        )
    }
}

impl LoadThread for Worker {
    type Report = Report;

    fn connect(&mut self, abort: &AtomicBool) -> bool {
        let depth = self.plan.depth;
        let connected = self.pool.connect_all(&self.plan.target, abort, |_| Echoes {
            sent: 0,
            received: 0,
            stamps: vec![0; depth].into_boxed_slice(),
        });
        if self.plan.idle {
            // Held without traffic: TLS gives back its buffers, as a
            // server's quiet connections would.
            for socket in self.pool.conns.iter_mut().filter_map(|c| c.socket.as_mut()) {
                socket.release_idle_memory();
            }
        }
        connected
    }

    /// The echo loop, from the start signal to the last close.
    fn load(&mut self, schedule: Schedule) {
        let mut events = Events::with_capacity(1024);
        let (mut load, conns) = self.split(schedule);
        let depth = if load.plan.idle { 0 } else { load.plan.depth };
        for (i, conn) in conns.iter_mut().enumerate() {
            let now = Instant::now();
            let result = (0..depth).try_for_each(|_| send_next(conn, &mut load, now));
            if let Err(message) = result.and_then(|()| flush(conn)) {
                fail(conn, &mut load.net, &message);
            }
            update_interest(conn, i, &mut load.net);
        }
        let mut drain_deadline = None;
        let mut cpu = WindowCpu::default();
        loop {
            let now = Instant::now();
            if cpu.sample(now, &schedule) {
                drain_deadline = Some(now + DRAIN_TIMEOUT);
                *load.cpu = cpu.used();
                // A connection whose echoes are all back closes now; the
                // others close when their last echo arrives.
                for (i, conn) in conns.iter_mut().enumerate() {
                    if conn.phase == Phase::Open && in_flight(conn) == 0 {
                        if let Err(message) = start_close(conn) {
                            fail(conn, &mut load.net, &message);
                        }
                        update_interest(conn, i, &mut load.net);
                    }
                }
            }
            if *load.net.live == 0 {
                break; // every connection failed: nothing left to measure
            }
            let Some(until) = schedule.wake_at(now, drain_deadline) else {
                break;
            };
            if let Err(e) = load.net.poll.poll(&mut events, Some(until - now)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("wsload: poll: {e}");
                load.net.errors.count += 1;
                break;
            }
            for event in events.iter() {
                let i = event.token().0;
                let readable = event.is_readable() || event.is_read_closed() || event.is_error();
                drive(&mut conns[i], i, &mut load, readable);
            }
        }
        for conn in conns.iter_mut() {
            let message = match conn.phase {
                Phase::Done => continue,
                Phase::Closing if in_flight(conn) == 0 => {
                    "the server did not answer the close frame".to_owned()
                }
                _ => format!(
                    "{} echo(es) missing {DRAIN_TIMEOUT:?} after the end",
                    in_flight(conn)
                ),
            };
            fail(conn, &mut load.net, &message);
        }
    }

    fn report(self) -> Report {
        Report {
            msgs: self.hist.count(),
            hist: self.hist,
            errors: self.pool.errors.count,
            cpu: self.cpu,
            wire_in: self.wire_in,
        }
    }
}

/// Serves a readiness event of connection `i`: reads and checks everything
/// that arrived, queues the next messages, writes.
fn drive(conn: &mut EchoConn, i: usize, load: &mut Load<'_>, readable: bool) {
    if conn.phase == Phase::Done {
        return;
    }
    let now = Instant::now();
    let result = if readable {
        read_and_answer(conn, load, now)
    } else {
        Ok(())
    };
    if let Err(message) = result.and_then(|()| flush(conn)) {
        fail(conn, &mut load.net, &message);
    }
    update_interest(conn, i, &mut load.net);
}

/// Reads until the socket would block, checking each echo and sending the
/// next message for it.
fn read_and_answer(conn: &mut EchoConn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let since_epoch = now.saturating_duration_since(load.epoch);
    let in_window = now >= load.schedule.measure_from && now < load.schedule.measure_to;
    loop {
        let got = read_some(conn, since_epoch)?;
        if got == Got::Nothing {
            return Ok(());
        }
        if in_window {
            *load.wire_in += got.bytes() as u64;
        }
        answer(conn, load, now)?;
        if conn.phase == Phase::Done {
            return Ok(());
        }
    }
}

/// Handles the events of the bytes read so far.
fn answer(conn: &mut EchoConn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let t = nanos_since(load.epoch, now);
    let size = load.plan.size;
    loop {
        // A close frame is the answer to ours once every echo is back.
        let close_expected = conn.phase == Phase::Closing && in_flight(conn) == 0;
        let received = conn.state.received;
        let Some(ws) = conn.ws.as_mut() else {
            return Ok(());
        };
        let data = match ws.next_event() {
            Ok(None) => return Ok(()),
            Ok(Some(Event::Binary(b))) if load.plan.kind == MessageKind::Binary => b,
            Ok(Some(Event::Text(s))) if load.plan.kind == MessageKind::Text => s.as_bytes(),
            Ok(Some(Event::Binary(_) | Event::Text(_))) => {
                return Err(format!(
                    "echo {received} came back as the other message type"
                ));
            }
            Ok(Some(Event::Ping(_) | Event::Pong(_))) => continue,
            Ok(Some(Event::Close { code, reason })) => {
                if close_expected {
                    close_socket(conn, &mut load.net);
                    return Ok(());
                }
                let code = code.map_or(1005, |c| c.0);
                return Err(format!("the server closed the connection: {code} {reason}"));
            }
            Ok(Some(Event::Fragment { .. })) => return Err("unexpected fragment".into()),
            Err(e) => return Err(format!("protocol error (close {}): {e}", e.close_code().0)),
        };
        let echo = &mut conn.state;
        if echo.received == echo.sent {
            return Err("an echo of a message never sent".into());
        }
        let start = window(conn.number, echo.received);
        let expected = &load.payload[start..start + size];
        if data != expected {
            return Err(describe_mismatch(echo.received, data, expected));
        }
        let seq = echo.received;
        echo.received += 1;
        let s = &load.schedule;
        if now >= s.measure_from && now < s.measure_to {
            let sent_at = echo.stamps[(seq % echo.stamps.len() as u64) as usize];
            load.hist.record(t.saturating_sub(sent_at));
        }
        if now < s.measure_to {
            send_next(conn, load, now)?;
        } else if in_flight(conn) == 0 && conn.phase == Phase::Open {
            start_close(conn)?;
        }
    }
}

/// Queues the connection's next message; it goes out at the next flush.
fn send_next(conn: &mut EchoConn, load: &mut Load<'_>, now: Instant) -> Result<(), String> {
    let Some(ws) = conn.ws.as_mut() else {
        return Ok(());
    };
    let echo = &mut conn.state;
    let start = window(conn.number, echo.sent);
    let data = &load.payload[start..start + load.plan.size];
    let sent = match load.precompressed.get_mut(start) {
        Some(slot) => send_precompressed(ws, slot, load.plan.kind, data),
        None => Ok(false),
    };
    if !sent.map_err(|e| format!("send refused: {e}"))? {
        ws.send_message(load.plan.kind, data)
            .map_err(|e| format!("send refused: {e}"))?;
    }
    let depth = echo.stamps.len() as u64;
    echo.stamps[(echo.sent % depth) as usize] = nanos_since(load.epoch, now);
    echo.sent += 1;
    Ok(())
}

/// Sends `data` from its window's [`Precompressed`] slot, compressing it
/// into the slot first if the slot is empty or was made under another key.
/// `Ok(false)`: not sent, send it the usual way (no permessage-deflate on
/// this connection, under its threshold, or incompressible).
#[cfg(feature = "deflate")]
fn send_precompressed(
    ws: &mut rfc6455::connection::Connection,
    slot: &mut Option<Precompressed>,
    kind: MessageKind,
    data: &[u8],
) -> Result<bool, rfc6455::connection::SendError> {
    use rfc6455::connection::SharedFrame;
    let Some(key) = ws.shared_compression(data.len()) else {
        return Ok(false);
    };
    if slot.as_ref().is_none_or(|p| p.key != key) {
        let plain = SharedFrame::new(kind, data);
        let compressed = ws.compress_shared(&plain);
        *slot = Some(Precompressed {
            key,
            plain,
            compressed,
        });
    }
    match slot {
        Some(Precompressed {
            plain,
            compressed: Some(compressed),
            ..
        }) => ws.send_shared_compressed(plain, compressed).map(|()| true),
        _ => Ok(false),
    }
}

#[cfg(not(feature = "deflate"))]
fn send_precompressed(
    _: &mut rfc6455::connection::Connection,
    _: &mut Option<Precompressed>,
    _: MessageKind,
    _: &[u8],
) -> Result<bool, rfc6455::connection::SendError> {
    Ok(false)
}

/// Where message `seq` of connection `number` starts in the payload bytes.
#[inline]
pub fn window(number: usize, seq: u64) -> usize {
    ((number as u64).wrapping_mul(7).wrapping_add(seq) % WINDOWS as u64) as usize
}

fn describe_mismatch(seq: u64, got: &[u8], want: &[u8]) -> String {
    if got.len() != want.len() {
        return format!(
            "echo {seq} has {} bytes, the message had {}",
            got.len(),
            want.len()
        );
    }
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(0);
    format!(
        "echo {seq} differs at byte {at}: got {:#04x}, sent {:#04x}",
        got[at], want[at]
    )
}
