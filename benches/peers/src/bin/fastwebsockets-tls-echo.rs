//! The fastwebsockets echo server (see `fastwebsockets-echo`) over TLS with
//! tokio-rustls: a peer for our wss:// benchmark.
//!
//! One thread (tokio current-thread runtime). Each accepted socket goes
//! through `TlsAcceptor::accept` (rustls 0.23 with the `aws-lc-rs`
//! provider, like ours by default; TLS 1.3 and 1.2, ALPN http/1.1), then hyper and
//! fastwebsockets exactly as in the plain peer.
//!
//! `fastwebsockets-tls-echo --tls-cert CERT.pem --tls-key KEY.pem [--listen ADDR]`,
//! default 127.0.0.1:9443.

use std::net::SocketAddr;
use std::sync::Arc;

use rfc6455_peers::fastws::serve;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

const USAGE: &str =
    "usage: fastwebsockets-tls-echo --tls-cert CERT.pem --tls-key KEY.pem [--listen ADDR]";

fn main() {
    let mut listen = "127.0.0.1:9443".to_owned();
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("{arg} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        match arg.as_str() {
            "--listen" => listen = value(),
            "--tls-cert" => cert = Some(value()),
            "--tls-key" => key = Some(value()),
            _ => {
                eprintln!("unknown argument {arg}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let addr: SocketAddr = listen.parse().unwrap_or_else(|e| {
        eprintln!("--listen {listen}: {e}");
        std::process::exit(2)
    });
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .and_then(|certs| certs.collect())
        .unwrap_or_else(|e| panic!("{cert}: {e:?}"));
    let key = PrivateKeyDer::from_pem_file(&key).unwrap_or_else(|e| panic!("{key}: {e:?}"));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports TLS 1.2 and 1.3")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime")
        .block_on(run(addr, acceptor))
        .expect("listen");
}

async fn run(addr: SocketAddr, acceptor: TlsAcceptor) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "fastwebsockets-tls-echo listening on wss://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // Failed handshakes end here, as in any TLS server.
                    if let Ok(tls) = acceptor.accept(stream).await {
                        serve(tls).await;
                    }
                });
            }
            Err(e) => eprintln!("fastwebsockets-tls-echo: accept: {e}"),
        }
    }
}
