//! An async echo server on the tokio driver: every text and binary message
//! goes back with its type; pings, the closing handshake and every
//! protocol rule are the connection's.
//!
//!     cargo run --release --features tokio --example tokio-echo -- --listen 127.0.0.1:9001
//!
//! One thread (tokio's current-thread runtime), one task per connection.
//! Each reply is sent from inside `recv_with`, while the message still
//! borrows the read buffer: the replies to one read leave in one write,
//! and a large message that finds nothing queued is written straight from
//! the read buffer. Used by scripts/autobahn.sh and scripts/bench-echo.sh.

#[path = "support/args.rs"]
mod args;

use rfc6455::connection::Event;
use rfc6455::tokio::{accept, ServerConfig};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = args::listen_addr("tokio-echo");
    let listener = TcpListener::bind(addr).await?;
    println!("tokio-echo listening on ws://{}/", listener.local_addr()?);
    let config = std::sync::Arc::new(ServerConfig {
        server_name: Some("rfc6455-tokio".into()),
        ..ServerConfig::default()
    });
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, config.clone()));
            }
            // Out of descriptors, say: keep serving the connections we have.
            Err(e) => eprintln!("tokio-echo: accept: {e}"),
        }
    }
}

async fn serve(stream: TcpStream, config: std::sync::Arc<ServerConfig>) {
    let _ = stream.set_nodelay(true);
    // A refused handshake has been answered; nothing more to do.
    let Ok(mut ws) = accept(stream, &config).await else {
        return;
    };
    loop {
        let more = ws
            .recv_with(|event, reply| match event {
                // A reply that does not fit the output bound ends the echo.
                Event::Text(text) => reply.send_text(text).is_ok(),
                Event::Binary(data) => reply.send_binary(data).is_ok(),
                Event::Close { .. } => false,
                _ => true,
            })
            .await;
        // An error (the peer broke the protocol, the stream ended) has
        // already been answered with the close frame it calls for.
        if !matches!(more, Ok(true)) {
            break;
        }
    }
}
