/*
 * test_keys_hardening.c - the secret key file under hostile conditions
 * (issue 8, item 7): group- or world-readable modes refused with a message
 * naming the mode, also for a key already in memory; a key file behind a
 * symlink, owned by another user, truncated or of the wrong length refused
 * with a clear message and nothing changed; a new key file made exclusively
 * at 0600 whatever the umask, an existing one used and never rewritten;
 * and no core dump possible once a secret key is loaded (checked in a
 * forked child, so that this process keeps its own settings).
 */
#include "support.h"

#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

static const char seed_line[] = "# test key\n"
                                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

/* A write that needs the key: a fresh member each time (the name is unique per call). */
static int try_write(loyalty_ledger *ledger)
{
    static int counter;
    char member[32];
    snprintf(member, sizeof member, "w%d", ++counter);
    return loyalty_member_add(ledger, member, NULL, NULL);
}

/* Opens a new handle with the given key path, tries a write, expects KEY naming both texts. */
static void expect_key_refused(fixture *fx, const char *key_path, const char *needle,
                               const char *needle2)
{
    snapshot before;
    snapshot_take(fx, NULL, &before);
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, key_path, &l), LOYALTY_OK);
    assert_int_equal(try_write(l), LOYALTY_ERR_KEY);
    assert_errmsg_mentions(l, needle);
    if (needle2)
        assert_errmsg_mentions(l, needle2);
    /* Reading needs no key and still works. */
    loyalty_stats stats;
    assert_int_equal(loyalty_stats_get(l, &stats), LOYALTY_OK);
    loyalty_close(l);
    assert_unchanged(fx, NULL, &before);
}

static void test_modes_named_in_message(void **state)
{
    fixture *fx = *state;
    static const struct {
        unsigned mode;
        const char *text;
    } cases[] = {{0640, "mode 640"}, {0644, "mode 644"}, {0604, "mode 604"}, {0660, "mode 660"},
                 {0610, "mode 610"}, {0601, "mode 601"}, {0666, "mode 666"}, {0700, NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(chmod(fx->key_path, cases[i].mode), 0);
        if (cases[i].text) {
            expect_key_refused(fx, fx->key_path, cases[i].text, "chmod 600");
            assert_int_equal(file_mode(fx->key_path), cases[i].mode); /* not "fixed" behind our back */
        } else {
            /* Owner-only modes (0700, 0600, 0400) are fine. */
            loyalty_ledger *l = NULL;
            assert_int_equal(open_handle(fx, ACTOR, NULL, &l), LOYALTY_OK);
            assert_int_equal(try_write(l), LOYALTY_OK);
            loyalty_close(l);
        }
    }
}

/* A handle that already holds the key refuses the next write once the file is opened up. */
static void test_mode_checked_with_key_in_memory(void **state)
{
    fixture *fx = *state;
    assert_int_equal(try_write(fx->ledger), LOYALTY_OK);
    assert_int_equal(chmod(fx->key_path, 0644), 0);
    snapshot before;
    snapshot_take(fx, NULL, &before);
    assert_int_equal(try_write(fx->ledger), LOYALTY_ERR_KEY);
    assert_errmsg_mentions(fx->ledger, "mode 644");
    assert_unchanged(fx, NULL, &before);
    assert_int_equal(chmod(fx->key_path, 0600), 0);
    assert_int_equal(try_write(fx->ledger), LOYALTY_OK);
}

static void test_create_refuses_open_modes(void **state)
{
    fixture *fx = *state;
    unsigned modes[] = {0640, 0644};
    for (size_t i = 0; i < 2; i++) {
        file_write(fx->key_path, seed_line, sizeof seed_line - 1, modes[i]);
        assert_int_equal(create_ledger(fx, NULL), LOYALTY_ERR_KEY);
        assert_errmsg_mentions(fx->ledger, i == 0 ? "mode 640" : "mode 644");
        loyalty_close(fx->ledger);
        fx->ledger = NULL;
        assert_false(path_exists(fx->db_path));
        assert_file_bytes(fx->key_path, (const unsigned char *)seed_line, sizeof seed_line - 1);
        assert_int_equal(unlink(fx->key_path), 0);
    }
}

/* --- symlinks ------------------------------------------------------------------ */

static void test_symlinked_key_refused(void **state)
{
    fixture *fx = *state;
    /* The real key moved aside, the key path a symlink to it: same bytes, same mode, refused. */
    char real[PATH_BYTES];
    path_in(fx, real, "real.key");
    assert_int_equal(rename(fx->key_path, real), 0);
    assert_int_equal(symlink(real, fx->key_path), 0);
    expect_key_refused(fx, fx->key_path, fx->key_path, NULL);
    assert_int_equal(file_mode(real), 0600);
    /* The real file itself, named directly, is fine. */
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, real, &l), LOYALTY_OK);
    assert_int_equal(try_write(l), LOYALTY_OK);
    loyalty_close(l);
}

