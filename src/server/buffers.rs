//! A worker's spare buffers: the read buffers and message buffers that
//! connections give back when they go quiet, lent to the next connection
//! that reads. An idle connection then holds neither, and a busy worker
//! does not allocate them per message.

use std::prelude::rust_2021::*;

use crate::connection::Connection;
use crate::lane::ReplyLane;

/// Most read buffers kept, and the largest one kept.
const READ_MAX: usize = 64;
const READ_BUFFER_MAX: usize = 256 << 10;
/// Most message buffers kept, and the largest: a buffer that grew for a
/// large message is freed rather than pinned in the pool.
const MESSAGE_MAX: usize = 16;
const MESSAGE_BUFFER_MAX: usize = 64 << 10;

#[derive(Default)]
pub(crate) struct Buffers {
    read: Vec<Vec<u8>>,
    message: Vec<Vec<u8>>,
}

impl Buffers {
    /// Gives `c` the buffers it lacks, before it reads.
    pub(crate) fn lend(&mut self, c: &mut Connection) {
        if !c.has_read_buffer() {
            if let Some(buf) = self.read.pop() {
                c.provide_read_buffer(buf);
            }
        }
        if !c.has_message_buffer() {
            if let Some(buf) = self.message.pop() {
                c.provide_message_buffer(buf);
            }
        }
    }

    /// Takes back what a connection that drained its input no longer needs.
    pub(crate) fn take_back(&mut self, c: &mut Connection) {
        if let Some(buf) = c.take_idle_read_buffer() {
            self.give_read(buf);
        }
        if let Some(buf) = c.take_idle_message_buffer() {
            self.give_message(buf);
        }
    }

    /// Takes back everything an idle or closing connection holds that it
    /// does not need.
    pub(crate) fn release_idle(&mut self, c: &mut Connection) {
        if let Some(buf) = c.take_idle_message_buffer() {
            self.give_message(buf);
        }
        if let Some(buf) = c.release_idle_buffers() {
            self.give_read(buf);
        }
    }

    /// A read buffer for a connection that keeps its own for a while
    /// (see `ReplyLane`): pooled, or new and empty.
    pub(crate) fn spare_read(&mut self) -> Vec<u8> {
        self.read.pop().unwrap_or_default()
    }

    /// Takes back the read buffers a flushed lane held.
    pub(crate) fn give_read_from(&mut self, lane: &mut ReplyLane) {
        while let Some(buf) = lane.take_held() {
            self.give_read(buf);
        }
    }

    fn give_read(&mut self, buf: Vec<u8>) {
        if self.read.len() < READ_MAX && buf.capacity() <= READ_BUFFER_MAX {
            self.read.push(buf);
        }
    }

    fn give_message(&mut self, buf: Vec<u8>) {
        if self.message.len() < MESSAGE_MAX && buf.capacity() <= MESSAGE_BUFFER_MAX {
            self.message.push(buf);
        }
    }
}
