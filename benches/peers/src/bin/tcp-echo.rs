//! The TCP floor: a bare TCP echo on the event loop our server uses, for
//! `wsload tcp://...` (raw mode).
//!
//! It does what our WebSocket server does per connection minus the
//! WebSocket work: mio, one thread, edge-triggered readiness; on a
//! readable event it reads up to 16 KiB at a time (our default read chunk)
//! until a read comes back short (the socket is then empty, so the read
//! that would only say `WouldBlock` is skipped), with a budget of 256 KiB
//! per event as ours has, and writes back what each read brought with one
//! write. What the socket does not take waits in a per-connection queue,
//! reading stops until it drains, and only then does the connection ask
//! for writable events. End of stream or an error closes the connection;
//! an event that reports the peer's end of stream makes the connection read
//! until `WouldBlock` from then on, as our server does, since a FIN that
//! came with the last data brings no event of its own.
//!
//! So the CPU time per message of this server is what the kernel and the
//! loop cost for the same traffic, and what a WebSocket server spends
//! above it is the WebSocket layer and the server's own bookkeeping.
//!
//! `tcp-echo [--listen ADDR]`, default 127.0.0.1:9002.

use std::io::{self, ErrorKind, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use rfc6455_peers::setup::listen_addr_for;

const LISTENER: Token = Token(usize::MAX);
/// Bytes asked for per read: our server's default read chunk.
const READ_CHUNK: usize = 16 << 10;
/// Bytes read from one connection per event before the others get a turn:
/// our server's default read budget.
const READ_BUDGET: usize = 256 << 10;

struct Conn {
    socket: TcpStream,
    /// Echo bytes the socket has not taken yet, from `out_at` on.
    out: Vec<u8>,
    out_at: usize,
    writable: bool,
    /// The peer's end of stream was reported: a short read no longer
    /// means that nothing more will come without an event.
    read_until_blocked: bool,
}

fn main() -> io::Result<()> {
    let addr = listen_addr_for(
        "tcp-echo",
        "The TCP floor for benchmarks: writes back every byte it reads, with our\n\
         server's read and write pattern on mio, one thread.",
    );
    let mut listener = TcpListener::bind(addr)?;
    eprintln!("tcp-echo listening on tcp://{}", listener.local_addr()?);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut buf = vec![0u8; READ_CHUNK];
    // Connections to serve this turn (slot, writable event), and those to
    // serve again next turn without a new event; both reused.
    let mut ready: Vec<(usize, bool)> = Vec::new();
    let mut again: Vec<usize> = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        let timeout = (!again.is_empty()).then_some(std::time::Duration::ZERO);
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        ready.clear();
        ready.extend(again.drain(..).map(|slot| (slot, false)));
        for event in events.iter() {
            if event.token() == LISTENER {
                accept(&listener, &poll, &mut conns, &mut free);
                continue;
            }
            let slot = event.token().0;
            if event.is_read_closed() || event.is_error() {
                if let Some(conn) = conns.get_mut(slot).and_then(Option::as_mut) {
                    conn.read_until_blocked = true;
                }
            }
            ready.push((slot, event.is_writable()));
        }
        for &(slot, writable) in &ready {
            let Some(conn) = conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            match serve(conn, slot, &poll, &mut buf, writable) {
                Ok(true) => again.push(slot),
                Ok(false) => {}
                Err(_) => {
                    if let Some(mut conn) = conns[slot].take() {
                        let _ = poll.registry().deregister(&mut conn.socket);
                    }
                    free.push(slot);
                }
            }
        }
    }
}

fn accept(
    listener: &TcpListener,
    poll: &Poll,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) {
    loop {
        let mut socket = match listener.accept() {
            Ok((socket, _)) => socket,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("tcp-echo: accept: {e}");
                return;
            }
        };
        let _ = socket.set_nodelay(true);
        let slot = free.pop().unwrap_or(conns.len());
        if poll
            .registry()
            .register(&mut socket, Token(slot), Interest::READABLE)
            .is_err()
        {
            free.push(slot);
            continue;
        }
        let conn = Some(Conn {
            socket,
            out: Vec::new(),
            out_at: 0,
            writable: false,
            read_until_blocked: false,
        });
        if slot == conns.len() {
            conns.push(conn);
        } else {
            conns[slot] = conn;
        }
    }
}

/// Flushes what waits, then reads and echoes until a short read, the
/// budget, or a socket that takes no more. `Ok(true)`: come back without a
/// new event; `Err`: close the connection.
fn serve(
    conn: &mut Conn,
    slot: usize,
    poll: &Poll,
    buf: &mut [u8],
    writable: bool,
) -> io::Result<bool> {
    if writable && !flush(conn)? {
        return Ok(false); // still waiting for room
    }
    let mut budget = READ_BUDGET;
    let mut more = false;
    if conn.out_at == conn.out.len() {
        loop {
            if budget == 0 {
                more = true;
                break;
            }
            let room = buf.len().min(budget);
            let n = match conn.socket.read(&mut buf[..room]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            budget -= n;
            if !write_or_queue(conn, &buf[..n])? {
                break; // reading resumes once the queue drains
            }
            if n < room && !conn.read_until_blocked {
                break; // the socket is empty: edge-triggered, more brings an event
            }
        }
    }
    let want_write = conn.out_at < conn.out.len();
    if want_write != conn.writable {
        let interest = if want_write {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        poll.registry()
            .reregister(&mut conn.socket, Token(slot), interest)?;
        conn.writable = want_write;
        // Input that came while the queue drained brought no new event.
        more |= !want_write;
    }
    Ok(more)
}

/// Writes `data` at once; queues what the socket does not take. False if
/// something is queued.
fn write_or_queue(conn: &mut Conn, data: &[u8]) -> io::Result<bool> {
    let mut at = 0;
    while at < data.len() {
        match conn.socket.write(&data[at..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if at < data.len() {
        conn.out.extend_from_slice(&data[at..]);
        return Ok(false);
    }
    Ok(true)
}

/// Writes the queue; true once it is empty.
fn flush(conn: &mut Conn) -> io::Result<bool> {
    while conn.out_at < conn.out.len() {
        match conn.socket.write(&conn.out[conn.out_at..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => conn.out_at += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.out.clear();
    conn.out_at = 0;
    Ok(true)
}
