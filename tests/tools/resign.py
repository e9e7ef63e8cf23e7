#!/usr/bin/python3
"""Re-signs a whole loyalty ledger with keys of the attacker's own (a tamper tool).

    resign.py DB [--seed HEX64] [--pubkey-out FILE] [--append-rotation-to HEX64]

Plays an attacker who has write access to the database file but not the
ledger's secret keys: it rewrites the audit chain of DB (in place) as if the
ledger had been created with a fresh key, following docs/AUDIT_FORMAT.md only
(no loyalty code). Every key of the chain (the genesis key and each key named
by a key_rotate entry) is replaced by a new attacker key; the genesis and
rotation payloads are rewritten to name them, every hash is recomputed, every
entry re-signed with the attacker key in force, and the signing_keys table is
updated to match. The result is a consistent chain that plain `loyalty
verify` accepts, but that `loyalty verify --pubkey ORIGINAL` must reject.

--append-rotation-to HEX64 also appends a key_rotate entry (signed by the
attacker's key) that merely *names* the given public key, e.g. the original
ledger key, so that the trusted key appears in the chain without ever having
signed anything.

--pubkey-out FILE writes the attacker's genesis public key as a public key
file. Prints a JSON summary on stdout.
"""

import argparse
import hashlib
import json
import sqlite3
import struct
import sys

import nacl.signing

AUDIT_TAG = b"loyalty-audit-v1\x00"


def blake2b_256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def lp(data):
    return struct.pack(">I", len(data)) + data


def entry_hash(seq, ts_us, actor, action, payload, prev):
    msg = (AUDIT_TAG + struct.pack(">Q", seq) + struct.pack(">q", ts_us)
           + lp(actor.encode()) + lp(action.encode()) + lp(payload.encode()) + prev)
    return blake2b_256(msg)


def key_id_of(public_key):
    return blake2b_256(public_key)[:8].hex()


def new_key(seed=None):
    key = nacl.signing.SigningKey(seed) if seed else nacl.signing.SigningKey.generate()
    public = bytes(key.verify_key)
    return {"signing": key, "public": public, "hex": public.hex(), "id": key_id_of(public)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("--seed", help="64 hex characters: seed of the attacker's genesis key")
    parser.add_argument("--pubkey-out", help="write the attacker's genesis public key here")
    parser.add_argument("--append-rotation-to", metavar="HEX64",
                        help="append a key_rotate entry naming this public key")
    args = parser.parse_args()

    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    rows = db.execute("SELECT seq, ts_us, actor, action, payload, key_id FROM audit ORDER BY seq").fetchall()
    if not rows or rows[0][3] != "genesis":
        sys.exit("resign.py: %s has no genesis entry" % args.db)

    # One attacker key for each key of the original chain, in order.
    replaced = {}        # original hex / id -> attacker hex / id
    attacker_keys = []   # in chain order
    for seq, _, _, action, payload, _ in rows:
        if action in ("genesis", "key_rotate"):
            original = json.loads(payload)
            k = new_key(bytes.fromhex(args.seed) if args.seed and action == "genesis" else None)
            replaced[original["public_key"]] = k["hex"]
            replaced[original["key_id"]] = k["id"]
            attacker_keys.append((seq, k))

    prev = bytes(32)
    in_force = None
    for seq, ts_us, actor, action, payload, _ in rows:
        if action in ("genesis", "key_rotate"):
            for old, new in replaced.items():   # hex strings of fixed length: a textual swap
                payload = payload.replace('"%s"' % old, '"%s"' % new)
        if action == "genesis":
            in_force = attacker_keys[0][1]
        h = entry_hash(seq, ts_us, actor, action, payload, prev)
        sig = in_force["signing"].sign(h).signature
        db.execute("UPDATE audit SET payload = ?, prev_hash = ?, hash = ?, key_id = ?, sig = ? WHERE seq = ?",
                   (payload, prev, h, in_force["id"], sig, seq))
        if action == "key_rotate":
            in_force = next(k for s, k in attacker_keys if s == seq)
        prev = h
        last = (seq, ts_us, actor)

    for key_id, public_key, from_seq in db.execute(
            "SELECT key_id, public_key, from_seq FROM signing_keys ORDER BY from_seq").fetchall():
        new = next(k for s, k in attacker_keys if (s == 1 and from_seq == 1) or s + 1 == from_seq)
        db.execute("UPDATE signing_keys SET key_id = ?, public_key = ? WHERE from_seq = ?",
                   (new["id"], new["public"], from_seq))

    appended = None
    if args.append_rotation_to:
        target = bytes.fromhex(args.append_rotation_to)
        seq, ts_us, actor = last[0] + 1, last[1] + 1, last[2]
        payload = json.dumps({"public_key": target.hex(), "key_id": key_id_of(target),
                              "previous_key_id": in_force["id"]}, separators=(",", ":"))
        h = entry_hash(seq, ts_us, actor, "key_rotate", payload, prev)
        sig = in_force["signing"].sign(h).signature
        db.execute("INSERT INTO audit (seq, ts_us, actor, action, payload, prev_hash, hash, key_id, sig)"
                   " VALUES (?, ?, ?, 'key_rotate', ?, ?, ?, ?, ?)",
                   (seq, ts_us, actor, payload, prev, h, in_force["id"], sig))
        db.execute("INSERT INTO signing_keys (key_id, public_key, from_seq) VALUES (?, ?, ?)",
                   (key_id_of(target), target, seq + 1))
        appended = seq
    db.execute("COMMIT")
    db.close()

    genesis = attacker_keys[0][1]
    if args.pubkey_out:
        with open(args.pubkey_out, "w") as f:
            f.write("# attacker's genesis key\n%s\n" % genesis["hex"])
    print(json.dumps({"entries": len(rows), "keys_replaced": len(attacker_keys),
                      "genesis_public_key": genesis["hex"], "appended_rotation_seq": appended}))


if __name__ == "__main__":
    main()
