/*
 * writer.c - the process the crash driver kills. It performs a random mix
 * of awards (purchases and bonuses), redemptions, holds, captures,
 * releases, refunds, adjustments, reversals, small batches and the odd key
 * rotation, each with a reference unique to this run, and records every
 * call in its operation log (crash_common.h): the intent before the call,
 * and after it either the acknowledgement (fsynced before going on) or the
 * refusal. It never stops by itself before --ops calls: the driver's
 * SIGKILL ends it at a random moment.
 *
 *   crash_writer --db PATH --init            create the ledger, operators, members
 *   crash_writer --db PATH --log PATH --seed N --run N [--ops MAX]
 *
 * Checkout work (award, redeem, hold, capture, release, refund) goes
 * through the checkout operator; corrections, batches and rotations
 * through the admin who created the ledger.
 */
#include "crash_common.h"

/* What this run may act on later: bounded lists of its own acknowledged work. */
#define TRACK_MAX 4096

typedef struct tracked {
    char ref[LOYALTY_ID_MAX + 1];
    int member;
    int64_t value;   /* hold: points held; order: amount; reversible: tx */
    int64_t used;    /* order: amount refunded so far */
} tracked;

typedef struct track_list {
    tracked items[TRACK_MAX];
    int count;
} track_list;

static struct writer {
    loyalty_ledger *clerk;
    loyalty_ledger *admin;
    int log;
    crash_rng rng;
    int64_t run;
    int64_t seq;     /* operations issued this run */
    int64_t batches;
    track_list holds;      /* open holds */
    track_list orders;     /* purchase awards with amount left to refund */
    track_list reversible; /* awards, redemptions and adjustments not yet reversed */
} w;

static void track(track_list *list, const char *ref, int member, int64_t value)
{
    if (list->count == TRACK_MAX)
        return;
    tracked *t = &list->items[list->count++];
    snprintf(t->ref, sizeof t->ref, "%s", ref);
    t->member = member;
    t->value = value;
    t->used = 0;
}

static void untrack(track_list *list, int index)
{
    list->items[index] = list->items[--list->count];
}

static void open_as(loyalty_ledger **out, const char *db, const char *actor)
{
    loyalty_open_options options = {.db_path = db, .actor = actor};
    if (loyalty_open(out, &options) != LOYALTY_OK)
        die("open as %s: %s", actor, loyalty_errmsg(*out));
}

static void check(loyalty_ledger *l, int rc, const char *what)
{
    if (rc != LOYALTY_OK)
        die("%s: %s (%s)", what, loyalty_result_name(rc), loyalty_errmsg(l));
}

static int init_ledger(const char *db)
{
    loyalty_open_options options = {.db_path = db, .actor = CRASH_ADMIN};
    loyalty_ledger *l = NULL;
    check(l, loyalty_create(&l, &options, CRASH_PROGRAM), "create");
    check(l, loyalty_operator_add(l, CRASH_CLERK, LOYALTY_ROLE_CHECKOUT, NULL), "operator");
    for (int i = 0; i < CRASH_MEMBERS; i++) {
        char member[16];
        member_name(member, i);
        check(l, loyalty_member_add(l, member, NULL, NULL), "member");
    }
    loyalty_close(l);
    return 0;
}

static void next_ref(char ref[LOYALTY_ID_MAX + 1])
{
    snprintf(ref, LOYALTY_ID_MAX + 1, "r%lld-%lld", (long long)w.run, (long long)++w.seq);
}

static void intent(int64_t batch, const char *kind, const char *ref, int member, int64_t amount,
                   int64_t points, const char *aux)
{
    char name[16] = "-";
    if (member >= 0)
        member_name(name, member);
    log_line(w.log, 0, "I %lld %s %s %s %lld %lld %s", (long long)batch, kind, or_dash(ref), name,
             (long long)amount, (long long)points, or_dash(aux));
}