static void test_create_with_symlinked_key(void **state)
{
    fixture *fx = *state;
    char real[PATH_BYTES];
    path_in(fx, real, "real.key");
    file_write(real, seed_line, sizeof seed_line - 1, 0600);
    assert_int_equal(symlink(real, fx->key_path), 0);
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_ERR_KEY);
    assert_errmsg_mentions(fx->ledger, fx->key_path);
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    assert_false(path_exists(fx->db_path));
    assert_file_bytes(real, (const unsigned char *)seed_line, sizeof seed_line - 1);
}

/* A dangling symlink at the key path: the new key is not written through it. */
static void test_create_with_dangling_symlink(void **state)
{
    fixture *fx = *state;
    char target[PATH_BYTES];
    path_in(fx, target, "planted.key");
    assert_int_equal(symlink(target, fx->key_path), 0);
    int rc = create_ledger(fx, NULL);
    assert_int_not_equal(rc, LOYALTY_OK);
    assert_true(rc == LOYALTY_ERR_KEY || rc == LOYALTY_ERR_EXISTS);
    assert_errmsg_mentions(fx->ledger, fx->key_path);
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    assert_false(path_exists(target));
    assert_false(path_exists(fx->db_path));
}

/* --- ownership ------------------------------------------------------------------ */

static void test_key_owned_by_another_user(void **state)
{
    fixture *fx = *state;
    const struct passwd *nobody = getpwnam("nobody");
    uid_t other = nobody ? nobody->pw_uid : 65534;
    if (geteuid() != 0 || other == geteuid()) {
        skip(); /* only root can give a file away */
        return;
    }
    assert_int_equal(chown(fx->key_path, other, (gid_t)-1), 0);
    assert_int_equal(file_mode(fx->key_path), 0600);
    char uid_text[48];
    snprintf(uid_text, sizeof uid_text, "uid %u", (unsigned)other);
    expect_key_refused(fx, fx->key_path, "belongs to another user", uid_text);
    /* At creation too: a planted key of someone else's is not adopted. */
    loyalty_close(fx->ledger);
    fx->ledger = NULL;
    char other_db[PATH_BYTES];
    path_in(fx, other_db, "second.db");
    loyalty_open_options options = {
        .db_path = other_db, .key_path = fx->key_path, .actor = ACTOR, .now_us = T0_US};
    loyalty_ledger *l = NULL;
    assert_int_equal(loyalty_create(&l, &options, NULL), LOYALTY_ERR_KEY);
    assert_errmsg_mentions(l, "belongs to another user");
    loyalty_close(l);
    assert_false(path_exists(other_db));
    assert_int_equal(chown(fx->key_path, geteuid(), (gid_t)-1), 0);
    reopen(fx);
    assert_int_equal(try_write(fx->ledger), LOYALTY_OK);
}

/* --- malformed contents ----------------------------------------------------------- */

static void test_malformed_key_files(void **state)
{
    fixture *fx = *state;
    static const char *const contents[] = {
        "",                                                                  /* empty */
        "\n",                                                                /* blank line */
        "# only a comment\n",                                                /* no seed */
        "# a comment without newline",                                       /* truncated header */
        "0123456789abcdef0123456789abcdef",                                  /* truncated: 32 */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", /* 63 */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0\n", /* 65 */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01\n", /* 66 */
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\n", /* not hex */
        " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n", /* leading blank */
        "0123456789abcdef0123456789abcdef 123456789abcdef0123456789abcdef\n", /* blank inside */
    };
    for (size_t i = 0; i < sizeof contents / sizeof contents[0]; i++) {
        char path[PATH_BYTES];
        char name[32];
        snprintf(name, sizeof name, "bad-%zu.key", i);
        path_in(fx, path, name);
        file_write(path, contents[i], strlen(contents[i]), 0600);
        expect_key_refused(fx, path, "malformed", path);
        assert_file_bytes(path, (const unsigned char *)contents[i], strlen(contents[i]));
    }
    /* A well-formed seed that is not the ledger's key is refused as such, not as malformed. */
    char other[PATH_BYTES];
    path_in(fx, other, "other.key");
    file_write(other, seed_line, sizeof seed_line - 1, 0600);
    expect_key_refused(fx, other, "does not hold the ledger's signing key", NULL);
}

/* The key path names a directory: not a regular file, refused. */
static void test_key_path_not_a_file(void **state)
{
    fixture *fx = *state;
    char dir[PATH_BYTES];
    path_in(fx, dir, "key-dir");
    assert_int_equal(mkdir(dir, 0700), 0);
    loyalty_ledger *l = NULL;
    assert_int_equal(open_handle(fx, ACTOR, dir, &l), LOYALTY_OK);
    assert_int_equal(try_write(l), LOYALTY_ERR_KEY);
    assert_errmsg_mentions(l, dir);
    loyalty_close(l);
    assert_int_equal(rmdir(dir), 0);
}

/* --- creation ---------------------------------------------------------------------- */

