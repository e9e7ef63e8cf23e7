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
trusted public key signed an entry of the chain, and checks a checkpoint.
It reads every payload against the rules of §4 and §5 of the format (the
members of each action in their order, their types and ranges, and the
rules that tie entries together: members, transactions, reversals, refunds,
holds, approvals, member status, tiers and benefits, the program in force)
and the operator rules of §6 (each entry's actor was an active operator
whose role allowed the action, once any operator exists). It recomputes
every member's balance as the sum of the `points` of the entries whose
payload names a `member` and carries `points`. With --balances (a JSON
object member -> expected balance) it compares those too.

Prints one JSON object: {"ok", "entries", "head_seq", "head_hash",
"balances", "first_bad_seq", "error"}. Exit status 0 when everything holds,
1 when anything fails (2 for usage errors).
"""

import argparse
import datetime
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
ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")          # members, references, reason codes, tier codes
ACTOR = re.compile(r"[A-Za-z0-9._:@-]{1,64}\Z")      # actors and operator names
CURRENCY = re.compile(r"[A-Z]{3}\Z")

POINTS_MAX = 10 ** 12           # the largest points figure of a request
AMOUNT_MAX = 10 ** 15           # the largest amount in minor units
US_PER_SECOND = 1000000
US_PER_DAY = 86400 * US_PER_SECOND

ROLES = ("checkout", "support", "supervisor", "auditor", "admin")
SUPPORT_ACTIONS = {"member_add", "adjust", "adjust_request", "reverse", "member_freeze",
                   "member_unfreeze", "member_close", "tier_change:manual"}
ROLE_ACTIONS = {
    "checkout": {"member_add", "award", "redeem", "hold", "capture", "release", "refund",
                 "benefit_claim"},
    "support": SUPPORT_ACTIONS,
    "supervisor": SUPPORT_ACTIONS | {"approve", "reject"},
    "auditor": set(),
    # admin: every action (see permitted())
}

# program_load: the optional members of `program`, in canonical order, with default and range
PROGRAM_OPTIONAL = (("pending_days", 0, 0, 3650),
                    ("expiry_days", 0, 0, 36500),
                    ("hold_ttl_seconds", 900, 60, 2592000),
                    ("tier_window_days", 365, 1, 3650),
                    ("approval_threshold", 0, 0, POINTS_MAX))
PERIODS = ("day", "week", "month", "year")

# The members of each payload in their order: (name, required). Optional members are
# present only in the cases of §4, checked by each action's own rule.
LAYOUTS = {
    "genesis": (("public_key", True), ("key_id", True)),
    "key_rotate": (("public_key", True), ("key_id", True), ("previous_key_id", True)),
    "program_load": (("version", True), ("program", True)),
    "operator_add": (("operator", True), ("role", True)),
    "operator_disable": (("operator", True),),
    "member_add": (("member", True),),
    "award": (("tx", True), ("member", True), ("ref", True), ("amount", False),
              ("multiplier_permille", False), ("points", True), ("reason", False), ("upgrade", False)),
    "redeem": (("tx", True), ("member", True), ("ref", True), ("points", True)),
    "adjust": (("tx", True), ("member", True), ("ref", True), ("points", True), ("reason", True),
               ("note", False)),
    "reverse": (("tx", True), ("member", True), ("ref", True), ("reverses", True), ("points", True),
                ("reason", True)),
    "refund": (("tx", True), ("member", True), ("ref", True), ("order", True), ("amount", True),
               ("points", True)),
    "hold": (("member", True), ("ref", True), ("held", True), ("expires_us", True)),
    "capture": (("tx", True), ("member", True), ("ref", True), ("points", True), ("released", True)),
    "release": (("member", True), ("ref", True), ("released", True)),
    "hold_lapse": (("member", True), ("ref", True), ("lapsed", True)),
    "expire": (("tx", True), ("member", True), ("ref", True), ("points", True)),
    "member_freeze": (("member", True), ("reason", True)),
    "member_unfreeze": (("member", True), ("reason", True)),
    "member_close": (("tx", False), ("member", True), ("ref", False), ("points", False),
                     ("reason", True), ("holds_released", True)),
    "tier_change": (("member", True), ("from", False), ("to", True), ("cause", True),
                    ("qualifying", True), ("reason", False)),
    "benefit_claim": (("member", True), ("ref", True), ("benefit", True), ("tier", True)),
    "adjust_request": (("approval", True), ("member", True), ("ref", True), ("requested", True),
                       ("reason", True), ("note", False)),
    "approve": (("tx", True), ("member", True), ("ref", True), ("points", True), ("reason", True),
                ("note", False), ("approval", True), ("requested_by", True)),
    "reject": (("approval", True), ("member", True), ("ref", True), ("reason", True)),
}
KNOWN_ACTIONS = set(LAYOUTS)


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


def valid_text(value, max_bytes):
    """Free text: 1..max_bytes bytes of UTF-8, no control characters (U+0000-U+001F, U+007F)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:   # lone surrogates
        return False
    return size <= max_bytes and not any(ord(c) < 0x20 or ord(c) == 0x7f for c in value)


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


