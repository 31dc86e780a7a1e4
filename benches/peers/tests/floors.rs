//! The TCP floors (`tcp-echo` on mio, `uring-echo` on io_uring) run as
//! child processes: every byte sent must come back in order on every
//! connection, including more than the socket buffers hold at once (so
//! queues, partial writes and, for io_uring, running out of provided
//! buffers are exercised), and an end of stream must be answered with one.
//! `core-rtt` must print its one line. Every child is killed by its PID at
//! the end, and every wait is bounded.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A server child process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(program: &str) -> Server {
        // A free port, found now; the server binds it right after.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server");
        let mut server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{program} exited: {status}");
            }
            assert!(Instant::now() < deadline, "{program} does not listen");
            thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Byte `i` of connection `c`'s stream.
fn byte(c: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ c.wrapping_mul(7) ^ (i >> 9)) as u8
}

/// Sends `total` bytes on each of `conns` connections while reading the
/// echo, checks every byte, then half-closes and expects end of stream.
fn echo_many(port: u16, conns: usize, total: usize) {
    let workers: Vec<_> = (0..conns)
        .map(|c| {
            thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let mut reader = stream.try_clone().unwrap();
                let sender = thread::spawn(move || {
                    let mut stream = stream;
                    let mut sent = 0;
                    let mut chunk = vec![0u8; 7919]; // not a power of two
                    while sent < total {
                        let n = chunk.len().min(total - sent);
                        for (k, b) in chunk[..n].iter_mut().enumerate() {
                            *b = byte(c, sent + k);
                        }
                        stream.write_all(&chunk[..n]).unwrap();
                        sent += n;
                    }
                    stream.shutdown(Shutdown::Write).unwrap();
                });
                let mut got = 0;
                let mut buf = vec![0u8; 65536];
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(n) => n,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => panic!("connection {c}: read after {got} bytes: {e}"),
                    };
                    if n == 0 {
                        break;
                    }
                    for (k, &b) in buf[..n].iter().enumerate() {
                        assert_eq!(b, byte(c, got + k), "connection {c}, byte {}", got + k);
                    }
                    got += n;
                }
                sender.join().unwrap();
                assert_eq!(got, total, "connection {c}: the echo ended early");
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn tcp_echo_returns_every_byte() {
    let server = Server::start(env!("CARGO_BIN_EXE_tcp-echo"));
    echo_many(server.port, 8, 4 << 20);
    echo_many(server.port, 64, 64 << 10);
}

#[test]
fn uring_echo_returns_every_byte() {
    let server = Server::start(env!("CARGO_BIN_EXE_uring-echo"));
    echo_many(server.port, 8, 4 << 20);
    // More data in flight than its 1,024 provided buffers of 16 KiB hold.
    echo_many(server.port, 96, 1 << 20);
}

#[test]
fn core_rtt_prints_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_core-rtt"))
        .args(["--batches", "3", "--trips", "200"])
        .output()
        .unwrap();
    if !output.status.success() {
        // A machine with one CPU cannot pin the second thread.
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("cannot pin"),
            "{output:?}"
        );
        return;
    }
    let text = String::from_utf8(output.stdout).unwrap();
    let fields: Vec<(&str, f64)> = text
        .split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k, v.parse().unwrap())
        })
        .collect();
    let keys: Vec<&str> = fields.iter().map(|f| f.0).collect();
    assert_eq!(keys, ["rtt_ns", "min_ns", "max_ns", "batches", "trips"]);
    assert!(fields[1].1 <= fields[0].1 && fields[0].1 <= fields[2].1);
    assert!(fields[0].1 > 0.0);
    assert_eq!(fields[3].1, 3.0);
}
