//! What the peer echo servers and the in-memory paths share: the servers'
//! one flag, and the settings each library gets.

use std::net::SocketAddr;

/// Where a peer server listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9002";

/// The largest message (and frame) the peer servers accept: 64 MiB, the
/// default largest message of ours, so a large echo works on all three.
pub const MAX_MESSAGE: usize = 64 << 20;

/// `tungstenite`'s settings: its defaults (128 KiB read buffer allocated up
/// front, 128 KiB write buffer target, unlimited write buffer) with the
/// message and frame limits raised to [`MAX_MESSAGE`] (the frame limit
/// defaults to 16 MiB).
pub fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// `fastwebsockets`' settings: auto-pong and auto-close on (its defaults,
/// set explicitly) and a frame limit of [`MAX_MESSAGE`]. Its limit applies
/// to each frame and rejects a payload *equal* to it, hence the `+ 1`; a
/// `FragmentCollector` puts no bound on a message's total size.
pub fn fastwebsockets_setup<S>(ws: &mut fastwebsockets::WebSocket<S>) {
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    ws.set_max_message_size(MAX_MESSAGE + 1);
}

/// What the WebSocket echo servers say they do in their usage text.
const WS_ECHO: &str = "An echo server for benchmarks: every text and binary message is sent back\n\
                       unchanged, pings are answered, fragments are collected, messages up to 64 MiB.";

/// Parses `--listen ADDR` (or `--listen=ADDR`) and `-h`/`--help` from the
/// command line. Prints usage and exits on `--help` (status 0) or on a bad
/// argument (status 2).
pub fn listen_addr(program: &str) -> SocketAddr {
    listen_addr_for(program, WS_ECHO)
}

/// [`listen_addr`] for a server that `about` describes in its usage text.
pub fn listen_addr_for(program: &str, about: &str) -> SocketAddr {
    match parse(std::env::args().skip(1)) {
        Ok(Some(addr)) => addr,
        Ok(None) => {
            println!("{}", usage(program, about));
            std::process::exit(0);
        }
        Err(message) => {
            eprintln!("{program}: {message}\n{}", usage(program, about));
            std::process::exit(2);
        }
    }
}

fn usage(program: &str, about: &str) -> String {
    format!(
        "Usage: {program} [--listen ADDR]\n\n{about}\n\n\
         Options:\n    \
         --listen ADDR    address to listen on [default: {DEFAULT_LISTEN}]\n    \
         -h, --help       print this help"
    )
}

/// `Ok(None)` asks for the help text.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut listen = DEFAULT_LISTEN.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            _ => match arg.strip_prefix("--listen=") {
                Some(value) => listen = value.to_owned(),
                None => return Err(format!("unknown argument {arg:?}")),
            },
        }
    }
    listen
        .parse()
        .map(Some)
        .map_err(|e| format!("--listen {listen}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn flags() {
        let default: SocketAddr = DEFAULT_LISTEN.parse().unwrap();
        assert_eq!(parse(args(&[])), Ok(Some(default)));
        let addr: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(parse(args(&["--listen", "[::1]:80"])), Ok(Some(addr)));
        assert_eq!(parse(args(&["--listen=[::1]:80"])), Ok(Some(addr)));
        assert_eq!(parse(args(&["--help"])), Ok(None));
        assert!(parse(args(&["--listen"])).is_err());
        assert!(parse(args(&["--listen", "nowhere"])).is_err());
        assert!(parse(args(&["--threads", "1"])).is_err());
    }
}
