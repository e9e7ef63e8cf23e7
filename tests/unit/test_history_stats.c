/*
 * test_history_stats.c - a member's history (newest first, pages joined by
 * next_before, limits, stopping early, every field of an entry), the
 * member's journal chain it walks (brought in by migration 0006, and
 * refused when corrupted) and the program-wide statistics adding up.
 */
#include "support.h"

#define MAX_SEEN 64

/* What a history callback saw. */
typedef struct seen {
    int count;
    int stop_after; /* 0: never stop */
    int64_t tx[MAX_SEEN];
} seen;

static int collect(void *context, const loyalty_history_entry *entry)
{
    seen *s = context;
    assert_true(s->count < MAX_SEEN);
    s->tx[s->count++] = entry->tx;
    return s->stop_after && s->count >= s->stop_after;
}

static int history(fixture *fx, const char *member, int64_t limit, int64_t before, seen *s,
                   int64_t *next_before)
{
    return loyalty_history(fx->ledger, member, limit, before, collect, s, next_before);
}

/* Gives m1 n postings (and m2 one between each) and returns m1's txs in order. */
static void make_postings(fixture *fx, int n, int64_t *txs)
{
    add_member(fx, "m1");
    add_member(fx, "m2");
    char ref[32];
    for (int i = 0; i < n; i++) {
        snprintf(ref, sizeof ref, "m1-%d", i);
        txs[i] = award_points(fx, "m1", ref, i + 1);
        snprintf(ref, sizeof ref, "m2-%d", i);
        award_points(fx, "m2", ref, 1);
    }
}

static void test_pages_newest_first(void **state)
{
    fixture *fx = *state;
    int64_t txs[25];
    make_postings(fx, 25, txs);
    seen all = {0};
    int64_t before = 0, next = -1;
    int pages = 0;
    do {
        int start = all.count;
        assert_int_equal(history(fx, "m1", 10, before, &all, &next), LOYALTY_OK);
        pages++;
        assert_int_equal(all.count - start, pages < 3 ? 10 : 5);
        if (next != 0)
            assert_int_equal(next, all.tx[all.count - 1]);
        before = next;
    } while (next != 0 && pages < 10);
    assert_int_equal(pages, 3);
    assert_int_equal(all.count, 25);
    for (int i = 0; i < 25; i++)
        assert_int_equal(all.tx[i], txs[24 - i]);
}

static void test_last_page_exactly_full(void **state)
{
    fixture *fx = *state;
    int64_t txs[20];
    make_postings(fx, 20, txs);
    seen s = {0};
    int64_t next = -1;
    assert_int_equal(history(fx, "m1", 10, 0, &s, &next), LOYALTY_OK);
    assert_int_equal(next, txs[10]);
    assert_int_equal(history(fx, "m1", 10, next, &s, &next), LOYALTY_OK);
    assert_int_equal(s.count, 20);
    assert_int_equal(next, 0);
    /* One page holding everything; a page before the first tx is empty. */
    seen whole = {0};
    assert_int_equal(history(fx, "m1", 1000, 0, &whole, &next), LOYALTY_OK);
    assert_int_equal(whole.count, 20);
    assert_int_equal(next, 0);
    seen none = {0};
    next = -1;
    assert_int_equal(history(fx, "m1", 5, txs[0], &none, &next), LOYALTY_OK);
    assert_int_equal(none.count, 0);
    assert_int_equal(next, 0);
}

static void test_limits_and_refusals(void **state)
{
    fixture *fx = *state;
    int64_t txs[3];
    make_postings(fx, 3, txs);
    add_member(fx, "quiet");
    snapshot before;
    snapshot_take(fx, "m1", &before);
    seen s = {0};
    int64_t next = -1;
    assert_int_equal(history(fx, "m1", 1, 0, &s, &next), LOYALTY_OK);
    assert_int_equal(s.count, 1);
    assert_int_equal(next, txs[2]);
    int64_t bad_limits[] = {0, -1, 1001, INT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(history(fx, "m1", bad_limits[i], 0, &s, &next), LOYALTY_ERR_INVALID);
        assert_errmsg_mentions(fx->ledger, "limit");
    }
    assert_int_equal(history(fx, "m1", 10, -1, &s, &next), LOYALTY_ERR_INVALID);
    assert_int_equal(history(fx, "nobody", 10, 0, &s, &next), LOYALTY_ERR_NOT_FOUND);
    assert_int_equal(history(fx, "bad id", 10, 0, &s, &next), LOYALTY_ERR_INVALID);
    assert_int_equal(history(fx, NULL, 10, 0, &s, &next), LOYALTY_ERR_INVALID);
    assert_int_equal(loyalty_history(fx->ledger, "m1", 10, 0, NULL, &s, &next), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_history(fx->ledger, "m1", 10, 0, collect, &s, NULL),
                     LOYALTY_ERR_MISUSE);
    assert_int_equal(s.count, 1);
    /* A member without postings has an empty history. */
    assert_int_equal(history(fx, "quiet", 10, 0, &s, &next), LOYALTY_OK);
    assert_int_equal(s.count, 1);
    assert_int_equal(next, 0);
    assert_unchanged(fx, "m1", &before);
}

