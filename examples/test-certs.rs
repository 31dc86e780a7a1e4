//! Makes a throwaway CA and a server certificate for local testing, with
//! rcgen: `ca.pem`, `cert.pem` and `key.pem` in the directory given.
//!
//!     cargo run --example test-certs -- DIR [NAME...]
//!
//! The names default to `localhost` and `127.0.0.1`. Serve with
//! `echo-server --tls-cert DIR/cert.pem --tls-key DIR/key.pem` and connect
//! with `wscat --cafile DIR/ca.pem wss://localhost:9001/`. The key is
//! unprotected and the CA is trusted by nothing but what you point at it:
//! for tests only.

#[path = "../tests/common/pki.rs"]
mod pki;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: test-certs DIR [NAME...]");
        return ExitCode::from(2);
    };
    let names: Vec<String> = args.collect();
    let names: Vec<&str> = if names.is_empty() {
        vec!["localhost", "127.0.0.1"]
    } else {
        names.iter().map(String::as_str).collect()
    };
    let pki = pki::TestPki::new("rfc6455 test CA", &names);
    let files = pki.write(&PathBuf::from(&dir));
    println!(
        "{} {} {} for {}",
        files.ca.display(),
        files.cert.display(),
        files.key.display(),
        names.join(", ")
    );
    ExitCode::SUCCESS
}
