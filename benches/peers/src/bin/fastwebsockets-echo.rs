//! A fastwebsockets echo server, a peer for our benchmarks.
//!
//! One thread (tokio current-thread runtime), written as fastwebsockets' own
//! `examples/echo_server.rs` is: hyper serves the HTTP/1.1 request, the
//! crate's `upgrade` feature answers the handshake, and a task per socket
//! echoes through a `FragmentCollector` (whole messages; text checked as
//! UTF-8) inside `tokio::task::unconstrained`, as the example does, so
//! tokio's cooperative budget never makes it yield. Auto-pong and
//! auto-close are on; every text and binary message is written back with
//! `write_frame`, which writes each frame to the socket at once (a
//! `writev` of header and payload above 1 KiB). Frames up to 64 MiB.
//!
//! `fastwebsockets-echo [--listen ADDR]`, default 127.0.0.1:9002.

use rfc6455_peers::fastws::serve;
use rfc6455_peers::setup::listen_addr;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = listen_addr("fastwebsockets-echo");
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "fastwebsockets-echo listening on ws://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream));
            }
            // Out of descriptors, say: keep serving the connections we have.
            Err(e) => eprintln!("fastwebsockets-echo: accept: {e}"),
        }
    }
}