static void test_stop_early(void **state)
{
    fixture *fx = *state;
    int64_t txs[8];
    make_postings(fx, 8, txs);
    seen s = {.stop_after = 3};
    int64_t next = -1;
    assert_int_equal(history(fx, "m1", 10, 0, &s, &next), LOYALTY_OK);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.tx[0], txs[7]);
    assert_int_equal(s.tx[2], txs[5]);
    /* The handle is still usable for writes afterwards (no read left open). */
    award_points(fx, "m1", "after", 1);
}

/* Checks every field of one entry, selected by tx. */
typedef struct entry_check {
    int64_t tx;
    int found;
    loyalty_history_entry want;
} entry_check;

static int check_entry(void *context, const loyalty_history_entry *e)
{
    entry_check *c = context;
    if (e->tx != c->tx)
        return 0;
    c->found = 1;
    assert_string_equal(e->kind, c->want.kind);
    assert_string_equal(e->ref, c->want.ref);
    assert_int_equal(e->points, c->want.points);
    assert_int_equal(e->balance_after, c->want.balance_after);
    assert_int_equal(e->amount_minor, c->want.amount_minor);
    assert_int_equal(e->ts_us, c->want.ts_us);
    assert_string_equal(e->actor, c->want.actor);
    if (c->want.reason)
        assert_string_equal(e->reason, c->want.reason);
    else
        assert_null(e->reason);
    if (c->want.note)
        assert_string_equal(e->note, c->want.note);
    else
        assert_null(e->note);
    assert_int_equal(e->reversed_tx, c->want.reversed_tx);
    assert_int_equal(e->reversed_by, c->want.reversed_by);
    return 0;
}

static void expect_entry(fixture *fx, int64_t tx, loyalty_history_entry want)
{
    entry_check c = {.tx = tx, .want = want};
    int64_t next;
    assert_int_equal(loyalty_history(fx->ledger, "m1", 1000, 0, check_entry, &c, &next),
                     LOYALTY_OK);
    assert_true(c.found);
}

static void test_entry_fields(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    loyalty_award_request a = {"m1", "order-1", 25050, 0, "in store"};
    loyalty_posting bought, fixed, undone;
    assert_int_equal(loyalty_award(fx->ledger, &a, &bought), LOYALTY_OK);
    assert_int_equal(loyalty_operator_add(fx->ledger, "agent@support", "support", NULL), LOYALTY_OK);
    loyalty_open_options options = {
        .db_path = fx->db_path, .actor = "agent@support", .now_us = T0_US + 60000000};
    loyalty_ledger *main_handle = fx->ledger;
    assert_int_equal(loyalty_open(&fx->ledger, &options), LOYALTY_OK);
    loyalty_adjust_request j = {"m1", "ticket-9", -50, "correction", "double scan"};
    assert_int_equal(loyalty_adjust(fx->ledger, &j, &fixed), LOYALTY_OK);
    loyalty_reverse_request r = {bought.tx, "undo-1", "refund"};
    assert_int_equal(loyalty_reverse(fx->ledger, &r, &undone), LOYALTY_OK);
    loyalty_close(fx->ledger);
    fx->ledger = main_handle;

    expect_entry(fx, bought.tx,
                 (loyalty_history_entry){bought.tx, "award", "order-1", 250, 250, 25050, T0_US,
                                         ACTOR, "in store", NULL, 0, undone.tx, 0});
    expect_entry(fx, fixed.tx,
                 (loyalty_history_entry){fixed.tx, "adjust", "ticket-9", -50, 200, 0,
                                         T0_US + 60000000, "agent@support", "correction",
                                         "double scan", 0, 0, 0});
    expect_entry(fx, undone.tx,
                 (loyalty_history_entry){undone.tx, "reverse", "undo-1", -250, -50, 0,
                                         T0_US + 60000000, "agent@support", "refund", NULL,
                                         bought.tx, 0, 0});
}

static void expect_stats(fixture *fx, loyalty_stats want)
{
    loyalty_stats s;
    assert_int_equal(loyalty_stats_get(fx->ledger, &s), LOYALTY_OK);
    assert_int_equal(s.members, want.members);
    assert_int_equal(s.outstanding, want.outstanding);
    assert_int_equal(s.issued, want.issued);
    assert_int_equal(s.redeemed, want.redeemed);
    assert_int_equal(s.adjusted, want.adjusted);
    assert_int_equal(s.reversed, want.reversed);
    assert_int_equal(s.transactions, want.transactions);
    assert_int_equal(s.outstanding, s.issued - s.redeemed + s.adjusted + s.reversed);
}

