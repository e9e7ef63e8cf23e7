#!/usr/bin/python3
"""An independent verifier of a loyalty audit export (docs/AUDIT_FORMAT.md).

Written from docs/AUDIT_FORMAT.md alone: it uses no loyalty code, only the
Python standard library (hashlib's BLAKE2b) and PyNaCl (Debian python3-nacl)
for Ed25519. Run it with /usr/bin/python3.

    verify_export.py EXPORT.jsonl [--pubkey FILE] [--checkpoint FILE] [--balances FILE]

It checks that the export is a complete chain (seq 1, 2, 3, ... without
gaps, each `prev` equal to the previous `hash`), recomputes every hash from
the exported fields, verifies every Ed25519 signature under the key in
force (genesis key, following key_rotate entries), optionally checks that a
trusted public key is one of the chain's signing keys, checks a checkpoint,
and recomputes every member's balance as the sum of the `points` of the
entries whose payload names a `member`. With --balances (a JSON object
member -> expected balance) it compares those too.

Prints one JSON object: {"ok", "entries", "head_seq", "head_hash",
"balances", "first_bad_seq", "error"}. Exit status 0 when everything holds,
1 when anything fails (2 for usage errors).
"""

import argparse
import hashlib
import json
import re
import struct
import sys

try:
    import nacl.exceptions
    import nacl.signing
except ImportError:  # pragma: no cover - reported as a failure, not a traceback
    sys.stdout.write(json.dumps({"ok": False, "entries": 0, "balances": {},
                                 "error": "PyNaCl is missing (apt-get install python3-nacl)"}) + "\n")
    sys.exit(1)

AUDIT_TAG = b"loyalty-audit-v1\x00"
CHECKPOINT_TAG = b"loyalty-checkpoint-v1\x00"
ZERO_HASH = bytes(32)
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
U64_MAX = (1 << 64) - 1

HEX64 = re.compile(r"[0-9a-f]{64}\Z")
HEX16 = re.compile(r"[0-9a-f]{16}\Z")
HEX128 = re.compile(r"[0-9a-f]{128}\Z")
MEMBER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
KNOWN_ACTIONS = {"genesis", "program_load", "member_add", "award", "redeem", "adjust", "reverse",
                 "key_rotate"}
POSTINGS = {"award", "redeem", "adjust", "reverse"}


class Failure(Exception):
    """A verification failure, at an entry (seq) or not (seq None)."""

    def __init__(self, message, seq=None):
        super().__init__(message)
        self.seq = seq


def blake2b_256(data):
    return hashlib.blake2b(data, digest_size=32).digest()


def lp(data):
    return struct.pack(">I", len(data)) + data


def entry_hash(seq, ts_us, actor, action, payload, prev):
    msg = (AUDIT_TAG + struct.pack(">Q", seq) + struct.pack(">q", ts_us)
           + lp(actor) + lp(action) + lp(payload) + prev)
    return blake2b_256(msg)


def checkpoint_digest(seq, ts_us, head_hash):
    return blake2b_256(CHECKPOINT_TAG + struct.pack(">Q", seq) + struct.pack(">q", ts_us) + head_hash)


def key_id_of(public_key):
    return blake2b_256(public_key)[:8].hex()


def signature_ok(public_key, message, signature):
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError, TypeError):
        return False


def no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError("duplicate member %r" % key)
        obj[key] = value
    return obj


def strict_json(text):
    return json.loads(text, object_pairs_hook=no_duplicates)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --- inputs -------------------------------------------------------------------