/* Logs the outcome: acknowledged (fsynced) or refused. Returns rc. */
static int outcome(loyalty_ledger *l, int rc, const char *kind, const char *ref, int64_t points,
                   int replayed, int64_t tx)
{
    if (rc == LOYALTY_OK) {
        log_line(w.log, 1, "A %s %s %lld %d %lld", kind, or_dash(ref), (long long)points, replayed,
                 (long long)tx);
        if (replayed)
            die("%s %s was new but answered replayed", kind, ref);
        return rc;
    }
    /* Only refusals the writer cannot foresee are acceptable; anything else is a finding. */
    if (rc != LOYALTY_ERR_INSUFFICIENT && rc != LOYALTY_ERR_STATE)
        die("%s %s: %s (%s)", kind, ref, loyalty_result_name(rc), loyalty_errmsg(l));
    log_line(w.log, 0, "F %s %s %d", kind, or_dash(ref), rc);
    return rc;
}

static int64_t available_of(int member)
{
    char name[16];
    member_name(name, member);
    loyalty_member_info info;
    check(w.clerk, loyalty_member_get(w.clerk, name, &info), "member_get");
    return info.available;
}

static void do_award(void)
{
    char ref[LOYALTY_ID_MAX + 1], name[16];
    next_ref(ref);
    int member = (int)rng_range(&w.rng, 0, CRASH_MEMBERS - 1);
    member_name(name, member);
    int purchase = rng_chance(&w.rng, 70);
    int64_t amount = purchase ? rng_range(&w.rng, 100, 50000) : 0;
    int64_t points = purchase ? 0 : rng_range(&w.rng, 1, 500);
    intent(0, "award", ref, member, amount, points, NULL);
    loyalty_award_request r = {.member = name, .ref = ref, .amount_minor = amount, .points = points};
    loyalty_posting p;
    int rc = loyalty_award(w.clerk, &r, &p);
    if (outcome(w.clerk, rc, "award", ref, p.points, p.replayed, p.tx) == LOYALTY_OK) {
        if (purchase)
            track(&w.orders, ref, member, amount);
        track(&w.reversible, ref, member, p.tx);
    }
}

static void do_redeem(void)
{
    char ref[LOYALTY_ID_MAX + 1], name[16];
    int member = (int)rng_range(&w.rng, 0, CRASH_MEMBERS - 1);
    int64_t available = available_of(member);
    if (available < 1)
        return;
    next_ref(ref);
    member_name(name, member);
    int64_t points = rng_range(&w.rng, 1, available < 400 ? available : 400);
    intent(0, "redeem", ref, member, 0, points, NULL);
    loyalty_redeem_request r = {.member = name, .ref = ref, .points = points};
    loyalty_posting p;
    int rc = loyalty_redeem(w.clerk, &r, &p);
    if (outcome(w.clerk, rc, "redeem", ref, p.points, p.replayed, p.tx) == LOYALTY_OK)
        track(&w.reversible, ref, member, p.tx);
}

static void do_hold(void)
{
    char ref[LOYALTY_ID_MAX + 1], name[16];
    int member = (int)rng_range(&w.rng, 0, CRASH_MEMBERS - 1);
    int64_t available = available_of(member);
    if (available < 1)
        return;
    next_ref(ref);
    member_name(name, member);
    int64_t points = rng_range(&w.rng, 1, available < 300 ? available : 300);
    intent(0, "hold", ref, member, 0, points, NULL);
    loyalty_hold_request r = {.member = name, .ref = ref, .points = points};
    loyalty_hold_info h;
    int rc = loyalty_hold(w.clerk, &r, &h);
    if (outcome(w.clerk, rc, "hold", ref, h.points, h.replayed, 0) == LOYALTY_OK)
        track(&w.holds, ref, member, points);
}