/* Every tx of the member's history, newest first, in one page. */
static int whole_history(fixture *fx, const char *member, seen *s)
{
    memset(s, 0, sizeof *s);
    int64_t next = -1;
    int rc = history(fx, member, MAX_SEEN - 1, 0, s, &next);
    if (rc == LOYALTY_OK)
        assert_int_equal(next, 0);
    return rc;
}

/* A ledger at schema 5 (journal indexed by member, no chain) is brought
 * forward on open: the same history, the chain that replay rebuilds
 * (verify compares it column for column), and postings that continue it. */
static void test_schema_5_ledger_migrates_to_the_chain(void **state)
{
    fixture *fx = *state;
    int64_t txs[6];
    make_postings(fx, 6, txs);
    add_member(fx, "m3"); /* no postings: an empty chain */
    redeem_points(fx, "m1", "r-1", 4);
    seen m1_before, m2_before;
    assert_int_equal(whole_history(fx, "m1", &m1_before), LOYALTY_OK);
    assert_int_equal(whole_history(fx, "m2", &m2_before), LOYALTY_OK);
    assert_int_equal(m1_before.count, 7);
    loyalty_close(fx->ledger);
    fx->ledger = NULL;

    sql_exec(fx, "CREATE INDEX journal_member ON journal (member_id, tx);"
                 " ALTER TABLE journal DROP COLUMN member_prev_tx;"
                 " ALTER TABLE members DROP COLUMN last_journal_tx;"
                 " ALTER TABLE members DROP COLUMN lots_at_us;"
                 " ALTER TABLE members DROP COLUMN lots_until_us;"
                 " ALTER TABLE members DROP COLUMN lots_available;"
                 " ALTER TABLE members DROP COLUMN lots_pending;"
                 " ALTER TABLE members DROP COLUMN lots_expired;"
                 " ALTER TABLE members DROP COLUMN lots_next_expiry_us;"
                 " ALTER TABLE members DROP COLUMN lots_next_expiry_points;"
                 " PRAGMA user_version = 5;");
    assert_int_equal(open_handle(fx, ACTOR, NULL, &fx->ledger), LOYALTY_OK);
    assert_true(sql_integer(fx, "PRAGMA user_version") >= 6);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'journal_member'"), 0);
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal WHERE member_prev_tx IS NULL"), 2);

    seen m1_after, m2_after, m3_after;
    assert_int_equal(whole_history(fx, "m1", &m1_after), LOYALTY_OK);
    assert_int_equal(whole_history(fx, "m2", &m2_after), LOYALTY_OK);
    assert_int_equal(whole_history(fx, "m3", &m3_after), LOYALTY_OK);
    assert_int_equal(m1_after.count, m1_before.count);
    assert_memory_equal(m1_after.tx, m1_before.tx, sizeof m1_before.tx);
    assert_int_equal(m2_after.count, m2_before.count);
    assert_memory_equal(m2_after.tx, m2_before.tx, sizeof m2_before.tx);
    assert_int_equal(m3_after.count, 0);
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);

    int64_t next_tx = award_points(fx, "m1", "after", 9);
    assert_int_equal(whole_history(fx, "m1", &m1_after), LOYALTY_OK);
    assert_int_equal(m1_after.count, 8);
    assert_int_equal(m1_after.tx[0], next_tx);
    assert_int_equal(m1_after.tx[1], m1_before.tx[0]);
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);
}

/* A chain link edited in the file is refused by history (never followed
 * into another member's rows or round in a loop) and pinpointed by verify. */
static void test_corrupted_chain_is_refused(void **state)
{
    fixture *fx = *state;
    int64_t txs[4];
    make_postings(fx, 4, txs);
    seen s;
    char sql[160];
    /* m1's newest row pointing at one of m2's. */
    snprintf(sql, sizeof sql, "UPDATE journal SET member_prev_tx = %lld WHERE tx = %lld",
             (long long)txs[3] - 1, (long long)txs[3]);
    sql_exec(fx, sql);
    assert_int_equal(whole_history(fx, "m1", &s), LOYALTY_ERR_INTERNAL);
    assert_errmsg_mentions(fx->ledger, "journal chain of member m1 is broken");
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_ERR_VERIFY);
    assert_non_null(strstr(report.reason, "journal"));

    /* The member row naming a tx that is not there. */
    sql_exec(fx, "UPDATE journal SET member_prev_tx = NULL WHERE member_prev_tx IS NOT NULL;"
                 " UPDATE members SET last_journal_tx = 999999 WHERE external_id = 'm2'");
    assert_int_equal(whole_history(fx, "m2", &s), LOYALTY_ERR_INTERNAL);
    assert_errmsg_mentions(fx->ledger, "names a missing tx 999999");
}

