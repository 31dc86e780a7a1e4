//! Owned messages, and the `futures` Stream and Sink adapters built on
//! them (feature `futures`).
//!
//! An owned message costs an allocation and a copy per message that the
//! borrowed [`Event`] does not: use `recv`/`recv_with` on the fast path,
//! and these where an API wants `Stream`/`Sink` (channels, combinators).

use std::string::String;
use std::vec::Vec;

use crate::close::CloseCode;
use crate::connection::{Event, MessageKind};

/// A message or control frame that owns its bytes: an [`Event`] taken out
/// of the connection's buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// One frame of a fragmented message (with
    /// [`Delivery::Frames`](crate::connection::Delivery::Frames) only).
    Fragment {
        /// The message's type.
        kind: MessageKind,
        /// This frame's payload.
        data: Vec<u8>,
        /// This is the message's last frame.
        fin: bool,
    },
    /// A ping (already answered when received).
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// A close frame: its code (`None` when it carried none) and reason.
    /// As a sink item, `None` sends 1000.
    Close(Option<CloseCode>, String),
}

impl From<Event<'_>> for Message {
    fn from(event: Event<'_>) -> Self {
        match event {
            Event::Text(t) => Message::Text(String::from(t)),
            Event::Binary(b) => Message::Binary(b.to_vec()),
            Event::Fragment { kind, data, fin } => Message::Fragment {
                kind,
                data: data.to_vec(),
                fin,
            },
            Event::Ping(p) => Message::Ping(p.to_vec()),
            Event::Pong(p) => Message::Pong(p.to_vec()),
            Event::Close { code, reason } => Message::Close(code, String::from(reason)),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(String::from(text))
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data)
    }
}

#[cfg(feature = "futures")]
pub(crate) use adapters::{poll_message, poll_sink_item};

#[cfg(feature = "futures")]
mod adapters {
    use std::pin::Pin;
    use std::string::String;
    use std::task::{ready, Context, Poll};

    use ::tokio::io::{AsyncRead, AsyncWrite};
    use futures_core::Stream;
    use futures_sink::Sink;

    use super::Message;
    use crate::close::{CloseCode, CloseReason};
    use crate::connection::State;
    use crate::frame::ControlPayload;
    use crate::tokio::driver::Driver;
    use crate::tokio::split::{with_send_driver, RecvHalf, SendHalf};
    use crate::tokio::{Error, WebSocket};

    /// The next event as an owned message.
    pub(crate) fn poll_message<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Message, Error>> {
        ready!(driver.poll_event(cx))?;
        Poll::Ready(match driver.conn.next_event() {
            Ok(Some(event)) => Ok(Message::from(event)),
            Ok(None) => Err(Error::Closed(CloseCode::ABNORMAL, String::new())),
            Err(e) => {
                // A single-frame text that is not UTF-8: its 1007 close goes
                // out before the error (the stream then ends, so no later
                // call would write it). Polled again, `poll_event` finishes
                // the write and returns the same error.
                let _ = ready!(driver.poll_finish(cx));
                Err(Error::Protocol(e))
            }
        })
    }

