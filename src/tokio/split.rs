//! Receiving and sending halves of one connection, for two tasks.
//!
//! Both halves lock the same [`Driver`] inside each poll. Both may write:
//! the receiving half writes owed pongs and close replies while it waits
//! for input. A transport keeps one waker per direction (tokio's sockets
//! wake only the task that polled last), so the transport is always handed
//! one waker that wakes both halves' pending polls: otherwise a half whose
//! future was dropped after its poll took the transport's waker would
//! leave the other half waiting forever. A half that writes also wakes the
//! other (its pending send may wait for that room), and a half that is
//! dropped wakes the other, which then registers itself again.

use std::future::poll_fn;
use std::string::String;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::vec::Vec;

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::driver::Driver;
use super::Error;
use crate::close::{CloseCode, CloseReason};
use crate::connection::{Event, MessageKind, State};
use crate::frame::ControlPayload;

const RECV: usize = 0;
const SEND: usize = 1;

pub(crate) struct Shared<S: AsyncRead + AsyncWrite + Unpin> {
    driver: Mutex<Driver<S>>,
    waiters: Arc<Waiters>,
    /// Wakes both halves' pending polls: the only waker the transport sees.
    both: Waker,
}

/// The waker of each half's pending poll, under a lock of its own: the
/// transport may wake `both` while a half holds the driver's lock.
struct Waiters {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Waiters {
    fn slots(&self) -> MutexGuard<'_, [Option<Waker>; 2]> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the halves in `which`, outside the lock.
    fn wake_halves(&self, which: &[usize]) {
        let mut taken: [Option<Waker>; 2] = [None, None];
        {
            let mut slots = self.slots();
            for &i in which {
                taken[i] = slots[i].take();
            }
        }
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_halves(&[RECV, SEND]);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_halves(&[RECV, SEND]);
    }
}

type Locked<S> = Arc<Shared<S>>;

pub(crate) fn split<S: AsyncRead + AsyncWrite + Unpin>(
    driver: Driver<S>,
) -> (RecvHalf<S>, SendHalf<S>) {
    let waiters = Arc::new(Waiters {
        slots: Mutex::new([None, None]),
    });
    let shared = Arc::new(Shared {
        driver: Mutex::new(driver),
        both: Waker::from(waiters.clone()),
        waiters,
    });
    (
        RecvHalf {
            shared: shared.clone(),
            event: Copied::None,
            bytes: Vec::new(),
            text: String::new(),
            #[cfg(feature = "futures")]
            stream_done: false,
        },
        SendHalf { shared },
    )
}

fn lock<S: AsyncRead + AsyncWrite + Unpin>(shared: &Locked<S>) -> MutexGuard<'_, Driver<S>> {
    // No code that can panic runs under the lock but the transport's; its
    // state is the transport's business either way.
    shared.driver.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs one poll of half `me` under the lock, with the wake-ups described
/// in the module docs.
fn with_driver<S: AsyncRead + AsyncWrite + Unpin, T>(
    shared: &Locked<S>,
    me: usize,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    // Registered before the poll, so a wake-up during it is not lost.
    {
        let mut slots = shared.waiters.slots();
        match &mut slots[me] {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
    }
    let mut driver = lock(shared);
    let before = driver.written;
    let result = f(&mut driver, &mut Context::from_waker(&shared.both));
    let wrote = driver.written != before;
    drop(driver);
    if wrote {
        shared.waiters.wake_halves(&[1 - me]);
    }
    if result.is_ready() {
        shared.waiters.slots()[me] = None;
    }
    result
}

fn wake_other<S: AsyncRead + AsyncWrite + Unpin>(shared: &Locked<S>, me: usize) {
    shared.waiters.wake_halves(&[1 - me]);
}

/// What the last event was; its bytes are in `bytes` or `text`.
#[derive(Debug, Clone, Copy)]
enum Copied {
    None,
    Text,
    Binary,
    Fragment { kind: MessageKind, fin: bool },
    Ping,
    Pong,
    Close(Option<CloseCode>),
}

/// The receiving half of a split [`WebSocket`](super::WebSocket).
pub struct RecvHalf<S: AsyncRead + AsyncWrite + Unpin> {
    shared: Locked<S>,
    event: Copied,
    bytes: Vec<u8>,
    text: String,
    /// The `Stream` has ended.
    #[cfg(feature = "futures")]
    stream_done: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> RecvHalf<S> {
    /// Waits for the next event, as [`WebSocket::recv`](super::WebSocket::recv)
    /// does. The event borrows this half's own buffers, into which it was
    /// copied (reused from one event to the next).
    ///
    /// Cancellation safe.
    pub async fn recv(&mut self) -> Result<Event<'_>, Error> {
        let (event, bytes, text) = (&mut self.event, &mut self.bytes, &mut self.text);
        let mut failed = None;
        poll_fn(|cx| {
            with_driver(&self.shared, RECV, cx, |driver, cx| {
                if failed.is_none() {
                    std::task::ready!(driver.poll_event(cx))?;
                    match driver.conn.next_event() {
                        Ok(Some(e)) => {
                            *event = copy_event(e, bytes, text);
                            return Poll::Ready(Ok(()));
                        }
                        Ok(None) => {
                            return Poll::Ready(Err(Error::Closed(
                                CloseCode::ABNORMAL,
                                String::new(),
                            )))
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                // A single-frame text that is not UTF-8: its close goes out
                // before the error is returned.
                let _ = std::task::ready!(driver.poll_finish(cx));
                Poll::Ready(Err(failed.map_or_else(
                    || Error::Closed(CloseCode::ABNORMAL, String::new()),
                    Error::Protocol,
                )))
            })
        })
        .await?;
        Ok(match self.event {
            Copied::None => return Err(Error::Closed(CloseCode::ABNORMAL, String::new())),
            Copied::Text => Event::Text(&self.text),
            Copied::Binary => Event::Binary(&self.bytes),
            Copied::Fragment { kind, fin } => Event::Fragment {
                kind,
                data: &self.bytes,
                fin,
            },
            Copied::Ping => Event::Ping(&self.bytes),
            Copied::Pong => Event::Pong(&self.bytes),
            Copied::Close(code) => Event::Close {
                code,
                reason: &self.text,
            },
        })
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        lock(&self.shared).conn.state()
    }

    #[cfg(feature = "futures")]
    pub(crate) fn stream_done(&mut self) -> &mut bool {
        &mut self.stream_done
    }

    #[cfg(feature = "futures")]
    pub(crate) fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<super::Message, Error>> {
        with_driver(&self.shared, RECV, cx, |driver, cx| {
            super::message::poll_message(driver, cx)
        })
    }
}

/// Copies `event` into the half's buffers.
fn copy_event(event: Event<'_>, bytes: &mut Vec<u8>, text: &mut String) -> Copied {
    bytes.clear();
    text.clear();
    match event {
        Event::Text(t) => {
            text.push_str(t);
            Copied::Text
        }
        Event::Binary(b) => {
            bytes.extend_from_slice(b);
            Copied::Binary
        }
        Event::Fragment { kind, data, fin } => {
            bytes.extend_from_slice(data);
            Copied::Fragment { kind, fin }
        }
        Event::Ping(p) => {
            bytes.extend_from_slice(p);
            Copied::Ping
        }
        Event::Pong(p) => {
            bytes.extend_from_slice(p);
            Copied::Pong
        }
        Event::Close { code, reason } => {
            text.push_str(reason);
            Copied::Close(code)
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Drop for RecvHalf<S> {
    fn drop(&mut self) {
        wake_other(&self.shared, RECV);
    }
}

/// The sending half of a split [`WebSocket`](super::WebSocket).
pub struct SendHalf<S: AsyncRead + AsyncWrite + Unpin> {
    shared: Locked<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> SendHalf<S> {
    /// Sends a whole message as one frame and writes it out, waiting while
    /// the output bound has no room. The message is queued whole (copied)
    /// before any of it is written: cancellation safe.
    pub async fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        let mut queued = false;
        poll_fn(|cx| {
            with_driver(&self.shared, SEND, cx, |driver, cx| {
                if !queued {
                    std::task::ready!(driver.poll_queue(cx, kind, data, false))?;
                    queued = true;
                }
                driver.poll_write_all(cx).map_err(Error::Io)
            })
        })
        .await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_message(MessageKind::Text, text.as_bytes()).await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_message(MessageKind::Binary, data).await
    }

    /// Queues a message without writing it, waiting while the output bound
    /// has no room.
    pub async fn feed_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        poll_fn(|cx| {
            with_driver(&self.shared, SEND, cx, |driver, cx| {
                driver.poll_queue(cx, kind, data, false)
            })
        })
        .await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            with_driver(&self.shared, SEND, cx, |driver, cx| {
                std::task::ready!(driver.poll_sink_item(cx))?;
                driver.poll_write_all(cx).map_err(Error::Io)
            })
        })
        .await
    }

    /// Sends a ping (at most 125 bytes of payload).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        let payload = ControlPayload::new(payload).ok_or(crate::SendError::Full)?;
        lock(&self.shared).conn.ping(payload)?;
        self.flush().await
    }

    /// Sends a close frame and writes it out. The peer's answer arrives at
    /// the receiving half as [`Event::Close`]; a server's half then ends
    /// TCP.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        // A `Sink` item still waiting for room goes before the close.
        let _ = poll_fn(|cx| {
            with_driver(&self.shared, SEND, cx, |driver, cx| {
                driver.poll_sink_item(cx)
            })
        })
        .await;
        {
            let mut driver = lock(&self.shared);
            let conn = &mut driver.conn;
            if conn.state() == State::Open {
                conn.close(code, CloseReason::truncate(reason))?;
            }
        }
        self.flush().await
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        lock(&self.shared).conn.state()
    }

    #[cfg(feature = "futures")]
    pub(crate) fn shared(&self) -> &Locked<S> {
        &self.shared
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Drop for SendHalf<S> {
    fn drop(&mut self) {
        wake_other(&self.shared, SEND);
    }
}

#[cfg(feature = "futures")]
pub(crate) fn with_send_driver<S: AsyncRead + AsyncWrite + Unpin, T>(
    half: &SendHalf<S>,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    with_driver(half.shared(), SEND, cx, f)
}
