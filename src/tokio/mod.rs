//! An async driver for tokio (feature `tokio`): the sans-I/O core over any
//! `AsyncRead + AsyncWrite + Unpin` transport.
//!
//! The driver moves bytes and nothing else: frames, messages, limits,
//! pings and the closing handshake are the [`Connection`]'s, exactly as
//! under the mio server or the blocking client.
//!
//! ```no_run
//! use rfc6455::connection::Event;
//! use rfc6455::tokio::{accept, ServerConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let config = std::sync::Arc::new(ServerConfig::default());
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let config = config.clone();
//!     // One task per connection: one slow or refused client stops no other.
//!     tokio::spawn(async move {
//!         // A refused handshake has been answered already.
//!         let Ok(mut ws) = accept(stream, &config).await else {
//!             return;
//!         };
//!         // Echo, replying while the event still borrows the read buffer.
//!         while let Ok(more) = ws
//!             .recv_with(|event, reply| match event {
//!                 Event::Text(t) => reply.send_text(t).is_ok(),
//!                 Event::Binary(b) => reply.send_binary(b).is_ok(),
//!                 Event::Close { .. } => false,
//!                 _ => true, // pings are answered by the connection
//!             })
//!             .await
//!         {
//!             if !more {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! - Server: [`accept`] (policy from [`ServerConfig`]), or [`read_upgrade`]
//!   to decide per request; behind an HTTP server that already answered
//!   the upgrade (hyper, axum), [`WebSocket::from_connection`].
//! - Client: [`connect`] for `ws://` URLs, [`client`] over a stream you
//!   opened (TLS for `wss://`).
//! - Receiving: [`WebSocket::recv`] returns the core's borrowed
//!   [`Event`](crate::Event); [`WebSocket::recv_with`] lets a reply be
//!   sent while the event is borrowed.
//! - Sending: [`WebSocket::send_message`] (and `send_text`, `send_binary`) writes the message out, waiting while
//!   the output bound is full (backpressure, never unbounded buffering);
//!   [`WebSocket::feed_message`] queues without writing, [`WebSocket::flush`]
//!   writes. Pongs and close replies are queued ahead of data in the
//!   connection and go out with the next write of any kind, so a pending
//!   write never loses them.
//! - Two tasks: [`WebSocket::split`].
//! - `futures` feature: `Stream` and `Sink` of owned [`Message`]s on
//!   [`WebSocket`] and the split halves.
//!
//! Every method is cancellation safe; [`WebSocket`] says what that means
//! for each. None has a timeout of its own: wrap calls in
//! `tokio::time::timeout`.
//!
//! [`Connection`]: crate::Connection

mod driver;
mod error;
mod handshake;
mod message;
mod socket;
mod split;

pub use driver::Reply;
pub use error::Error;
pub use handshake::{
    accept, client, connect, new_key, read_upgrade, ClientConfig, ServerConfig, Upgrade,
};
pub use message::Message;
pub use socket::WebSocket;
pub use split::{RecvHalf, SendHalf};
