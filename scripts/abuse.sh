#!/usr/bin/env bash
# The abuse suite: hostile peers against a live echo server with tight limits
# (slowloris, oversized heads, huge frames, 1-byte fragments, no-read floods,
# ping floods, RST mid-frame, 10,000 idle connections), then the TLS cases
# against a wss:// server with a certificate made for the run (handshake
# slowloris, garbage instead of a ClientHello, drops mid-record, idle TLS
# connections). See tests/abuse/abuse.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin echo-server --example test-certs
pki=$(mktemp -d)
trap 'rm -rf "$pki"' EXIT
target/release/examples/test-certs "$pki" >/dev/null
timeout 900 python3 tests/abuse/abuse.py target/release/echo-server --tls "$pki"