static void do_capture_or_release(int capture)
{
    if (w.holds.count == 0)
        return;
    int index = (int)rng_range(&w.rng, 0, w.holds.count - 1);
    tracked t = w.holds.items[index];
    untrack(&w.holds, index);
    loyalty_hold_info h;
    int rc;
    if (capture) {
        int64_t points = rng_chance(&w.rng, 50) ? 0 : rng_range(&w.rng, 1, t.value);
        intent(0, "capture", t.ref, t.member, 0, points, NULL);
        rc = loyalty_capture(w.clerk, t.ref, points, &h);
        outcome(w.clerk, rc, "capture", t.ref, -h.captured, h.replayed, h.tx);
    } else {
        intent(0, "release", t.ref, t.member, 0, 0, NULL);
        rc = loyalty_release(w.clerk, t.ref, &h);
        outcome(w.clerk, rc, "release", t.ref, 0, h.replayed, 0);
    }
}

static void do_refund(void)
{
    if (w.orders.count == 0)
        return;
    int index = (int)rng_range(&w.rng, 0, w.orders.count - 1);
    tracked *order = &w.orders.items[index];
    int64_t left = order->value - order->used;
    char ref[LOYALTY_ID_MAX + 1], name[16];
    next_ref(ref);
    member_name(name, order->member);
    int64_t amount = rng_chance(&w.rng, 30) ? left : rng_range(&w.rng, 1, left);
    intent(0, "refund", ref, order->member, amount, 0, order->ref);
    loyalty_refund_request r = {.member = name, .ref = ref, .order_ref = order->ref,
                                .amount_minor = amount};
    loyalty_posting p;
    int rc = loyalty_refund(w.clerk, &r, &p);
    if (outcome(w.clerk, rc, "refund", ref, p.points, p.replayed, p.tx) == LOYALTY_OK) {
        order->used += amount;
        if (order->used == order->value)
            untrack(&w.orders, index);
    }
}

static void do_adjust(void)
{
    char ref[LOYALTY_ID_MAX + 1], name[16];
    int member = (int)rng_range(&w.rng, 0, CRASH_MEMBERS - 1);
    int64_t points = rng_range(&w.rng, 1, 200);
    if (rng_chance(&w.rng, 40)) {
        int64_t available = available_of(member);
        if (available < 1)
            return;
        points = -rng_range(&w.rng, 1, available < 200 ? available : 200);
    }
    next_ref(ref);
    member_name(name, member);
    intent(0, "adjust", ref, member, 0, points, NULL);
    loyalty_adjust_request r = {.member = name, .ref = ref, .points = points,
                                .reason = CRASH_ADJUST_REASON, .note = CRASH_NOTE};
    loyalty_posting p;
    int rc = loyalty_adjust(w.admin, &r, &p);
    if (outcome(w.admin, rc, "adjust", ref, p.points, p.replayed, p.tx) == LOYALTY_OK)
        track(&w.reversible, ref, member, p.tx);
}

static void do_reverse(void)
{
    if (w.reversible.count == 0)
        return;
    int index = (int)rng_range(&w.rng, 0, w.reversible.count - 1);
    tracked t = w.reversible.items[index];
    untrack(&w.reversible, index);
    /* A refunded order cannot be reversed any more: forget it as an order too. */
    for (int i = 0; i < w.orders.count; i++)
        if (strcmp(w.orders.items[i].ref, t.ref) == 0)
            untrack(&w.orders, i--);
    char ref[LOYALTY_ID_MAX + 1], tx[24];
    next_ref(ref);
    snprintf(tx, sizeof tx, "%lld", (long long)t.value);
    intent(0, "reverse", ref, t.member, 0, 0, tx);
    loyalty_reverse_request r = {.tx = t.value, .ref = ref, .reason = CRASH_REVERSE_REASON};
    loyalty_posting p;
    int rc = loyalty_reverse(w.admin, &r, &p);
    outcome(w.admin, rc, "reverse", ref, p.points, p.replayed, p.tx);
}

