//! The handshake mode (`--churn`): every connection connects (TCP, TLS for
//! `wss://`, the upgrade), closes with a close handshake, reads until the
//! server ends the stream, and connects again, until the window ends. Its
//! report is the echo mode's: `msgs` counts the handshakes completed in the
//! window, the histogram holds each one's time from connect to the 101.

use std::io::{self, ErrorKind, Read};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Events;

use crate::cpu::WindowCpu;
use crate::driver::{
    close_socket, fail, flush, nanos_since, start_close, update_interest, Conn, Net, Phase, Pool,
    Schedule, Share, Target, HANDSHAKE_TIMEOUT,
};
use crate::echo::Report;
use crate::histogram::Histogram;
use crate::launch::LoadThread;

/// After the 101: time for the close handshake and the server's end of
/// stream.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Worker {
    target: Arc<Target>,
    /// A connection keeps nothing of its own beyond the driver's state.
    pool: Pool<()>,
    hist: Histogram,
    cpu: Option<Duration>,
}

impl Worker {
    pub fn new(target: Arc<Target>, share: Share) -> io::Result<Worker> {
        Ok(Worker {
            target,
            pool: Pool::new(share)?,
            hist: Histogram::new(),
            cpu: None,
        })
    }

    /// Opens connection `i` (again); false, with the error recorded, if the
    /// connect cannot even start.
    fn open(&mut self, i: usize) -> bool {
        match self.pool.open(&self.target, i, ()) {
            Ok(()) => true,
            Err(e) => {
                let number = self.pool.share.first + i;
                self.pool.errors.record(number, &format!("connect: {e}"));
                false
            }
        }
    }
}

impl LoadThread for Worker {
    type Report = Report;
    const OPENS_UP_FRONT: bool = false;

    /// Nothing to open ahead: connections open and close inside the window.
    fn connect(&mut self, _abort: &AtomicBool) -> bool {
        true
    }

    fn load(&mut self, schedule: Schedule) {
        let mut events = Events::with_capacity(1024);
        for i in 0..self.pool.share.count {
            if !self.open(i) {
                return;
            }
        }
        let mut cpu = WindowCpu::default();
        loop {
            let now = Instant::now();
            if cpu.sample(now, &schedule) {
                break;
            }
            let wait = schedule
                .measure_to
                .saturating_duration_since(now)
                .min(Duration::from_millis(100));
            if let Err(e) = self.pool.poll.poll(&mut events, Some(wait)) {
                if e.kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("wsload: poll: {e}");
                self.pool.errors.count += 1;
                break;
            }
            let now = Instant::now();
            let in_window = now >= schedule.measure_from && now < schedule.measure_to;
            for event in events.iter() {
                let i = event.token().0;
                match self.pool.conns[i].phase {
                    Phase::Connecting | Phase::Handshaking => {
                        let step = self.pool.handshake_step(&self.target, i);
                        let (mut net, conns) = self.pool.split();
                        let conn = &mut conns[i];
                        match step {
                            Ok(true) => {
                                if in_window {
                                    self.hist.record(nanos_since(conn.started, now));
                                }
                                if let Err(message) = start_close(conn) {
                                    fail(conn, &mut net, &message);
                                }
                                update_interest(conn, i, &mut net);
                            }
                            Ok(false) => {}
                            Err(message) => fail(conn, &mut net, &message),
                        }
                    }
                    Phase::Closing => {
                        let (mut net, conns) = self.pool.split();
                        close_step(&mut conns[i], i, &mut net);
                    }
                    Phase::Open | Phase::Done => {}
                }
            }
            // Done connections open again; stuck ones count as errors.
            let limit = HANDSHAKE_TIMEOUT + CLOSE_TIMEOUT;
            for i in 0..self.pool.conns.len() {
                let (mut net, conns) = self.pool.split();
                let conn = &mut conns[i];
                if conn.phase != Phase::Done && now >= conn.started + limit {
                    fail(
                        conn,
                        &mut net,
                        &format!("no handshake and close within {limit:?}"),
                    );
                }
                if conn.phase == Phase::Done && now < schedule.measure_to && !self.open(i) {
                    return;
                }
            }
        }
        self.cpu = cpu.used();
    }

    fn report(self) -> Report {
        Report {
            msgs: self.hist.count(),
            hist: self.hist,
            errors: self.pool.errors.count,
            cpu: self.cpu,
            wire_in: 0,
        }
    }
}

/// Serves a readiness event of a closing connection: done (the socket
/// dropped) once the server's close frame and its end of stream came.
fn close_step(conn: &mut Conn<()>, i: usize, net: &mut Net<'_>) {
    match read_to_end(conn) {
        Ok(true) => close_socket(conn, net),
        Ok(false) => update_interest(conn, i, net),
        Err(message) => fail(conn, net, &message),
    }
}

/// Writes what is queued, then reads toward the server's close frame and
/// end of stream; true once both came.
fn read_to_end(conn: &mut Conn<()>) -> Result<bool, String> {
    flush(conn)?;
    let (Some(socket), Some(ws)) = (conn.socket.as_mut(), conn.ws.as_mut()) else {
        return Ok(false);
    };
    loop {
        let n = match socket.read(ws.read_buf()) {
            Ok(0) => {
                ws.receive_eof();
                return match ws.peer_close() {
                    Some(_) => Ok(true),
                    None => Err("end of stream before the server's close frame".into()),
                };
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e}")),
        };
        ws.commit_read(n, Duration::ZERO);
        while ws.next_event().map_err(|e| e.to_string())?.is_some() {}
    }
}
