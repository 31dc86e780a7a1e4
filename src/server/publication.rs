//! One published message on its way to a worker's subscribers: the frame
//! as it was encoded, and its permessage-deflate copies, each compressed
//! once for every subscriber that can take it.
//!
//! A copy is compressed without a dictionary, so it decodes the same
//! whatever a subscriber was sent before: one copy serves every subscriber
//! whose connection has the same [`SharedKey`] (window and level; the
//! server has one [`DeflateConfig`](crate::deflate::DeflateConfig), so in
//! practice one key per window size its clients asked for). The cost is
//! one compression per published message, per worker and key, and one
//! shared allocation, instead of one of each per subscriber.
//!
//! Subscribers with context takeover take the same copy: their peer's
//! window takes the message in as usual, and their connection records its
//! text (a copy of at most 2^bits bytes) so that what they are sent next
//! refers back correctly. What they lose is the back-references from a
//! published message to earlier ones, a worse ratio on those messages; a
//! compression per subscriber would cost CPU in proportion to the fan-out
//! (about 8 us per 1 KiB JSON message at level 1: 80 ms of one core for a
//! publish to 10,000 subscribers) and a private copy of the output in each
//! subscriber's queue.

use std::prelude::rust_2021::*;

use crate::connection::{SendError, Sender, SharedFrame, SharedRun};
#[cfg(feature = "deflate")]
use crate::deflate::SharedKey;

/// Largest frame (on the wire) that joins a run: larger ones gain nothing
/// from sharing a queue entry and are not copied again.
pub(crate) const RUN_FRAME_MAX: usize = 2048;

/// Most bytes in one run: a ping owed to a subscriber waits at most this
/// long behind it (a run is written through like one frame).
pub(crate) const RUN_MAX: usize = 64 * 1024;

/// How many of `queue`'s first items go as one run (at least 1 when it
/// is not empty): while each `continues` the one before it, each is at
/// most [`RUN_FRAME_MAX`] and all at most [`RUN_MAX`] on the wire
/// (`wire_len`: the larger form of an item that has two).
pub(crate) fn run_len<T>(
    queue: &[T],
    continues: impl Fn(&T, &T) -> bool,
    wire_len: impl Fn(&T) -> usize,
) -> usize {
    let Some(first) = queue.first() else {
        return 0;
    };
    let mut bytes = wire_len(first);
    if bytes > RUN_FRAME_MAX {
        return 1;
    }
    let mut len = 1;
    for pair in queue.windows(2) {
        let n = wire_len(&pair[1]);
        if n > RUN_FRAME_MAX || bytes + n > RUN_MAX || !continues(&pair[0], &pair[1]) {
            break;
        }
        bytes += n;
        len += 1;
    }
    len
}

/// Scratch lists for one run of published messages, kept by a worker for
/// their capacity.
#[derive(Default)]
pub(crate) struct Run {
    /// The messages as published.
    pub(crate) plain: Vec<SharedFrame>,
    /// Their tagged forms, with history (else empty).
    pub(crate) tagged: Vec<SharedFrame>,
    /// Their ids, with history (`None`: a message without one).
    pub(crate) ids: Vec<Option<u64>>,
}

impl Run {
    pub(crate) fn clear(&mut self) {
        self.plain.clear();
        self.tagged.clear();
        self.ids.clear();
    }
}

/// Published messages on their way to a worker's subscribers: one, or a
/// run of small ones for the same subscribers (what one turn of a
/// connection published to a topic), with the forms made on first need.
pub(crate) struct Publication<'f> {
    plain: &'f [SharedFrame],
    /// The messages back to back, for a run, shared by every subscriber
    /// that takes them as they are.
    run: Option<SharedRun>,
    /// The largest payload: a subscriber compresses some message of the
    /// run if it compresses this one.
    #[cfg(feature = "deflate")]
    max_payload: usize,
    /// Per key met so far, per message: `None` until compressed, then
    /// `Some(None)` when compressing did not make it smaller (it goes out
    /// plain then).
    #[cfg(feature = "deflate")]
    copies: Vec<(SharedKey, Vec<Option<Option<SharedFrame>>>)>,
    /// Compressions made.
    compressed: u64,
}