/* A few awards and positive adjustments in one transaction. */
static void do_batch(void)
{
    enum { BATCH_MAX = 6 };
    loyalty_operation ops[BATCH_MAX];
    loyalty_operation_result results[BATCH_MAX];
    char refs[BATCH_MAX][LOYALTY_ID_MAX + 1], names[BATCH_MAX][16];
    int members[BATCH_MAX];
    int count = (int)rng_range(&w.rng, 2, BATCH_MAX);
    int64_t batch = ++w.batches;
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < count; i++) {
        next_ref(refs[i]);
        members[i] = (int)rng_range(&w.rng, 0, CRASH_MEMBERS - 1);
        member_name(names[i], members[i]);
        ops[i].member = names[i];
        ops[i].ref = refs[i];
        if (rng_chance(&w.rng, 60)) {
            ops[i].kind = LOYALTY_OP_AWARD;
            ops[i].amount_minor = rng_range(&w.rng, 100, 20000);
            intent(batch, "award", refs[i], members[i], ops[i].amount_minor, 0, NULL);
        } else {
            ops[i].kind = LOYALTY_OP_ADJUST;
            ops[i].points = rng_range(&w.rng, 1, 100);
            ops[i].reason = CRASH_ADJUST_REASON;
            ops[i].note = CRASH_NOTE;
            intent(batch, "adjust", refs[i], members[i], 0, ops[i].points, NULL);
        }
    }
    int rc = loyalty_apply_batch(w.admin, ops, (size_t)count, results);
    check(w.admin, rc, "batch");
    for (int i = 0; i < count; i++) {
        const char *kind = ops[i].kind == LOYALTY_OP_AWARD ? "award" : "adjust";
        if (outcome(w.admin, results[i].rc, kind, refs[i], results[i].points, results[i].replayed,
                    results[i].tx) == LOYALTY_OK) {
            if (ops[i].kind == LOYALTY_OP_AWARD)
                track(&w.orders, refs[i], members[i], ops[i].amount_minor);
            track(&w.reversible, refs[i], members[i], results[i].tx);
        }
    }
}

static void do_rotate(void)
{
    intent(0, "rotate", NULL, -1, 0, 0, NULL);
    int rc = loyalty_key_rotate(w.admin, NULL, NULL);
    check(w.admin, rc, "key rotation");
    log_line(w.log, 1, "A rotate - 0 0 0");
}

static void step(void)
{
    int dice = (int)rng_range(&w.rng, 0, 99);
    if (dice < 28)
        do_award();
    else if (dice < 40)
        do_redeem();
    else if (dice < 52)
        do_hold();
    else if (dice < 60)
        do_capture_or_release(1);
    else if (dice < 65)
        do_capture_or_release(0);
    else if (dice < 74)
        do_refund();
    else if (dice < 85)
        do_adjust();
    else if (dice < 90)
        do_reverse();
    else if (dice < 99)
        do_batch();
    else
        do_rotate();
}

int main(int argc, char **argv)
{
    const char *db = NULL, *log_path = NULL;
    int init = 0;
    uint64_t seed = 1;
    int64_t max_ops = 1000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--init") == 0)
            init = 1;
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
            log_path = argv[++i];
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--run") == 0 && i + 1 < argc)
            w.run = strtoll(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            max_ops = strtoll(argv[++i], NULL, 10);
        else
            die("usage: crash_writer --db PATH (--init | --log PATH --seed N --run N [--ops MAX])");
    }
    if (db == NULL)
        die("--db is required");
    if (init)
        return init_ledger(db);
    if (log_path == NULL)
        die("--log is required");
    w.log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (w.log < 0)
        die("cannot open %s: %s", log_path, strerror(errno));
    rng_seed(&w.rng, seed);
    open_as(&w.clerk, db, CRASH_CLERK);
    open_as(&w.admin, db, CRASH_ADMIN);
    while (w.seq < max_ops)
        step();
    loyalty_close(w.clerk);
    loyalty_close(w.admin);
    close(w.log);
    return 0;
}
