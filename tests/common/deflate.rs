//! Two connections that negotiated permessage-deflate with each other, and
//! the bytes between them: what the deflate tests share.

#![allow(dead_code)]

use rfc6455::connection::{Config, Connection};
use rfc6455::deflate::{DeflateConfig, Negotiated, Params};
use rfc6455::frame::Role;
use rfc6455::handshake::parse_extensions;

/// Both ends of one negotiation: `config` on both sides, `offer` from the
/// client.
pub fn negotiate(config: DeflateConfig, offer: &str) -> (Negotiated, Negotiated) {
    let offers = parse_extensions(offer.as_bytes()).unwrap();
    let server = config.negotiate(offers).expect("accepted");
    let response = server.response();
    let ext = parse_extensions(response.as_bytes())
        .unwrap()
        .next()
        .unwrap();
    let client = config
        .agreed(Params::parse_response(&ext).unwrap(), Role::Client)
        .unwrap();
    (server, client)
}

/// A server and a client connection after that negotiation.
pub fn pair(config: DeflateConfig, offer: &str, conn: Config) -> (Connection, Connection) {
    let (s, c) = negotiate(config, offer);
    let server = Connection::server(conn).with_deflate(&s);
    let mut k = 0u8;
    let client = Connection::client(
        conn,
        Box::new(move || {
            k = k.wrapping_add(7);
            [k, 1, 2, 3]
        }),
    )
    .with_deflate(&c);
    (server, client)
}