/// What [`Publication::send`] queued to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Messages queued, in order from the first.
    pub(crate) queued: u64,
    /// A message was refused (the output bound, or a close): it and those
    /// after it were not queued.
    pub(crate) refused: bool,
}

impl<'f> Publication<'f> {
    /// `plain`: one message, or a run (see [`run_len`]).
    pub(crate) fn new(plain: &'f [SharedFrame]) -> Self {
        Publication {
            plain,
            run: None,
            #[cfg(feature = "deflate")]
            max_payload: plain.iter().map(|f| f.payload().len()).max().unwrap_or(0),
            #[cfg(feature = "deflate")]
            copies: Vec::new(),
            compressed: 0,
        }
    }

    /// How many messages it holds.
    pub(crate) fn len(&self) -> usize {
        self.plain.len()
    }

    /// How many compressed copies were made.
    pub(crate) fn compressed(&self) -> u64 {
        self.compressed
    }

    /// Queues the messages to `tx`: a run as one entry, unless its
    /// connection compresses some of them; each compressed if its
    /// connection compresses messages of its size, as it is otherwise. A
    /// run the output bound refuses whole goes message by message, as far
    /// as there is room.
    pub(crate) fn send(&mut self, tx: &mut Sender) -> Sent {
        #[cfg(feature = "deflate")]
        let compresses = tx.shared_compression(self.max_payload).is_some();
        #[cfg(not(feature = "deflate"))]
        let compresses = false;
        if !compresses && self.plain.len() > 1 {
            let plain = self.plain;
            let run = self.run.get_or_insert_with(|| SharedRun::new(plain));
            match tx.send_shared_run(run) {
                Ok(()) => {
                    return Sent {
                        queued: plain.len() as u64,
                        refused: false,
                    }
                }
                Err(SendError::Full) => {}
                Err(_) => {
                    return Sent {
                        queued: 0,
                        refused: true,
                    }
                }
            }
        }
        self.send_some(tx, |_| true)
    }

    /// Queues, in order, the messages whose index `keep` accepts, each
    /// alone (a subscriber that must skip some, which is rare), until one
    /// is refused.
    pub(crate) fn send_some(&mut self, tx: &mut Sender, keep: impl Fn(usize) -> bool) -> Sent {
        let mut sent = Sent {
            queued: 0,
            refused: false,
        };
        for i in (0..self.plain.len()).filter(|&i| keep(i)) {
            if self.send_one(i, tx).is_err() {
                sent.refused = true;
                break;
            }
            sent.queued += 1;
        }
        sent
    }

