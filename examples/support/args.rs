//! The examples' one flag: `--listen ADDR:PORT`, as the echo-server binary
//! takes it.

/// `--listen ADDR:PORT` (or `--listen=...`), default 127.0.0.1:9001.
pub fn listen_addr(name: &str) -> std::net::SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut addr = String::from("127.0.0.1:9001");
    while let Some(arg) = args.next() {
        match arg.strip_prefix("--listen") {
            Some("") => addr = args.next().unwrap_or_default(),
            Some(v) if v.starts_with('=') => addr = v[1..].to_owned(),
            _ => usage(name, &format!("unknown argument {arg}")),
        }
    }
    addr.parse()
        .unwrap_or_else(|_| usage(name, &format!("--listen wants ADDR:PORT, not {addr:?}")))
}

fn usage(name: &str, problem: &str) -> ! {
    eprintln!("{name}: {problem}\nusage: {name} [--listen ADDR:PORT]");
    std::process::exit(2)
}
