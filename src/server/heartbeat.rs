//! The application heartbeat: browsers cannot send ping frames, so a
//! browser client proves the link is alive with an agreed text message
//! (`ping`, or the seed's `heartCheck`) and the server answers it with
//! another, without handing either to the application: the heartbeat is
//! never published, echoed or counted as a message.

use std::prelude::rust_2021::*;

use crate::connection::Sender;

/// A heartbeat text and the server's reply ([`ServerConfig::heartbeat`](super::ServerConfig::heartbeat)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The text message a client sends.
    pub text: String,
    /// The text message the server answers with.
    pub reply: String,
    /// Other texts answered the same way: clients written by hand beside
    /// the ones that use `/rfc6455.js` (a seed's `heartCheck` beside the
    /// module's `ping`). The built-in page is told [`text`](Self::text).
    pub also: Vec<String>,
}

/// Answers `text` if it is the heartbeat; returns whether it was.
pub(crate) fn answer(heartbeat: Option<&Heartbeat>, text: &str, tx: &mut Sender) -> bool {
    match heartbeat {
        Some(h) if h.text == text || h.also.iter().any(|a| a == text) => {
            // A reply that does not fit the output bound is not owed: the
            // client's heartbeat timeout reconnects, as for a lost one.
            let _ = tx.send_text(&h.reply);
            true
        }
        _ => false,
    }
}
