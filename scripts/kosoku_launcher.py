"""Runs kosoku with its permessage-deflate cases (12.x, 13.x) fixed.

kosoku 0.1.0 hands a received message to those cases' `onMessage` as a
`str` (a binary message one code point per byte, a text message decoded),
and the case hashes it with hashlib, which takes bytes only: every case that
negotiated deflate ends in an error, whatever the peer did (../shared/
TOOLING.md, section 11). This launcher wraps `onMessage` of those classes to
turn the `str` back into the bytes that arrived (latin-1 for binary, UTF-8
for text), so each case still checks every echo's type, length and SHA-1,
then runs kosoku's own command line with the arguments given.

    python scripts/kosoku_launcher.py -m fuzzingclient -o OUT ws://127.0.0.1:PORT
"""

import sys

import kosoku.cases
from kosoku import _cli

EXPECTED = 216  # 12.x: 90 cases, 13.x: 126


def as_bytes(original):
    def on_message(self, msg, binary):
        if isinstance(msg, str):
            msg = msg.encode("latin-1" if binary else "utf-8")
        return original(self, msg, binary)

    return on_message


patched = 0
for case_id, cls in kosoku.cases.CASES.items():
    if case_id.split(".")[0] in ("12", "13"):
        cls.onMessage = as_bytes(cls.onMessage)
        patched += 1
if patched != EXPECTED:
    sys.exit(f"kosoku_launcher: patched {patched} case classes, expected {EXPECTED}")
sys.argv[0] = "kosoku"
sys.exit(_cli.main())
