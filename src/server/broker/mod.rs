//! Relays publishes between instances of the server (several processes or
//! machines behind a load balancer), so that a message published on one
//! reaches subscribers on all.
//!
//! The hub reaches a relay through a small interface (`Relay`): it hands
//! it every publish, and tells it when a topic gains its first subscriber
//! in the instance or loses its last. The relay runs on its own threads
//! and feeds what comes back into the workers' inboxes, as any other
//! thread's publish would: workers never wait for it.
//!
//! [`envelope`] is how messages look on the wire (plain payloads from any
//! program, and ours with a header); `redis` (feature `redis`) is the
//! relay over Redis pub/sub.

use std::io;
use std::prelude::rust_2021::*;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::hub::Hub;
use crate::connection::SharedFrame;

pub mod envelope;
#[cfg(feature = "redis")]
pub(crate) mod redis;

pub use envelope::Skip;

/// A publish on its way to the relay.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Outbound {
    pub(crate) topic: Arc<str>,
    pub(crate) frame: SharedFrame,
    /// A connection of this instance that does not get the message.
    pub(crate) skip: Option<Skip>,
}

/// What a relay did with a publish.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) enum Accepted {
    /// Queued for the other instances; this instance's subscribers get it
    /// when it comes back.
    Relayed,
    /// Not relayed and not to be delivered: the relay's queue is full
    /// (counted in [`BrokerStats::dropped`]).
    Dropped,
    /// The relay is not connected: the caller delivers it to this
    /// instance's subscribers, as without a relay.
    Local,
}

/// The hub's view of a relay.
pub(crate) trait Relay: Send + Sync {
    /// Takes a publish. Never blocks on the network.
    fn publish(&self, message: Outbound) -> Accepted;

    /// `topic` gained its first subscriber in this instance or lost its
    /// last one (the hub's directory says which, when the relay looks).
    fn topic_changed(&self, topic: &Arc<str>);

    /// Starts the relay's threads; they deliver through `hub`.
    fn start(self: Arc<Self>, hub: Arc<Hub>) -> io::Result<Vec<JoinHandle<()>>>;

    /// Asks the threads to stop (after sending what is queued, if they
    /// can).
    fn shutdown(&self);

    /// The relay's counters.
    fn stats(&self) -> BrokerStats;
}

/// Counters of the relay to other instances (all zero without one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// A relay is configured.
    pub enabled: bool,
    /// Connected and relaying now; when not, publishes reach this
    /// instance's subscribers only.
    pub connected: bool,
    /// Messages sent to the broker.
    pub sent: u64,
    /// Messages received from the broker (this instance's own included).
    pub received: u64,
    /// Publishes dropped because the queue to the broker was full
    /// (`RedisConfig::max_queue_bytes`).
    pub dropped: u64,
    /// Publishes that reached this instance's subscribers only, since the
    /// broker was down (or the connection broke before they came back, or
    /// the broker refused them).
    pub local_only: u64,
    /// Messages from the broker refused: malformed envelopes, bad topic
    /// names, payloads over the size bound.
    pub malformed: u64,
    /// Connections made after the first (each after a loss).
    pub reconnects: u64,
    /// Channels this instance is subscribed to.
    pub channels: usize,
}
