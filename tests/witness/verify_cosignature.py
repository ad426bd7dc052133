#!/usr/bin/env python3
"""Checks a witness's cosignature on a checkpoint, written from c2sp.org/tlog-cosignature and
c2sp.org/signed-note alone (standard library plus `cryptography` for Ed25519).

    verify_cosignature.py NOTE_FILE WITNESS_VKEY [WITNESS_VKEY ...]

NOTE_FILE is a signed note (a checkpoint with its signature lines); each WITNESS_VKEY is a
cosigner's verifier key `<name>+<hex key id>+base64(0x04 || Ed25519 public key)`. For each key,
the note must carry a signature line by that name and key id whose payload is key id (4 bytes)
|| timestamp (8 bytes, big-endian) || Ed25519 signature (64 bytes) over
"cosignature/v1\\ntime <timestamp>\\n" followed by the note's text. Prints one `ok:` line per key;
exits 1 at the first cosignature missing or not verifying, 2 on bad usage.
"""

import base64
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


def fail(message, code=1):
    print(f"FAIL: {message}")
    sys.exit(code)


def parse_vkey(text):
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        fail(f"not a verifier key: {text!r}", 2)
    name, key_id, key = parts
    raw = base64.b64decode(key, validate=True)
    if len(raw) != 33 or raw[0] != 0x04:
        fail(f"{name}: not an Ed25519 cosignature/v1 key (type 0x04, 32 bytes)", 2)
    public = raw[1:]
    expected = hashlib.sha256(name.encode() + b"\n" + b"\x04" + public).digest()[:4]
    if key_id != expected.hex():
        fail(f"{name}: the key id {key_id} is not SHA-256(name || 0x0A || 0x04 || key)[:4]", 2)
    return name, expected, Ed25519PublicKey.from_public_bytes(public)


def main():
    if len(sys.argv) < 3:
        fail(__doc__.strip().splitlines()[2].strip(), 2)
    with open(sys.argv[1], "rb") as f:
        note = f.read().decode("utf-8")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        fail("not a signed note: no blank line before the signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    lines = signatures[:-1].split("\n")
    body = text.split("\n")
    if len(body) < 4:
        fail("the note text is not a checkpoint (origin, size, root)")
    for vkey in sys.argv[2:]:
        name, key_id, public = parse_vkey(vkey)
        found = None
        for line in lines:
            if not line.startswith(DASH):
                fail(f"not a signature line: {line!r}")
            signer, _, payload = line[len(DASH) :].partition(" ")
            payload = base64.b64decode(payload, validate=True)
            if signer == name and payload[:4] == key_id:
                found = payload
        if found is None:
            fail(f"no cosignature by {name}")
        if len(found) != 4 + 8 + 64:
            fail(f"{name}: the cosignature is {len(found)} bytes, not 76")
        (timestamp,) = struct.unpack(">Q", found[4:12])
        if timestamp >= 2**63:
            fail(f"{name}: the timestamp exceeds 2^63 - 1")
        message = f"cosignature/v1\ntime {timestamp}\n{text}".encode("utf-8")
        try:
            public.verify(found[12:], message)
        except InvalidSignature:
            fail(f"{name}: the cosignature does not verify")
        print(f"ok: {body[0]} size {body[1]} cosigned by {name} at {timestamp}")


if __name__ == "__main__":
    main()
