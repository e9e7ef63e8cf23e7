/*
 * test_batch.c - retries inside loyalty_apply_batch: an award or redemption
 * repeated with its reference (in a later batch or in the same one) is
 * answered as replayed with the original transaction and applies nothing;
 * with other parameters it is a conflict; every other failure is reported
 * exactly as a lone call reports it; and the ledger holds each operation
 * once, with one audit entry each, signed (also when the batch's own thread
 * helps the signer thread).
 */
#include "support.h"

#define N 9

static loyalty_operation award(const char *member, const char *ref, int64_t points)
{
    return (loyalty_operation){.kind = LOYALTY_OP_AWARD, .member = member, .ref = ref, .points = points};
}

static loyalty_operation redeem(const char *member, const char *ref, int64_t points)
{
    return (loyalty_operation){.kind = LOYALTY_OP_REDEEM, .member = member, .ref = ref, .points = points};
}

static int64_t audit_entries(fixture *fx)
{
    return sql_integer(fx, "SELECT COUNT(*) FROM audit");
}

static void test_retries_in_batches_apply_once(void **state)
{
    fixture *fx = *state;
    add_member(fx, "m1");
    add_member(fx, "m2");
    loyalty_operation first[2] = {award("m1", "o-1", 10), redeem("m1", "r-1", 3)};
    loyalty_operation_result firsts[2];
    assert_int_equal(loyalty_apply_batch(fx->ledger, first, 2, firsts), LOYALTY_OK);
    assert_int_equal(firsts[0].rc, LOYALTY_OK);
    assert_int_equal(firsts[1].rc, LOYALTY_OK);
    int64_t entries = audit_entries(fx);
    int64_t journal = sql_integer(fx, "SELECT COUNT(*) FROM journal");

    loyalty_operation ops[N] = {
        award("m1", "o-1", 10),  /* 0: a retry of the first batch's award */
        award("m1", "o-1", 11),  /* 1: the same reference, other points */
        award("m2", "o-2", 7),   /* 2: new */
        award("m2", "o-2", 7),   /* 3: a retry inside the same batch */
        redeem("m1", "r-1", 3),  /* 4: a retry of the first batch's redemption */
        redeem("m1", "r-1", 4),  /* 5: the same reference, other points */
        redeem("m2", "r-2", 50), /* 6: more than m2 has */
        award("nobody", "o-3", 5), /* 7: no such member */
        redeem("m2", "r-3", 2),  /* 8: new */
    };
    loyalty_operation_result r[N];
    assert_int_equal(loyalty_apply_batch(fx->ledger, ops, N, r), LOYALTY_OK);

    assert_int_equal(r[0].rc, LOYALTY_OK);
    assert_int_equal(r[0].replayed, 1);
    assert_int_equal(r[0].tx, firsts[0].tx);
    assert_int_equal(r[0].points, 10);
    assert_int_equal(r[1].rc, LOYALTY_ERR_CONFLICT);
    assert_non_null(strstr(r[1].message, "reference o-1 was already used with other parameters"));
    assert_int_equal(r[2].rc, LOYALTY_OK);
    assert_int_equal(r[2].replayed, 0);
    assert_int_equal(r[3].rc, LOYALTY_OK);
    assert_int_equal(r[3].replayed, 1);
    assert_int_equal(r[3].tx, r[2].tx);
    assert_int_equal(r[4].rc, LOYALTY_OK);
    assert_int_equal(r[4].replayed, 1);
    assert_int_equal(r[4].tx, firsts[1].tx);
    assert_int_equal(r[4].points, -3);
    assert_int_equal(r[5].rc, LOYALTY_ERR_CONFLICT);
    assert_int_equal(r[6].rc, LOYALTY_ERR_INSUFFICIENT);
    assert_non_null(strstr(r[6].message, "member m2 has 7 available points, fewer than 50"));
    assert_int_equal(r[7].rc, LOYALTY_ERR_NOT_FOUND);
    assert_non_null(strstr(r[7].message, "no member nobody"));
    assert_int_equal(r[8].rc, LOYALTY_OK);
    assert_int_equal(r[8].replayed, 0);
    assert_int_equal(r[8].balance, 5);

    /* Two operations applied (o-2, r-3): two journal rows, two audit entries. */
    assert_int_equal(sql_integer(fx, "SELECT COUNT(*) FROM journal"), journal + 2);
    assert_int_equal(audit_entries(fx), entries + 2);
    assert_int_equal(member_get(fx, "m1").balance, 7);
    assert_int_equal(member_get(fx, "m2").balance, 5);

    /* The whole batch again: nothing more is applied, the answers are the same. */
    loyalty_operation_result again[N];
    assert_int_equal(loyalty_apply_batch(fx->ledger, ops, N, again), LOYALTY_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(again[i].rc, r[i].rc);
        assert_int_equal(again[i].tx, r[i].tx);
        if (r[i].rc == LOYALTY_OK)
            assert_int_equal(again[i].replayed, 1);
    }
    assert_int_equal(audit_entries(fx), entries + 2);
    assert_int_equal(member_get(fx, "m1").balance, 7);
    assert_int_equal(member_get(fx, "m2").balance, 5);

    /* Each lone call agrees with the batch's answers. */
    loyalty_posting p;
    loyalty_award_request retry = {"m2", "o-2", 0, 7, NULL};
    assert_int_equal(loyalty_award(fx->ledger, &retry, &p), LOYALTY_OK);
    assert_int_equal(p.tx, r[2].tx);
    assert_int_equal(p.replayed, 1);
    loyalty_redeem_request other = {"m1", "r-1", 4};
    assert_int_equal(loyalty_redeem(fx->ledger, &other, &p), LOYALTY_ERR_CONFLICT);

    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);
}

