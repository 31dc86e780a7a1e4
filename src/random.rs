//! The operating system's random source, for the drivers that play the
//! client role: masking keys (RFC 6455 section 5.3) and handshake nonces
//! (section 4.1). The core takes both from its caller.

use std::boxed::Box;

use crate::connection::MaskKeySource;

/// Masking keys from the OS random source, fetched 64 keys at a time.
pub(crate) struct OsKeys {
    pool: [u8; 256],
    at: usize,
}

impl OsKeys {
    /// A key source for [`Connection::client`](crate::Connection::client).
    pub(crate) fn source() -> MaskKeySource {
        let mut keys = OsKeys {
            pool: [0; 256],
            at: 256,
        };
        Box::new(move || keys.next())
    }

    fn next(&mut self) -> [u8; 4] {
        if self.at == self.pool.len() {
            // The OS source does not fail on Linux after boot; if it ever
            // did, the previous pool is reused rather than a zero key.
            let _ = getrandom::fill(&mut self.pool);
            self.at = 0;
        }
        let k = &self.pool[self.at..self.at + 4];
        self.at += 4;
        [k[0], k[1], k[2], k[3]]
    }
}

/// A fresh `Sec-WebSocket-Key` nonce: 16 bytes from the OS random source.
pub(crate) fn handshake_nonce() -> Result<[u8; 16], getrandom::Error> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key)?;
    Ok(key)
}