    /// Queues message `i` alone, compressed if its connection compresses
    /// messages of its size.
    fn send_one(&mut self, i: usize, tx: &mut Sender) -> Result<(), SendError> {
        let plain = &self.plain[i];
        #[cfg(feature = "deflate")]
        if let Some(key) = tx.shared_compression(plain.payload().len()) {
            let k = match self.copies.iter().position(|(k, _)| *k == key) {
                Some(k) => k,
                None => {
                    self.copies.push((key, vec![None; self.plain.len()]));
                    self.copies.len() - 1
                }
            };
            let copy = self.copies[k].1[i].get_or_insert_with(|| {
                self.compressed += 1;
                tx.compress_shared(plain)
            });
            if let Some(copy) = copy {
                return tx.send_shared_compressed(plain, copy);
            }
        }
        tx.send_shared(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{Config, Connection, MessageKind};

    fn frame(len: usize) -> SharedFrame {
        SharedFrame::new(MessageKind::Text, &vec![b'x'; len])
    }

    #[test]
    fn runs_stop_at_a_different_audience_a_large_frame_or_the_size_bound() {
        let wire = |n: &usize| *n;
        let same = |_: &usize, _: &usize| true;
        assert_eq!(run_len::<usize>(&[], same, wire), 0);
        assert_eq!(run_len(&[100, 100, 100], same, wire), 3);
        assert_eq!(run_len(&[100, 100, RUN_FRAME_MAX + 1, 100], same, wire), 2);
        assert_eq!(run_len(&[RUN_FRAME_MAX + 1, 100], same, wire), 1);
        let many = vec![RUN_FRAME_MAX; 40];
        assert_eq!(run_len(&many, same, wire), RUN_MAX / RUN_FRAME_MAX);
        // Items differ by their tens: a run ends where the audience changes.
        let by_tens = |a: &usize, b: &usize| a / 10 == b / 10;
        assert_eq!(run_len(&[10, 11, 12, 20, 21], by_tens, |_| 1), 3);
    }

    #[test]
    fn a_run_is_one_queue_entry_and_a_subset_goes_message_by_message() {
        let frames = [frame(10), frame(20), frame(30)];
        let mut publication = Publication::new(&frames);
        assert_eq!(publication.len(), 3);
        let mut a = Connection::server(Config::default());
        let mut b = Connection::server(Config::default());
        let all = Sent {
            queued: 3,
            refused: false,
        };
        assert_eq!(publication.send(&mut a), all);
        assert_eq!(publication.send(&mut b), all);
        assert_eq!(a.queued_shared_frames(), 1);
        assert_eq!(b.queued_shared_frames(), 1);
        let wire: usize = frames.iter().map(SharedFrame::wire_len).sum();
        assert_eq!(a.pending_output_len(), wire);

        let mut c = Connection::server(Config::default());
        assert_eq!(publication.send_some(&mut c, |i| i != 1).queued, 2);
        assert_eq!(c.queued_shared_frames(), 2);
        assert_eq!(
            c.pending_output_len(),
            frames[0].wire_len() + frames[2].wire_len()
        );
    }

    #[test]
    fn a_run_the_bound_refuses_whole_goes_as_far_as_there_is_room() {
        let frames = [frame(100), frame(100), frame(100)];
        let mut publication = Publication::new(&frames);
        let config = Config {
            limits: crate::Limits {
                max_output_buffer: 300,
                ..crate::Limits::default()
            },
            ..Config::default()
        };
        let mut c = Connection::server(config);
        let sent = publication.send(&mut c);
        assert_eq!(
            sent,
            Sent {
                queued: 2,
                refused: true
            },
            "two of 102 bytes plus overhead fit in 300"
        );
        assert_eq!(c.pending_output_len(), 2 * frames[0].wire_len());
        c.close(crate::CloseCode::NORMAL, crate::CloseReason::truncate(""))
            .unwrap();
        let sent = publication.send(&mut c);
        assert_eq!(
            sent,
            Sent {
                queued: 0,
                refused: true
            },
            "nothing after a close"
        );
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn a_compressing_subscriber_takes_each_message_compressed_once_per_worker() {
        use crate::deflate::{DeflateConfig, Params};
        let config = DeflateConfig {
            threshold: 100,
            ..DeflateConfig::default()
        };
        let negotiated = config.answer(Params::default()).unwrap();
        let frames = [frame(500), frame(50), frame(600)];
        let mut publication = Publication::new(&frames);
        for _ in 0..3 {
            let mut c = Connection::server(Config::default()).with_deflate(&negotiated);
            assert_eq!(publication.send(&mut c).queued, 3);
            assert_eq!(c.queued_shared_frames(), 3, "one entry per message");
            assert!(c.pending_output_len() < frames.iter().map(SharedFrame::wire_len).sum());
        }
        assert_eq!(
            publication.compressed(),
            2,
            "the two over the threshold, once each"
        );
        let mut plain = Connection::server(Config::default());
        assert_eq!(publication.send(&mut plain).queued, 3);
        assert_eq!(plain.queued_shared_frames(), 1, "the run, as published");
    }
}