/*
 * A batch long enough that the signer thread falls behind and the batch's own
 * thread signs the rest beside it, with failed operations scattered through:
 * every applied operation has one entry, in order, each signature valid
 * (verify checks them all), and no failed one left an entry.
 */
static void test_long_batch_signs_every_entry_once(void **state)
{
    fixture *fx = *state;
    enum { COUNT = 1500, MEMBERS = 40 };
    char members[MEMBERS][16], refs[COUNT][24];
    loyalty_operation *ops = calloc(COUNT, sizeof *ops);
    loyalty_operation_result *r = calloc(COUNT, sizeof *r);
    assert_non_null(ops);
    assert_non_null(r);
    for (int m = 0; m < MEMBERS; m++) {
        snprintf(members[m], sizeof members[m], "m%d", m);
        add_member(fx, members[m]);
    }
    int64_t entries = audit_entries(fx);
    for (int i = 0; i < COUNT; i++) {
        snprintf(refs[i], sizeof refs[i], "o-%d", i);
        ops[i] = award(members[i % MEMBERS], refs[i], 1 + i % 5);
        if (i % 7 == 3) /* no such member */
            ops[i].member = "nobody";
        else if (i % 11 == 5) /* more than anyone has */
            ops[i] = redeem(members[i % MEMBERS], refs[i], 1000000);
    }
    assert_int_equal(loyalty_apply_batch(fx->ledger, ops, COUNT, r), LOYALTY_OK);
    int64_t applied = 0, points = 0;
    for (int i = 0; i < COUNT; i++) {
        if (i % 7 == 3) {
            assert_int_equal(r[i].rc, LOYALTY_ERR_NOT_FOUND);
        } else if (i % 11 == 5) {
            assert_int_equal(r[i].rc, LOYALTY_ERR_INSUFFICIENT);
        } else {
            assert_int_equal(r[i].rc, LOYALTY_OK);
            applied++;
            points += 1 + i % 5;
        }
    }
    assert_int_equal(audit_entries(fx), entries + applied);
    assert_int_equal(sql_integer(fx, "SELECT MAX(seq) - MIN(seq) + 1 FROM audit"),
                     audit_entries(fx));
    assert_int_equal(sql_integer(fx, "SELECT SUM(balance) FROM members"), points);
    loyalty_verify_report report;
    assert_int_equal(loyalty_verify(fx->ledger, NULL, NULL, &report), LOYALTY_OK);
    assert_int_equal(report.entries, audit_entries(fx));
    free(ops);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retries_in_batches_apply_once, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_long_batch_signs_every_entry_once, setup_ledger,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