static void test_new_key_file_is_0600_whatever_the_umask(void **state)
{
    fixture *fx = *state;
    mode_t masks[] = {0, 022, 077};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        mode_t old = umask(masks[i]);
        int rc = create_ledger(fx, NULL);
        umask(old);
        assert_int_equal(rc, LOYALTY_OK);
        assert_int_equal(file_mode(fx->key_path), 0600);
        struct stat st;
        assert_int_equal(lstat(fx->key_path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_uid, geteuid());
        /* The file holds one comment line and the 64-hex seed of the genesis key. */
        char from_file[65], public_hex[65], key_id[17];
        key_file_public(fx->key_path, from_file);
        assert_int_equal(loyalty_key_public(fx->ledger, public_hex, key_id), LOYALTY_OK);
        assert_string_equal(public_hex, from_file);
        /* A rotation's new key is made the same way. */
        old = umask(masks[i]);
        rc = loyalty_key_rotate(fx->ledger, NULL, NULL);
        umask(old);
        assert_int_equal(rc, LOYALTY_OK);
        assert_int_equal(file_mode(fx->key_path), 0600);
        loyalty_close(fx->ledger);
        fx->ledger = NULL;
        remove_tree(fx->dir);
        assert_int_equal(mkdir(fx->dir, 0700), 0);
    }
}

static void test_existing_key_file_is_used_not_rewritten(void **state)
{
    fixture *fx = *state;
    file_write(fx->key_path, seed_line, sizeof seed_line - 1, 0400);
    struct stat before;
    assert_int_equal(stat(fx->key_path, &before), 0);
    assert_int_equal(create_ledger(fx, NULL), LOYALTY_OK);
    char from_file[65], public_hex[65], key_id[17];
    key_file_public(fx->key_path, from_file);
    assert_int_equal(loyalty_key_public(fx->ledger, public_hex, key_id), LOYALTY_OK);
    assert_string_equal(public_hex, from_file);
    struct stat after;
    assert_int_equal(stat(fx->key_path, &after), 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_int_equal(file_mode(fx->key_path), 0400);
    assert_file_bytes(fx->key_path, (const unsigned char *)seed_line, sizeof seed_line - 1);
    add_member(fx, "m1");
}

/* --- core dumps ---------------------------------------------------------------------- */

/* Child exit codes of the dump checks: 0 all good, else which step failed. */
enum { CHILD_OK = 0, CHILD_OPEN = 10, CHILD_BEFORE, CHILD_WRITE, CHILD_DUMPABLE, CHILD_CORE };

static int core_limit_is_zero(void)
{
    struct rlimit limit;
    return getrlimit(RLIMIT_CORE, &limit) == 0 && limit.rlim_cur == 0 && limit.rlim_max == 0;
}

/* In the child: reads leave the process as it was; the first write (key loaded) makes it undumpable. */
static int child_checks(const fixture *fx, int create)
{
    struct rlimit generous = {RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &generous); /* may fail without privilege; then it is lower already */
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    loyalty_ledger *l = NULL;
    if (create) {
        loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = T0_US};
        if (loyalty_create(&l, &options, NULL) != LOYALTY_OK)
            return CHILD_OPEN;
    } else {
        loyalty_open_options options = {.db_path = fx->db_path, .actor = ACTOR, .now_us = T0_US};
        if (loyalty_open(&l, &options) != LOYALTY_OK)
            return CHILD_OPEN;
        loyalty_stats stats;
        loyalty_verify_report report;
        if (loyalty_stats_get(l, &stats) != LOYALTY_OK ||
            loyalty_verify(l, NULL, NULL, &report) != LOYALTY_OK ||
            prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
            return CHILD_BEFORE;
        if (loyalty_member_add(l, "dumper", NULL, NULL) != LOYALTY_OK)
            return CHILD_WRITE;
    }
    int code = CHILD_OK;
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
        code = CHILD_DUMPABLE;
    else if (!core_limit_is_zero())
        code = CHILD_CORE;
    loyalty_close(l);
    return code;
}

static void run_child(const fixture *fx, int create)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_checks(fx, create));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void test_no_core_dumps_with_key_loaded(void **state)
{
    fixture *fx = *state;
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit before;
    assert_int_equal(getrlimit(RLIMIT_CORE, &before), 0);
    run_child(fx, 1); /* create: the new key is loaded at once */
    run_child(fx, 0); /* open: dumpable while reading, not after the first write */
    /* This process is untouched. */
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
    struct rlimit after;
    assert_int_equal(getrlimit(RLIMIT_CORE, &after), 0);
    assert_int_equal(after.rlim_cur, before.rlim_cur);
    assert_int_equal(after.rlim_max, before.rlim_max);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_modes_named_in_message, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_mode_checked_with_key_in_memory, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_create_refuses_open_modes, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_symlinked_key_refused, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_create_with_symlinked_key, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_create_with_dangling_symlink, setup_empty, teardown),
        cmocka_unit_test_setup_teardown(test_key_owned_by_another_user, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_key_files, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_key_path_not_a_file, setup_ledger, teardown),
        cmocka_unit_test_setup_teardown(test_new_key_file_is_0600_whatever_the_umask, setup_empty,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_existing_key_file_is_used_not_rewritten, setup_empty,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_core_dumps_with_key_loaded, setup_empty, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