def read_public_key_file(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not re.fullmatch(r"[0-9a-fA-F]{64}", line):
                raise Failure("%s: the key line is not 64 hex characters" % path)
            return bytes.fromhex(line)
    raise Failure("%s: no public key line" % path)


CHECKPOINT_RE = re.compile(
    r"loyalty-checkpoint-v1\n"
    r"seq (?P<seq>[1-9][0-9]*)\n"
    r"ts_us (?P<ts_us>-?[0-9]+)\n"
    r"hash (?P<hash>[0-9a-f]{64})\n"
    r"key (?P<key>[0-9a-f]{16})\n"
    r"sig (?P<sig>[0-9a-f]{128})\n\Z")


def read_checkpoint(path):
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Failure("%s: the checkpoint is not ASCII text" % path)
    m = CHECKPOINT_RE.match(text)
    if m is None:
        raise Failure("%s: the checkpoint does not have the six lines of the format" % path)
    seq, ts_us = int(m.group("seq")), int(m.group("ts_us"))
    if seq > U64_MAX or not I64_MIN <= ts_us <= I64_MAX:
        raise Failure("%s: seq or ts_us is out of range" % path)
    return {"seq": seq, "ts_us": ts_us, "hash": bytes.fromhex(m.group("hash")),
            "key": m.group("key"), "sig": bytes.fromhex(m.group("sig"))}


LINE_FIELDS = ("seq", "ts_us", "actor", "action", "payload", "prev", "hash", "key", "sig")


def parse_line(text, expected_seq):
    try:
        entry = strict_json(text)
    except ValueError as e:
        raise Failure("line for entry %d is not valid JSON: %s" % (expected_seq, e), expected_seq)
    if not isinstance(entry, dict):
        raise Failure("line for entry %d is not a JSON object" % expected_seq, expected_seq)
    seq = entry.get("seq")
    where = seq if is_int(seq) else expected_seq
    for field in LINE_FIELDS:
        if field not in entry:
            raise Failure("entry %s has no %r" % (where, field), where)
    if not is_int(seq) or not 1 <= seq <= U64_MAX:
        raise Failure("entry %s: seq is not a positive integer" % where, where)
    if not is_int(entry["ts_us"]) or not I64_MIN <= entry["ts_us"] <= I64_MAX:
        raise Failure("entry %d: ts_us is not a 64-bit integer" % seq, seq)
    for field in ("actor", "action", "payload"):
        if not isinstance(entry[field], str):
            raise Failure("entry %d: %s is not a string" % (seq, field), seq)
    for field, pattern in (("prev", HEX64), ("hash", HEX64), ("key", HEX16), ("sig", HEX128)):
        if not isinstance(entry[field], str) or not pattern.match(entry[field]):
            raise Failure("entry %d: %s is not lower-case hex of the right length" % (seq, field), seq)
    try:
        for field in ("actor", "action", "payload"):
            entry[field + "_bytes"] = entry[field].encode("utf-8")
    except UnicodeEncodeError:
        raise Failure("entry %d: a text field is not valid Unicode" % seq, seq)
    return entry


# --- the chain ------------------------------------------------------------------

def public_key_field(payload, seq):
    hex_key = payload.get("public_key")
    if not isinstance(hex_key, str) or not HEX64.match(hex_key):
        raise Failure("entry %d names no valid public key" % seq, seq)
    key = bytes.fromhex(hex_key)
    if payload.get("key_id") != key_id_of(key):
        raise Failure("entry %d: key_id is not the id of its public key" % seq, seq)
    return key


def posting_fields(payload, action, seq, members):
    member, points = payload.get("member"), payload.get("points")
    if not isinstance(member, str) or not MEMBER_ID.match(member):
        raise Failure("entry %d (%s) names no valid member" % (seq, action), seq)
    if not is_int(points):
        raise Failure("entry %d (%s) has no integer points" % (seq, action), seq)
    if member not in members:
        raise Failure("entry %d (%s) names member %s, who was never added" % (seq, action, member), seq)
    if action == "redeem" and points >= 0:
        raise Failure("entry %d: a redemption must have negative points" % seq, seq)
    if action == "award" and points < 0:
        raise Failure("entry %d: an award must not have negative points" % seq, seq)
    if action == "adjust" and points == 0:
        raise Failure("entry %d: an adjustment must not be zero" % seq, seq)
    return member, points


def verify(args, state):
    """Checks everything; fills state (entries, head_seq, head_hash, balances) as it goes."""
    trusted = read_public_key_file(args.pubkey) if args.pubkey else None
    checkpoint = read_checkpoint(args.checkpoint) if args.checkpoint else None
    expected_balances = None
    if args.balances:
        with open(args.balances, encoding="utf-8") as f:
            try:
                expected_balances = strict_json(f.read())
            except ValueError as e:
                raise Failure("%s is not valid JSON: %s" % (args.balances, e))
        if not isinstance(expected_balances, dict) or not all(
                is_int(v) for v in expected_balances.values()):
            raise Failure("%s must be a JSON object of member -> integer balance" % args.balances)

    balances = state["balances"]
    key = None                # public key in force
    key_id = None
    signing_keys = set()      # keys that signed at least one entry
    prev = ZERO_HASH
    expected_seq = 1
    checkpoint_seen = False
    tx_members = {}           # tx -> (member, points, action), to check reversals

    with open(args.export, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                raise Failure("line %d does not end with a newline (truncated export?)" % number,
                              expected_seq)
            try:
                text = raw[:-1].decode("utf-8")
            except UnicodeDecodeError:
                raise Failure("line %d is not valid UTF-8" % number, expected_seq)
            e = parse_line(text, expected_seq)
            seq = e["seq"]
            if seq != expected_seq:
                raise Failure("expected entry %d, found entry %d (entries missing or out of order)"
                              % (expected_seq, seq), expected_seq)
            if bytes.fromhex(e["prev"]) != prev:
                raise Failure("entry %d does not link to the previous entry's hash" % seq, seq)
            h = entry_hash(seq, e["ts_us"], e["actor_bytes"], e["action_bytes"], e["payload_bytes"], prev)
            if h.hex() != e["hash"]:
                raise Failure("entry %d: hash does not match the entry's content" % seq, seq)
            action = e["action"]
            if action not in KNOWN_ACTIONS:
                raise Failure("entry %d: unknown action %r" % (seq, action), seq)
            try:
                payload = strict_json(e["payload"])
            except ValueError as ex:
                raise Failure("entry %d: payload is not valid JSON: %s" % (seq, ex), seq)
            if not isinstance(payload, dict):
                raise Failure("entry %d: payload is not a JSON object" % seq, seq)

            if seq == 1:
                if action != "genesis":
                    raise Failure("entry 1 is not a genesis entry", 1)
                key = public_key_field(payload, 1)
                key_id = key_id_of(key)
            elif action == "genesis":
                raise Failure("entry %d: a second genesis entry" % seq, seq)

            if e["key"] != key_id:
                raise Failure("entry %d is signed with key %s but key %s is in force"
                              % (seq, e["key"], key_id), seq)
            if not signature_ok(key, h, bytes.fromhex(e["sig"])):
                raise Failure("entry %d: signature does not verify" % seq, seq)
            signing_keys.add(key)

            if action == "key_rotate":
                if payload.get("previous_key_id") != key_id:
                    raise Failure("entry %d: previous_key_id is not the key in force" % seq, seq)
                key = public_key_field(payload, seq)   # in force from the next entry on
                key_id = key_id_of(key)
            elif action == "member_add":
                member = payload.get("member")
                if not isinstance(member, str) or not MEMBER_ID.match(member):
                    raise Failure("entry %d: member_add names no valid member" % seq, seq)
                if member in balances:
                    raise Failure("entry %d adds member %s a second time" % (seq, member), seq)
                balances[member] = 0
            elif action in POSTINGS:
                member, points = posting_fields(payload, action, seq, balances)
                tx = payload.get("tx")
                if not is_int(tx) or tx in tx_members:
                    raise Failure("entry %d: tx is missing or reused" % seq, seq)
                if action == "reverse":
                    target = tx_members.get(payload.get("reverses"))
                    if target is None or target[2] == "reverse" or target[3]:
                        raise Failure("entry %d reverses no reversible transaction" % seq, seq)
                    if target[0] != member or target[1] != -points:
                        raise Failure("entry %d does not compensate transaction %s exactly"
                                      % (seq, payload.get("reverses")), seq)
                    target[3] = True
                tx_members[tx] = [member, points, action, False]
                balances[member] += points
            elif "points" in payload or "member" in payload:
                raise Failure("entry %d (%s) carries member/points unexpectedly" % (seq, action), seq)

            if checkpoint is not None and checkpoint["seq"] == seq:
                checkpoint_seen = True
                if checkpoint["hash"] != h or checkpoint["ts_us"] != e["ts_us"]:
                    raise Failure("entry %d differs from the checkpoint taken at it" % seq, seq)
                # signed by the key in force after this entry (after a rotation: the new key)
                if checkpoint["key"] != key_id or not signature_ok(
                        key, checkpoint_digest(seq, e["ts_us"], h), checkpoint["sig"]):
                    raise Failure("the checkpoint's signature does not verify", seq)

            prev = h
            expected_seq += 1
            state["entries"] += 1
            state["head_seq"] = seq
            state["head_hash"] = h.hex()

    if state["entries"] == 0:
        raise Failure("the export holds no entries", 1)
    if checkpoint is not None and not checkpoint_seen:
        raise Failure("the chain ends at entry %d but the checkpoint names entry %d: entries were removed"
                      % (state["head_seq"], checkpoint["seq"]), state["head_seq"] + 1)
    if trusted is not None and trusted not in signing_keys:
        raise Failure("the trusted public key %s signed no entry of this chain" % key_id_of(trusted), 1)
    if expected_balances is not None:
        for member, expected in sorted(expected_balances.items()):
            actual = balances.get(member)
            if actual != expected:
                raise Failure("member %s: the log gives balance %s, expected %d"
                              % (member, actual, expected))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the JSON Lines export (loyalty audit export)")
    parser.add_argument("--pubkey", help="trusted public key file")
    parser.add_argument("--checkpoint", help="checkpoint file (loyalty audit checkpoint)")
    parser.add_argument("--balances", help="JSON object of member -> expected balance")
    args = parser.parse_args(argv)
    result = {"ok": False, "entries": 0, "head_seq": 0, "head_hash": None, "balances": {},
              "first_bad_seq": None, "error": None}
    try:
        verify(args, result)
        result["ok"] = True
    except Failure as f:
        result["error"] = str(f)
        result["first_bad_seq"] = f.seq
    except (OSError, UnicodeDecodeError) as e:
        result["error"] = str(e)
    sys.stdout.write(json.dumps(result, sort_keys=False) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
