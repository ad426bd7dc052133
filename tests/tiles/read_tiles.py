#!/usr/bin/env python3
"""An independent reader of a tiled log, written from the C2SP texts (tlog-tiles,
tlog-checkpoint, signed-note) with Python's standard library alone:

    python3 read_tiles.py URL [--token TOKEN] [--public-key NAME+KEYID+KEY] [--samples N] [--seed S]

It fetches URL/checkpoint, reads the tree size and root, fetches every hash tile the size needs
(level 0 up), checks that each level's hashes are the Merkle Tree Hashes of the full tiles below,
recomputes the root from the tiles and compares it with the checkpoint's. Then it fetches the
entry bundles of N random entries (with the bearer TOKEN) and checks that each entry hashes to
its leaf in the level-0 tile. With --public-key it checks the checkpoint's Ed25519 signature when
the `cryptography` package is installed, and says so when it is not. Exits 0 when every check
holds, 1 otherwise; the last line says what was checked."""
import argparse, base64, hashlib, random, sys, urllib.error, urllib.request

WIDTH = 256  # hashes in a full tile, entries in a full bundle


def fail(message):
    sys.exit(f"FAILED: {message}")


def fetch(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read()
    except urllib.error.HTTPError as error:
        fail(f"GET {url}: HTTP {error.code}")
    except (urllib.error.URLError, OSError) as error:
        fail(f"GET {url}: {error}")


def leaf_hash(data):  # RFC 6962 2.1: SHA-256(0x00 || data)
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):  # SHA-256(0x01 || left || right)
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """The Merkle Tree Hash of a list of subtree hashes whose count is a power of two."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def root_of(peaks):
    """The root of a tree given its complete subtrees from left to right, largest first
    (RFC 6962's recursion puts the ragged part on the right)."""
    right = peaks[-1]
    for left in reversed(peaks[:-1]):
        right = node_hash(left, right)
    return right


def tile_index(n):  # tlog-tiles: 3-digit groups, all but the last prefixed "x"
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{g:03d}" for g in groups[:-1]] + [f"{groups[-1]:03d}"])


def tile_path(level, n, width):
    kind = "entries" if level == "entries" else str(level)
    suffix = "" if width == WIDTH else f".p/{width}"
    return f"tile/{kind}/{tile_index(n)}{suffix}"


def parse_note(note):
    split = note.rindex("\n\n")  # signed-note: the text keeps its last newline
    text, signatures = note[: split + 1], note[split + 2 :]
    lines = text.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    if len(root) != 32 or str(size) != lines[1]:
        fail("the checkpoint's size or root is malformed")
    return text, signatures, origin, size, root


def check_signature(text, signatures, public_key):
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        print("note: the `cryptography` package is not installed; the signature was not checked")
        return False
    name, key_id, key = public_key.split("+", 2)
    key = base64.b64decode(key)
    if key[0] != 1 or hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != key_id:
        fail("the public key does not match its key id")
    for line in signatures.splitlines():
        signer, signature = line.removeprefix("\u2014 ").split(" ")
        signature = base64.b64decode(signature)
        if signer == name and signature[:4].hex() == key_id:
            try:
                Ed25519PublicKey.from_public_bytes(key[1:]).verify(signature[4:], text.encode())
            except InvalidSignature:
                fail("the checkpoint's signature does not verify")
            return True
    fail(f"the checkpoint has no signature by {name}+{key_id}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token")
    parser.add_argument("--public-key")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    base = args.url.rstrip("/")

    text, signatures, origin, size, root = parse_note(fetch(f"{base}/checkpoint").decode())
    signed = check_signature(text, signatures, args.public_key) if args.public_key else False

    # Level by level: level l has size // 256**l hashes; the full tiles of a level hash to the
    # hashes of the level above, and the rest (a partial tile) are the ragged right edge.
    level, peaks, tiles_read, level0 = 0, [], 0, {}
    below_roots = None
    while size // WIDTH**level > 0:
        count = size // WIDTH**level
        hashes = []
        for n in range((count + WIDTH - 1) // WIDTH):
            width = min(WIDTH, count - n * WIDTH)
            data = fetch(f"{base}/{tile_path(level, n, width)}")
            tiles_read += 1
            if len(data) != 32 * width:
                fail(f"{tile_path(level, n, width)} is {len(data)} bytes, not {32 * width}")
            tile = [data[i : i + 32] for i in range(0, len(data), 32)]
            if level == 0:
                level0[n] = tile
            hashes.extend(tile)
        if below_roots is not None and hashes != below_roots:
            fail(f"the level-{level} tiles are not the hashes of the full level-{level - 1} tiles")
        full = count // WIDTH * WIDTH
        below_roots = [mth(hashes[i : i + WIDTH]) for i in range(0, full, WIDTH)]
        # The hashes of this level after the last full tile are complete subtrees of height
        # 8*level: peaks of the tree, right of the peaks found above.
        peaks.insert(0, hashes[full:])
        level += 1
    # Combine the leftover hashes of every level, the highest first, into the subtree hashes of
    # the set bits of the size, then fold them into the root.
    subtrees = []
    for level_peaks in peaks:
        subtrees.extend(split_into_powers(level_peaks))
    computed = root_of(subtrees)
    if computed != root:
        fail(f"the root from the tiles is {computed.hex()}, the checkpoint's {root.hex()}")

    rng = random.Random(args.seed)
    samples = sorted(rng.sample(range(size), min(args.samples, size)))
    for index in samples:
        n, at = divmod(index, WIDTH)
        width = min(WIDTH, size - n * WIDTH)
        bundle = fetch(f"{base}/{tile_path('entries', n, width)}", args.token)
        entries, offset = [], 0
        while offset < len(bundle):  # big-endian uint16 lengths
            length = int.from_bytes(bundle[offset : offset + 2], "big")
            entries.append(bundle[offset + 2 : offset + 2 + length])
            offset += 2 + length
        if len(entries) != width or offset != len(bundle):
            fail(f"the bundle of entry {index} does not hold {width} length-prefixed entries")
        if leaf_hash(entries[at]) != level0[n][at]:
            fail(f"entry {index} does not hash to its leaf in tile/0")
    print(
        f"ok: {origin}, tree size {size}, root {root.hex()} recomputed from {tiles_read} tiles, "
        f"{len(samples)} entries in their bundles, signature {'checked' if signed else 'not checked'}"
    )


def split_into_powers(hashes):
    """A partial tile's leftover hashes as complete subtrees: groups of 128, 64, ... 1 hashes
    (the set bits of their count, largest first), each hashed into one."""
    out, start, count = [], 0, len(hashes)
    for bit in reversed(range(8)):
        if count >> bit & 1:
            out.append(mth(hashes[start : start + (1 << bit)]))
            start += 1 << bit
    return out


if __name__ == "__main__":
    main()
