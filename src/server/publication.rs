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

use crate::connection::{SendError, Sender, SharedFrame};
#[cfg(feature = "deflate")]
use crate::deflate::SharedKey;

/// A published frame and its compressed copies, made on first need.
pub(crate) struct Publication<'f> {
    plain: &'f SharedFrame,
    /// One entry per key met so far; `None` when compressing did not make
    /// the message smaller (it goes out plain then).
    #[cfg(feature = "deflate")]
    copies: Vec<(SharedKey, Option<SharedFrame>)>,
    /// Compressions made.
    compressed: u64,
}

impl<'f> Publication<'f> {
    pub(crate) fn new(plain: &'f SharedFrame) -> Self {
        Publication {
            plain,
            #[cfg(feature = "deflate")]
            copies: Vec::new(),
            compressed: 0,
        }
    }

    /// How many compressed copies were made.
    pub(crate) fn compressed(&self) -> u64 {
        self.compressed
    }

    /// Queues the message to `tx`: compressed if its connection compresses
    /// messages of this size, as it is otherwise.
    pub(crate) fn send(&mut self, tx: &mut Sender) -> Result<(), SendError> {
        #[cfg(feature = "deflate")]
        if let Some(key) = tx.shared_compression(self.plain.payload().len()) {
            let i = match self.copies.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    self.compressed += 1;
                    self.copies.push((key, tx.compress_shared(self.plain)));
                    self.copies.len() - 1
                }
            };
            if let Some(copy) = &self.copies[i].1 {
                return tx.send_shared_compressed(self.plain, copy);
            }
        }
        tx.send_shared(self.plain)
    }
}