    /// The stream ends after the close handshake; an error is yielded once,
    /// then the stream ends. A transport that ended without a close frame
    /// is such an error (`Closed` with 1006), as `recv` says: a consumer
    /// must be able to tell a dropped connection from a closed one.
    fn poll_stream(
        r: Poll<Result<Message, Error>>,
        done: &mut bool,
    ) -> Poll<Option<Result<Message, Error>>> {
        if *done {
            return Poll::Ready(None);
        }
        match ready!(r) {
            Ok(m) => Poll::Ready(Some(Ok(m))),
            Err(Error::Closed(code, _)) if code != CloseCode::ABNORMAL => {
                *done = true;
                Poll::Ready(None)
            }
            Err(e) => {
                *done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    /// Queues `item`. [`SendError::Full`](crate::SendError::Full) from the
    /// connection is left to the caller, which waits for room and retries.
    fn queue_item<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        item: &Message,
    ) -> Result<(), crate::SendError> {
        let conn = &mut driver.conn;
        match item {
            Message::Text(t) => conn.send_text(t),
            Message::Binary(b) => conn.send_binary(b),
            Message::Fragment { kind, data, fin } => conn.send_fragment(*kind, data, *fin),
            Message::Ping(p) => conn.ping(ControlPayload::new(p).ok_or(crate::SendError::Full)?),
            Message::Pong(p) => conn.pong(ControlPayload::new(p).ok_or(crate::SendError::Full)?),
            Message::Close(code, reason) => conn.close(
                code.unwrap_or(CloseCode::NORMAL),
                CloseReason::truncate(reason),
            ),
        }
    }

    /// Queues `item`, or keeps it aside when the output bound has no room
    /// for it until queued output is written: `poll_ready` cannot know the
    /// next item's size, so an item that finds no room waits (the next
    /// `poll_ready`, `poll_flush`, `poll_close`, send or flush writes and
    /// queues it) instead of failing.
    fn start_send<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        item: Message,
    ) -> Result<(), Error> {
        if let Message::Ping(p) | Message::Pong(p) = &item {
            ControlPayload::new(p).ok_or(crate::SendError::Full)?;
        }
        match queue_item(driver, &item) {
            Err(crate::SendError::Full) if driver.conn.has_output() => {
                driver.sink_item = Some(item);
                Ok(())
            }
            r => Ok(r?),
        }
    }

    /// Writes queued output until the `Sink` item that found no room is
    /// queued. Every call that queues or flushes runs this first, so the
    /// item keeps its place among the messages sent around it.
    pub(crate) fn poll_sink_item<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        while let Some(item) = driver.sink_item.take() {
            match queue_item(driver, &item) {
                Err(crate::SendError::Full) if driver.conn.has_output() => {
                    driver.sink_item = Some(item);
                    ready!(driver.poll_write_all(cx))?;
                }
                r => r?,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Ready for an item once the waiting item is queued and the queued
    /// output is under the high-water mark.
    fn poll_ready<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        ready!(poll_sink_item(driver, cx))?;
        if driver.conn.pending_output_len() > driver.high_water {
            ready!(driver.poll_write_all(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        ready!(poll_sink_item(driver, cx))?;
        driver.poll_write_all(cx).map_err(Error::Io)
    }

    fn poll_close<S: AsyncRead + AsyncWrite + Unpin>(
        driver: &mut Driver<S>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        ready!(poll_sink_item(driver, cx))?;
        if driver.conn.state() == State::Open {
            driver.conn.close(CloseCode::NORMAL, CloseReason::EMPTY)?;
        }
        driver.poll_write_all(cx).map_err(Error::Io)
    }

    /// Owned messages until the close handshake is done. Each costs an
    /// allocation; [`WebSocket::recv`] does not.
    impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
        type Item = Result<Message, Error>;

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let (driver, done) = self.get_mut().parts();
            poll_stream(poll_message(driver, cx), done)
        }
    }

    /// Sends owned messages: `poll_ready` waits while output is above the
    /// high-water mark, `start_send` queues (an item the output bound has
    /// no room for waits to be queued by the next `poll_ready`, `poll_flush`
    /// or `poll_close`), `poll_flush` writes, and `poll_close` sends a close
    /// frame (1000) and writes it; the peer's answer arrives on the stream
    /// side.
    impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
        type Error = Error;

        fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            poll_ready(self.get_mut().parts().0, cx)
        }

        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
            start_send(self.get_mut().parts().0, item)
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            poll_flush(self.get_mut().parts().0, cx)
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            poll_close(self.get_mut().parts().0, cx)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> Stream for RecvHalf<S> {
        type Item = Result<Message, Error>;

        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            let this = self.get_mut();
            let r = this.poll_message(cx);
            poll_stream(r, this.stream_done())
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for SendHalf<S> {
        type Error = Error;

        fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            with_send_driver(&self, cx, poll_ready)
        }

        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
            let mut result = None;
            let waker = std::task::Waker::noop();
            let _ = with_send_driver(&self, &mut Context::from_waker(waker), |d, _| {
                result = Some(start_send(d, item));
                Poll::Ready(())
            });
            result.unwrap_or(Ok(()))
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            with_send_driver(&self, cx, poll_flush)
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
            with_send_driver(&self, cx, poll_close)
        }
    }
}
