//! An async client on the tokio driver: connects, sends each argument as a
//! text message, prints the replies, and closes.
//!
//!     cargo run --features tokio --example tokio-client -- ws://127.0.0.1:9001/ hello world
//!
//! A second task pings the server every second while the first reads,
//! through the connection's split halves.

use std::time::Duration;

use rfc6455::connection::Event;
use rfc6455::tokio::{connect, ClientConfig};
use rfc6455::CloseCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: tokio-client URL [MESSAGE...]")?;
    let messages: Vec<String> = args.collect();

    let config = ClientConfig::default();
    let ws = tokio::time::timeout(Duration::from_secs(10), connect(&url, &config)).await??;
    let (mut rx, mut tx) = ws.split();

    let sender = tokio::spawn(async move {
        for m in &messages {
            tx.send_text(m).await?;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.ping(b"still there?").await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        tx.close(CloseCode::NORMAL, "done").await?;
        Ok::<_, rfc6455::tokio::Error>(())
    });

    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await? {
            Ok(Event::Text(t)) => println!("< {t}"),
            Ok(Event::Binary(b)) => println!("< {} bytes", b.len()),
            Ok(Event::Pong(p)) => println!("< pong {:?}", String::from_utf8_lossy(p)),
            Ok(Event::Close { code, reason }) => {
                println!("< close {code:?} {reason:?}");
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
    }
    sender.await??;
    Ok(())
}