static void test_stats_add_up(void **state)
{
    fixture *fx = *state;
    expect_stats(fx, (loyalty_stats){.members = 0, .outstanding = 0, .issued = 0, .redeemed = 0, .adjusted = 0, .reversed = 0, .transactions = 0});
    add_member(fx, "m1");
    add_member(fx, "m2");
    add_member(fx, "m3");
    expect_stats(fx, (loyalty_stats){.members = 3, .outstanding = 0, .issued = 0, .redeemed = 0, .adjusted = 0, .reversed = 0, .transactions = 0});
    int64_t a1 = award_points(fx, "m1", "a1", 300);
    award_points(fx, "m2", "a2", 200);
    int64_t r1 = redeem_points(fx, "m1", "r1", 120);
    redeem_points(fx, "m2", "r2", 50);
    loyalty_adjust_request plus = {"m3", "t1", 40, "goodwill", NULL};
    loyalty_adjust_request minus = {"m2", "t2", -10, "fix", NULL};
    loyalty_posting p;
    assert_int_equal(loyalty_adjust(fx->ledger, &plus, &p), LOYALTY_OK);
    assert_int_equal(loyalty_adjust(fx->ledger, &minus, &p), LOYALTY_OK);
    expect_stats(fx, (loyalty_stats){.members = 3, .outstanding = 360, .issued = 500, .redeemed = 170, .adjusted = 30, .reversed = 0, .transactions = 6});
    loyalty_reverse_request undo_redeem = {r1, "v1", "refund"};
    assert_int_equal(loyalty_reverse(fx->ledger, &undo_redeem, &p), LOYALTY_OK);
    expect_stats(fx, (loyalty_stats){.members = 3, .outstanding = 480, .issued = 500, .redeemed = 170, .adjusted = 30, .reversed = 120, .transactions = 7});
    loyalty_reverse_request undo_award = {a1, "v2", "chargeback"};
    assert_int_equal(loyalty_reverse(fx->ledger, &undo_award, &p), LOYALTY_OK);
    expect_stats(fx, (loyalty_stats){.members = 3, .outstanding = 180, .issued = 500, .redeemed = 170, .adjusted = 30, .reversed = -180, .transactions = 8});
    /* A replay is not a new transaction. */
    assert_int_equal(loyalty_reverse(fx->ledger, &undo_award, &p), LOYALTY_OK);
    assert_int_equal(p.replayed, 1);
    expect_stats(fx, (loyalty_stats){.members = 3, .outstanding = 180, .issued = 500, .redeemed = 170, .adjusted = 30, .reversed = -180, .transactions = 8});
}

/* Figures whose sum leaves int64 are an error, not a wrapped number. */
static void test_stats_overflow_is_an_error(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    award_points(fx, "m1", "a1", 10);
    loyalty_adjust_request plus = {"m1", "t1", 5, "goodwill", NULL};
    loyalty_posting p;
    assert_int_equal(loyalty_adjust(fx->ledger, &plus, &p), LOYALTY_OK);
    /* Each kind's SUM still fits; issued + adjusted does not. */
    sql_exec(fx, "UPDATE journal SET points = 6000000000000000000 WHERE kind IN ('award', 'adjust')");
    reopen(fx);
    loyalty_stats s;
    assert_int_equal(loyalty_stats_get(fx->ledger, &s), LOYALTY_ERR_INTERNAL);
    assert_errmsg_mentions(fx->ledger, "overflow");
    /* A debit kind summing to INT64_MIN cannot be negated either. */
    redeem_points(fx, "m1", "r1", 1);
    sql_exec(fx, "UPDATE journal SET points = 1 WHERE kind IN ('award', 'adjust');"
                 " UPDATE journal SET points = -9223372036854775807 - 1 WHERE kind = 'redeem'");
    reopen(fx);
    assert_int_equal(loyalty_stats_get(fx->ledger, &s), LOYALTY_ERR_INTERNAL);
    assert_errmsg_mentions(fx->ledger, "overflow");
}

static void test_stats_misuse(void **state)
{
    fixture *fx = *state;
    loyalty_stats s;
    assert_int_equal(loyalty_stats_get(fx->ledger, NULL), LOYALTY_ERR_MISUSE);
    assert_int_equal(loyalty_stats_get(NULL, &s), LOYALTY_ERR_MISUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_newest_first, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_last_page_exactly_full, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_refusals, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_stop_early, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_entry_fields, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_schema_5_ledger_migrates_to_the_chain, setup_ledger,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_corrupted_chain_is_refused, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_stats_add_up, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_stats_overflow_is_an_error, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_stats_misuse, setup_ledger, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
