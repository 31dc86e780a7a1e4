//! A tokio-tungstenite echo server, a peer for our benchmarks.
//!
//! One thread (tokio current-thread runtime), one task per connection,
//! written as tokio-tungstenite's own Autobahn server is: read a message
//! with `StreamExt::next`, send text and binary back with `SinkExt::send`
//! (write and flush: one socket write per echo). tungstenite answers pings
//! and close frames itself (the reply goes out on the next read or flush),
//! collects fragments into whole messages and checks text as UTF-8.
//! Messages and frames up to 64 MiB.
//!
//! `tokio-tungstenite-echo [--listen ADDR]`, default 127.0.0.1:9002.

use futures_util::{SinkExt, StreamExt};
use rfc6455_peers::setup::{listen_addr, tungstenite_config};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Error;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = listen_addr("tokio-tungstenite-echo");
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "tokio-tungstenite-echo listening on ws://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream));
            }
            // Out of descriptors, say: keep serving the connections we have.
            Err(e) => eprintln!("tokio-tungstenite-echo: accept: {e}"),
        }
    }
}

async fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    match echo(stream).await {
        Ok(()) | Err(Error::ConnectionClosed | Error::Protocol(_) | Error::Utf8(_)) => {}
        Err(Error::Capacity(e)) => eprintln!("tokio-tungstenite-echo: {e}"),
        // Resets, broken pipes, refused handshakes: the peer's business.
        Err(_) => {}
    }
}

async fn echo(stream: TcpStream) -> Result<(), Error> {
    let mut ws =
        tokio_tungstenite::accept_async_with_config(stream, Some(tungstenite_config())).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
