//! A connection's queued output, taken the way a socket write takes it.

#![allow(dead_code)]

use rfc6455::connection::Connection;

/// Appends everything `conn` has queued to `wire`, consuming it.
pub fn drain_into(conn: &mut Connection, wire: &mut Vec<u8>) {
    loop {
        let out = conn.output();
        if out.is_empty() {
            return;
        }
        let n = out.len();
        wire.extend_from_slice(out);
        conn.consume_output(n);
    }
}

/// Everything `conn` has queued, consumed.
pub fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::new();
    drain_into(conn, &mut wire);
    wire
}
