#!/usr/bin/env bash
# The abuse suite: hostile peers against a live echo server with tight limits
# (slowloris, oversized heads, huge frames, 1-byte fragments, no-read floods,
# ping floods, RST mid-frame, 10,000 idle connections). See tests/abuse/abuse.py.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin echo-server
timeout 600 python3 tests/abuse/abuse.py target/release/echo-server
