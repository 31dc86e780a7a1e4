//! The README's handler example, compiled so that it stays true: a room
//! per path, each message to the other members, and an application
//! thread that publishes to `/news` every second.
//!
//! `cargo run --example chat`, then two `wscat ws://127.0.0.1:9001/lobby`.

use rfc6455::connection::MessageKind;
use rfc6455::server::{Handler, Message, Peer, Server, ServerConfig, UpgradeRequest};

struct Chat;
impl Handler for Chat {
    fn on_open(&mut self, peer: &mut Peer<'_>, request: &UpgradeRequest<'_>) {
        let _ = peer.subscribe(request.path()); // a room per path
    }
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>) {
        if let Message::Text(text) = message {
            let room = peer.subscriptions().next().cloned().unwrap();
            peer.publish_to_others(&room, MessageKind::Text, text.as_bytes());
        }
    }
}

fn main() -> std::io::Result<()> {
    let server = Server::bind(ServerConfig::default())?;
    let handle = server.handle(); // publishes from any thread
    std::thread::spawn(move || loop {
        handle.publish("/news", MessageKind::Text, b"news");
        std::thread::sleep(std::time::Duration::from_secs(1));
    });
    server.run(|| Chat)
}