def period_start_us(period, ts_us):
    """The start (UTC, microseconds) of the calendar period holding ts_us (§4 benefit_claim)."""
    epoch = datetime.datetime(1970, 1, 1)
    try:
        t = epoch + datetime.timedelta(seconds=ts_us // US_PER_SECOND)
    except OverflowError:
        return None
    day = datetime.datetime(t.year, t.month, t.day)
    if period == "week":
        day -= datetime.timedelta(days=day.weekday())   # back to Monday
    elif period == "month":
        day = day.replace(day=1)
    elif period == "year":
        day = day.replace(month=1, day=1)
    delta = day - epoch
    return (delta.days * 86400 + delta.seconds) * US_PER_SECOND


class Ledger:
    """What the entries so far say: the state needed to check the next entry (§4-§6)."""

    def __init__(self, balances):
        self.balances = balances          # member -> balance (the verifier's output)
        self.status = {}                  # member -> active | frozen | closed
        self.tier = {}                    # member -> tier code or None
        self.program = None               # the program in force (the payload's object)
        self.version = 0
        self.operators = {}               # name -> [role, active]
        self.last_tx = 0
        self.txs = {}                     # tx -> posting record (dict)
        self.refs = {}                    # (kind, ref) -> tx (journal references)
        self.awards = {}                  # (member, award ref) -> tx
        self.holds = {}                   # ref -> hold record (dict)
        self.claims = set()               # claim references
        self.claim_counts = {}            # (member, benefit, period start) -> claims
        self.approvals = {}               # id -> request record (dict)
        self.last_approval = 0

    # --- helpers -----------------------------------------------------------------

    def fail(self, message):
        raise Failure("entry %d (%s): %s" % (self.seq, self.action, message), self.seq)

    def check(self, condition, message):
        if not condition:
            self.fail(message)

    def integer(self, p, name, low=None, high=None):
        v = p.get(name)
        self.check(is_int(v), "%s is not an integer" % name)
        self.check((low is None or v >= low) and (high is None or v <= high),
                   "%s %d is out of range" % (name, v))
        return v

    def code(self, p, name):
        v = p.get(name)
        self.check(isinstance(v, str) and ID.match(v) is not None,
                   "%s is not a code of 1 to 64 characters of A-Z a-z 0-9 . _ : -" % name)
        return v

    def text(self, p, name, max_bytes):
        v = p.get(name)
        self.check(valid_text(v, max_bytes), "%s is not 1 to %d bytes of text" % (name, max_bytes))
        return v

    def layout(self, p):
        """The payload's members are exactly the documented ones, in the documented order."""
        spec = LAYOUTS[self.action]
        expected = [name for name, required in spec if required or name in p]
        self.check(list(p) == expected, "payload members %s, expected %s in this order"
                   % (",".join(p), ",".join(expected)))

    def member(self, p, allow_closed=False):
        m = self.code(p, "member")
        self.check(m in self.status, "names member %s, who was never added" % m)
        self.check(allow_closed or self.status[m] != "closed", "member %s is closed" % m)
        return m

    def require_active(self, m):
        self.check(self.status[m] == "active", "member %s is %s" % (m, self.status[m]))

    def new_ref(self, kind, ref):
        self.check((kind, ref) not in self.refs, "%s reference %s was used before" % (kind, ref))

    def tiers(self):
        return self.program.get("tiers", []) if self.program else []

    def tier_position(self, code):
        for i, t in enumerate(self.tiers()):
            if t["code"] == code:
                return i
        return -1

    def effective_tier(self, m):
        """The member's tier when the ladder in force has it, else the first tier; None without tiers."""
        tiers = self.tiers()
        if not tiers:
            return None
        i = self.tier_position(self.tier.get(m))
        return tiers[i if i >= 0 else 0]

    def posting(self, p, kind, m, points):
        """A journal transaction: a new tx above every earlier one, a new (kind, ref); moves points."""
        tx = self.integer(p, "tx", 1)
        self.check(tx > self.last_tx, "tx %d does not follow tx %d" % (tx, self.last_tx))
        ref = p["ref"]
        self.new_ref(kind, ref)
        self.last_tx = tx
        self.refs[(kind, ref)] = tx
        record = {"member": m, "points": points, "kind": kind, "reversed": False, "refunded": 0}
        self.txs[tx] = record
        self.balances[m] += points
        return record

    def open_hold(self, p, m):
        ref = self.code(p, "ref")
        h = self.holds.get(ref)
        self.check(h is not None, "no hold %s" % ref)
        self.check(h["open"], "hold %s is not open" % ref)
        self.check(h["member"] == m, "hold %s is member %s's" % (ref, h["member"]))
        return h

    # --- operators (§6) --------------------------------------------------------------

    def permitted(self, actor, action, p):
        if not self.operators:
            return                          # no operator registered yet: open
        op = self.operators.get(actor)
        self.check(op is not None, "actor %s is not a registered operator" % actor)
        role, active = op
        self.check(active, "operator %s is disabled" % actor)
        if role == "admin":
            return
        what = action
        if action == "tier_change":
            what = "tier_change:manual" if p.get("cause") == "manual" else "tier_change:evaluate"
        if action == "reject":
            a = self.approvals.get(p["approval"]) if is_int(p.get("approval")) else None
            if a is not None and a["requested_by"] == actor:
                return                      # the requester withdraws their own request
        self.check(what in ROLE_ACTIONS[role], "operator %s (role %s) may not %s"
                   % (actor, role, what.replace(":", " ")))

    # --- one entry -----------------------------------------------------------------

    def apply(self, seq, ts_us, actor, action, p):
        self.seq, self.action, self.ts_us, self.actor = seq, action, ts_us, actor
        self.check(ACTOR.match(actor) is not None, "actor %r is not a valid operator name" % actor)
        self.layout(p)
        self.permitted(actor, action, p)
        if action not in ("genesis", "key_rotate"):
            self.check(self.program is not None or action == "program_load",
                       "comes before the first program_load")
        getattr(self, "do_" + action)(p)

    def do_genesis(self, p):
        pass                                # checked with the chain

    def do_key_rotate(self, p):
        pass                                # checked with the chain

    def do_program_load(self, p):
        self.check(self.integer(p, "version") == self.version + 1,
                   "version is not %d" % (self.version + 1))
        prog = p["program"]
        self.check(isinstance(prog, dict), "program is not an object")
        names = ["currency", "minor_per_unit", "points_per_unit"] + \
            [n for n, _, _, _ in PROGRAM_OPTIONAL if n in prog] + \
            [n for n in ("tiers", "benefits") if n in prog]
        self.check(list(prog) == names, "program members %s, expected %s in this order"
                   % (",".join(prog), ",".join(names)))
        self.check(isinstance(prog["currency"], str) and CURRENCY.match(prog["currency"]) is not None,
                   "currency is not three upper-case letters")
        self.integer(prog, "minor_per_unit", 1, 1000000)
        self.integer(prog, "points_per_unit", 0, 1000000)
        for name, default, low, high in PROGRAM_OPTIONAL:
            if name in prog:
                self.integer(prog, name, low, high)
                self.check(prog[name] != default, "%s is present with its default value" % name)
        tiers, benefits = prog.get("tiers"), prog.get("benefits")
        self.check(tiers is None or (isinstance(tiers, list) and 1 <= len(tiers) <= 32),
                   "tiers is not a list of 1 to 32 tiers")
        self.check(benefits is None or (isinstance(benefits, list) and 1 <= len(benefits) <= 256),
                   "benefits is not a list of 1 to 256 benefits")
        defined = []
        for b in benefits or []:
            self.check(isinstance(b, dict), "a benefit is not an object")
            names = ["code", "name"] + (["limit", "period"] if "limit" in b else [])
            self.check(list(b) == names, "benefit members %s, expected %s" % (",".join(b), ",".join(names)))
            self.check(self.code(b, "code") not in defined, "benefit %s is defined twice" % b["code"])
            self.text(b, "name", 64)
            if "limit" in b:
                self.integer(b, "limit", 1, 1000000)
                self.check(b["period"] in PERIODS, "benefit %s has no valid period" % b["code"])
            defined.append(b["code"])
        codes, granted, previous = [], set(), -1
        for t in tiers or []:
            self.check(isinstance(t, dict), "a tier is not an object")
            self.check(list(t) == ["code", "name", "threshold", "multiplier_permille", "benefits"],
                       "tier members %s are not code,name,threshold,multiplier_permille,benefits"
                       % ",".join(t))
            self.check(self.code(t, "code") not in codes, "tier %s is defined twice" % t["code"])
            self.text(t, "name", 64)
            threshold = self.integer(t, "threshold", 0, POINTS_MAX)
            self.check(threshold == 0 if not codes else threshold > previous,
                       "tier %s: thresholds must start at 0 and increase" % t["code"])
            self.integer(t, "multiplier_permille", 1, 100000)
            self.check(isinstance(t["benefits"], list) and len(t["benefits"]) <= 256,
                       "tier %s: benefits is not a list" % t["code"])
            for c in t["benefits"]:
                self.check(isinstance(c, str) and c in defined,
                           "tier %s grants an undefined benefit" % t["code"])
            self.check(len(set(t["benefits"])) == len(t["benefits"]),
                       "tier %s grants a benefit twice" % t["code"])
            granted.update(t["benefits"])
            codes.append(t["code"])
            previous = threshold
        self.check(granted == set(defined), "a benefit is granted by no tier")
        self.program = prog
        self.version += 1

    def do_operator_add(self, p):
        name = p["operator"]
        self.check(isinstance(name, str) and ACTOR.match(name) is not None,
                   "operator is not a valid operator name")
        self.check(p["role"] in ROLES, "role is not one of %s" % ", ".join(ROLES))
        self.check(name not in self.operators, "operator %s exists already" % name)
        self.operators[name] = [p["role"], True]

    def do_operator_disable(self, p):
        name = p["operator"]
        op = self.operators.get(name)
        self.check(op is not None and op[1], "operator %r is not an active operator" % (name,))
        self.check(name != self.actor, "an operator cannot disable themselves")
        op[1] = False

    def do_member_add(self, p):
        m = self.code(p, "member")
        self.check(m not in self.status, "adds member %s a second time" % m)
        self.status[m] = "active"
        self.balances[m] = 0
        tiers = self.tiers()
        self.tier[m] = tiers[0]["code"] if tiers else None

    def do_award(self, p):
        m = self.member(p)
        self.code(p, "ref")
        points = self.integer(p, "points", 0, POINTS_MAX)
        self.check(("amount" in p) == ("multiplier_permille" in p),
                   "amount and multiplier_permille come together")
        if "reason" in p:
            self.text(p, "reason", 256)
        purchase = "amount" in p
        if purchase:
            amount = self.integer(p, "amount", 1, AMOUNT_MAX)
            multiplier = self.integer(p, "multiplier_permille", 1, 100000)
            tier = self.effective_tier(m)
            self.check(multiplier == (tier["multiplier_permille"] if tier else 1000),
                       "multiplier_permille is not the member's tier's")
            prog = self.program
            self.check(points == amount * prog["points_per_unit"] * multiplier
                       // (prog["minor_per_unit"] * 1000),
                       "points are not what the program in force earns for this amount")
        else:
            self.check(points >= 1, "a bonus award must credit at least 1 point")
            self.check("upgrade" not in p, "only a purchase award can carry an upgrade")
        record = self.posting(p, "award", m, points)
        if purchase:
            record["amount"] = amount
            record["refunded_amount"] = 0
            self.awards[(m, p["ref"])] = p["tx"]
        if "upgrade" in p:
            to = self.code(p, "upgrade")
            self.check(self.tier_position(to) > self.tier_position(self.tier.get(m)),
                       "upgrade %s is not a higher tier of the ladder in force" % to)
            self.tier[m] = to

    def do_redeem(self, p):
        m = self.member(p)
        self.require_active(m)
        self.code(p, "ref")
        self.posting(p, "redeem", m, self.integer(p, "points", -POINTS_MAX, -1))

    def do_adjust(self, p):
        m = self.member(p)
        self.code(p, "ref")
        points = self.integer(p, "points", -POINTS_MAX, POINTS_MAX)
        self.check(points != 0, "an adjustment must not be zero")
        self.code(p, "reason")
        if "note" in p:
            self.text(p, "note", 256)
        threshold = self.program.get("approval_threshold", 0)
        self.check(threshold == 0 or abs(points) <= threshold,
                   "an adjustment above the approval threshold needs an approval")
        self.check(("adjust", p["ref"]) not in self.refs and p["ref"] not in
                   {a["ref"] for a in self.approvals.values()},
                   "adjust reference %s was used before" % p["ref"])
        self.posting(p, "adjust", m, points)

    def do_reverse(self, p):
        m = self.member(p)
        self.code(p, "ref")
        self.code(p, "reason")
        points = self.integer(p, "points")
        target = self.txs.get(p.get("reverses")) if is_int(p.get("reverses")) else None
        self.check(target is not None and target["kind"] in ("award", "redeem", "adjust", "capture"),
                   "reverses no award, redemption, adjustment or capture")
        self.check(not target["reversed"], "transaction %d was reversed before" % p["reverses"])
        self.check(target["member"] == m, "names another member than transaction %d" % p["reverses"])
        self.check(target["refunded"] == 0 or target["refunded"] != target["points"],
                   "transaction %d was fully refunded: nothing is left to reverse" % p["reverses"])
        self.check(points == -(target["points"] - target["refunded"]),
                   "points are not the opposite of what is left of transaction %d" % p["reverses"])
        target["reversed"] = True
        self.posting(p, "reverse", m, points)

    def do_refund(self, p):
        m = self.member(p)
        self.code(p, "ref")
        order = self.code(p, "order")
        amount = self.integer(p, "amount", 1, AMOUNT_MAX)
        points = self.integer(p, "points", -POINTS_MAX, 0)
        tx = self.awards.get((m, order))
        self.check(tx is not None, "member %s has no purchase award %s" % (m, order))
        o = self.txs[tx]
        self.check(not o["reversed"], "order %s was reversed" % order)
        refunded = o["refunded_amount"] + amount
        self.check(refunded <= o["amount"], "refunds exceed the order's amount")
        self.check(-points == o["points"] * refunded // o["amount"] - o["refunded"],
                   "points are not the order's points in proportion to the amount refunded")
        o["refunded_amount"] = refunded
        o["refunded"] -= points
        self.posting(p, "refund", m, points)

    def do_hold(self, p):
        m = self.member(p)
        self.require_active(m)
        ref = self.code(p, "ref")
        self.check(ref not in self.holds, "hold reference %s was used before" % ref)
        held = self.integer(p, "held", 1, POINTS_MAX)
        expires = self.integer(p, "expires_us")
        self.check(expires == self.ts_us + self.program.get("hold_ttl_seconds", 900) * US_PER_SECOND,
                   "expires_us is not ts_us plus the program's hold_ttl_seconds")
        self.holds[ref] = {"member": m, "held": held, "expires_us": expires, "open": True}

    def do_capture(self, p):
        m = self.member(p)
        self.require_active(m)
        h = self.open_hold(p, m)
        self.check(self.ts_us < h["expires_us"], "hold %s had lapsed" % p["ref"])
        points = self.integer(p, "points", -h["held"], -1)
        self.check(self.integer(p, "released", 0) == h["held"] + points,
                   "released is not the held points left uncaptured")
        h["open"] = False
        self.posting(p, "capture", m, points)

    def do_release(self, p):
        m = self.member(p)
        h = self.open_hold(p, m)
        self.check(self.ts_us < h["expires_us"], "hold %s had lapsed" % p["ref"])
        self.check(self.integer(p, "released") == h["held"], "released is not the held points")
        h["open"] = False

    def do_hold_lapse(self, p):
        m = self.member(p, allow_closed=True)
        h = self.open_hold(p, m)
        self.check(self.ts_us >= h["expires_us"], "hold %s had not lapsed" % p["ref"])
        self.check(self.integer(p, "lapsed") == h["held"], "lapsed is not the held points")
        h["open"] = False

    def do_expire(self, p):
        m = self.member(p)
        self.check(p["ref"] == "expire-%d" % self.seq, "ref is not expire-%d" % self.seq)
        self.posting(p, "expire", m, self.integer(p, "points", None, -1))

    def do_member_freeze(self, p):
        m = self.member(p)
        self.code(p, "reason")
        self.check(self.status[m] == "active", "member %s is %s" % (m, self.status[m]))
        self.status[m] = "frozen"

    def do_member_unfreeze(self, p):
        m = self.member(p)
        self.code(p, "reason")
        self.check(self.status[m] == "frozen", "member %s is %s" % (m, self.status[m]))
        self.status[m] = "active"

    def do_member_close(self, p):
        m = self.member(p)
        self.code(p, "reason")
        forfeit = "points" in p
        self.check(("tx" in p) == forfeit and ("ref" in p) == forfeit,
                   "tx, ref and points come together")
        # holds already past their time stay open for the sweep to record as lapsed
        open_holds = [h for h in self.holds.values()
                      if h["member"] == m and h["open"] and h["expires_us"] > self.ts_us]
        self.check(self.integer(p, "holds_released", 0) == len(open_holds),
                   "holds_released is not the number of the member's open, unexpired holds")
        for h in open_holds:
            h["open"] = False
        if forfeit:
            self.check(p["ref"] == "close-" + m, "ref is not close-%s" % m)
            self.posting(p, "forfeit", m, self.integer(p, "points", None, -1))
        self.check(self.balances[m] <= 0, "points were left to member %s" % m)
        self.status[m] = "closed"

    def do_tier_change(self, p):
        m = self.member(p)
        to = self.code(p, "to")
        cause = p["cause"]
        self.check(cause in ("evaluate", "manual"), "cause is neither evaluate nor manual")
        self.check(("reason" in p) == (cause == "manual"), "a reason comes with a manual change only")
        if "reason" in p:
            self.code(p, "reason")
        self.integer(p, "qualifying", 0)
        current = self.tier.get(m)
        self.check(p.get("from") == current and ("from" in p) == (current is not None),
                   "from is not the member's tier")
        self.check(self.tier_position(to) >= 0, "tier %s is not in the ladder in force" % to)
        self.check(to != current, "the member is in tier %s already" % to)
        self.tier[m] = to

    def do_benefit_claim(self, p):
        m = self.member(p)
        self.require_active(m)
        ref = self.code(p, "ref")
        self.check(ref not in self.claims, "claim reference %s was used before" % ref)
        benefit = self.code(p, "benefit")
        tier = self.effective_tier(m)
        self.check(tier is not None and p["tier"] == tier["code"], "tier is not the member's tier")
        self.check(benefit in tier["benefits"], "tier %s does not grant %s" % (tier["code"], benefit))
        b = next(b for b in self.program["benefits"] if b["code"] == benefit)
        start = period_start_us(b["period"], self.ts_us) if "limit" in b else 0
        self.check(start is not None, "ts_us is out of the calendar's range")
        key = (m, benefit, start)
        self.check("limit" not in b or self.claim_counts.get(key, 0) < b["limit"],
                   "benefit %s was used up this %s" % (benefit, b.get("period")))
        self.claim_counts[key] = self.claim_counts.get(key, 0) + 1
        self.claims.add(ref)

    def do_adjust_request(self, p):
        approval = self.integer(p, "approval", 1)
        self.check(approval > self.last_approval, "approval %d does not follow %d"
                   % (approval, self.last_approval))
        m = self.member(p)
        ref = self.code(p, "ref")
        self.check(("adjust", ref) not in self.refs and ref not in
                   {a["ref"] for a in self.approvals.values()},
                   "adjust reference %s was used before" % ref)
        requested = self.integer(p, "requested", -POINTS_MAX, POINTS_MAX)
        threshold = self.program.get("approval_threshold", 0)
        self.check(threshold > 0 and abs(requested) > threshold,
                   "requested is not above the approval threshold")
        self.code(p, "reason")
        if "note" in p:
            self.text(p, "note", 256)
        self.last_approval = approval
        self.approvals[approval] = {"member": m, "ref": ref, "requested": requested,
                                    "reason": p["reason"], "note": p.get("note"),
                                    "requested_by": self.actor, "status": "pending"}

    def pending_approval(self, p, m):
        a = self.approvals.get(p["approval"]) if is_int(p["approval"]) else None
        self.check(a is not None, "approval %r was never requested" % (p["approval"],))
        self.check(a["status"] == "pending", "approval %d is %s" % (p["approval"], a["status"]))
        self.check(a["member"] == m and a["ref"] == p["ref"],
                   "member or ref differ from approval %d's" % p["approval"])
        return a

    def do_approve(self, p):
        m = self.member(p)
        a = self.pending_approval(p, m)
        self.check(self.integer(p, "points") == a["requested"] and p["reason"] == a["reason"]
                   and p.get("note") == a["note"], "differs from the adjustment requested")
        self.check(p["requested_by"] == a["requested_by"], "requested_by is not the requester")
        self.check(self.actor != a["requested_by"], "the requester cannot approve their own request")
        a["status"] = "approved"
        self.posting(p, "adjust", m, p["points"])

    def do_reject(self, p):
        m = self.member(p, allow_closed=True)
        a = self.pending_approval(p, m)
        self.code(p, "reason")
        a["status"] = "rejected"


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
    ledger = Ledger(balances)
    key = None                # public key in force
    key_id = None
    signing_keys = set()      # keys that signed at least one entry
    prev = ZERO_HASH
    expected_seq = 1
    checkpoint_seen = False

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
            ledger.apply(seq, e["ts_us"], e["actor"], action, payload)

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
