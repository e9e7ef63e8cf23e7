/*
 * keys.c - the Ed25519 signing key: the secret key file (one line of 64 hex
 * characters holding the 32-byte seed, mode 0600, refused when group- or
 * world-accessible), key ids, signing, the key table of the chain (genesis
 * and rotations), and key rotation.
 *
 * The secret key lives in sodium_malloc'd guarded memory that is made
 * inaccessible between signatures and wiped when the handle closes or the
 * key changes. File buffers that held the seed are wiped right after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <unistd.h>

#include "internal.h"

#define SEED_HEX (crypto_sign_SEEDBYTES * 2)
#define KEY_FILE_MAX 1024

void key_id_of(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
               char key_id[LOYALTY_KEY_ID_HEX + 1])
{
    unsigned char digest[HASH_BYTES];
    crypto_generichash(digest, sizeof digest, public_key, crypto_sign_PUBLICKEYBYTES, NULL, 0);
    sodium_bin2hex(key_id, LOYALTY_KEY_ID_HEX + 1, digest, LOYALTY_KEY_ID_HEX / 2);
}

void keys_wipe(loyalty_ledger *l)
{
    if (l->secret_key)
        sodium_free(l->secret_key); /* sodium_free zeroes the memory first */
    l->secret_key = NULL;
    l->key_id[0] = '\0';
}

/* Finds the seed line in the file text: the first line not starting with '#'. */
static int parse_seed(const char *text, unsigned char seed[crypto_sign_SEEDBYTES])
{
    const char *line = text;
    while (*line == '#') {
        line = strchr(line, '\n');
        if (line == NULL)
            return -1;
        line++;
    }
    size_t n = 0;
    while (line[n] && line[n] != '\n' && line[n] != '\r')
        n++;
    if (n != SEED_HEX)
        return -1;
    size_t decoded = 0;
    if (sodium_hex2bin(seed, crypto_sign_SEEDBYTES, line, n, NULL, &decoded, NULL) != 0 ||
        decoded != crypto_sign_SEEDBYTES)
        return -1;
    return 0;
}

/* Reads the seed from a key file, refusing insecure permissions. */
static int read_seed(loyalty_ledger *l, const char *path, unsigned char *seed)
{
    char *text = sodium_malloc(KEY_FILE_MAX + 1);
    if (text == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        sodium_free(text);
        return fail(l, LOYALTY_ERR_KEY, "cannot open key file %s: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = LOYALTY_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = fail(l, LOYALTY_ERR_KEY, "key file %s is not a regular file", path);
    else if (st.st_uid != geteuid())
        rc = fail(l, LOYALTY_ERR_KEY, "key file %s belongs to another user (uid %u)", path,
                  (unsigned)st.st_uid);
    else if (st.st_mode & (S_IRWXG | S_IRWXO))
        rc = fail(l, LOYALTY_ERR_KEY,
                  "key file %s is accessible by group or others (mode %03o); run chmod 600 on it",
                  path, (unsigned)(st.st_mode & 0777));
    if (rc == LOYALTY_OK) {
        ssize_t n = read(fd, text, KEY_FILE_MAX);
        if (n < 0)
            rc = fail(l, LOYALTY_ERR_KEY, "cannot read key file %s: %s", path, strerror(errno));
        else {
            text[n] = '\0';
            if (parse_seed(text, seed) != 0)
                rc = fail(l, LOYALTY_ERR_KEY, "key file %s is malformed (expected %d hex characters)",
                          path, SEED_HEX);
        }
    }
    sodium_memzero(text, KEY_FILE_MAX + 1);
    sodium_free(text);
    close(fd);
    return rc;
}

/*
 * No core dump may carry a secret key: once a key is loaded the process
 * stops being dumpable (Linux) and its core size limit drops to zero.
 */
static void forbid_core_dumps(void)
{
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
#ifdef __linux__
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

/* Makes the handle's signing key the one derived from seed. */
static int install_seed(loyalty_ledger *l, const unsigned char *seed)
{
    forbid_core_dumps();
    keys_wipe(l);
    l->secret_key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (l->secret_key == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    crypto_sign_seed_keypair(l->public_key, l->secret_key, seed);
    sodium_mprotect_noaccess(l->secret_key);
    key_id_of(l->public_key, l->key_id);
    return LOYALTY_OK;
}

int keys_load_file(loyalty_ledger *l, const char *path)
{
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    if (seed == NULL)
        return fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    int rc = read_seed(l, path, seed);
    if (rc == LOYALTY_OK)
        rc = install_seed(l, seed);
    sodium_free(seed);
    return rc;
}

/* Flushes the directory holding path so that a created or renamed file survives a crash. */
static void sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/*
 * The code for a failure to create, write, link, rename or remove a key file:
 * the file system refusing (no space, no directory, read-only, no permission
 * to write there, an I/O error) is a storage failure like any other write;
 * an existing file is LOYALTY_ERR_EXISTS; anything else concerns the key.
 */
static int key_write_code(int err)
{
    switch (err) {
    case EEXIST:
        return LOYALTY_ERR_EXISTS;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EIO:
    case EROFS:
    case ENOENT:
    case ENOTDIR:
    case EACCES:
    case EPERM:
        return LOYALTY_ERR_STORAGE;
    default:
        return LOYALTY_ERR_KEY;
    }
}

/* Writes a new key file (never replacing one) holding seed, mode 0600. */
static int write_key_file(loyalty_ledger *l, const char *path, const unsigned char *seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(l, key_write_code(errno), "cannot create key file %s: %s", path,
                    strerror(errno));
    static const char header[] = "# loyalty Ed25519 secret key seed. Keep it private (mode 0600).\n";
    char *line = sodium_malloc(SEED_HEX + 2);
    int rc = LOYALTY_OK;
    if (line == NULL)
        rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    else {
        sodium_bin2hex(line, SEED_HEX + 1, seed, crypto_sign_SEEDBYTES);
        line[SEED_HEX] = '\n';
        if (fchmod(fd, 0600) != 0 || write(fd, header, sizeof header - 1) != (ssize_t)(sizeof header - 1) ||
            write(fd, line, SEED_HEX + 1) != SEED_HEX + 1 || fsync(fd) != 0)
            rc = fail(l, key_write_code(errno), "cannot write key file %s: %s", path,
                      strerror(errno));
        sodium_free(line);
    }
    close(fd);
    if (rc != LOYALTY_OK)
        unlink(path);
    else
        sync_parent(path);
    return rc;
}

/* Generates a fresh seed, writes it to path and (when install) makes it the handle's key. */
static int generate_key_file(loyalty_ledger *l, const char *path,
                             unsigned char public_key[crypto_sign_PUBLICKEYBYTES])
{
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    unsigned char *secret = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    int rc = LOYALTY_OK;
    if (seed == NULL || secret == NULL)
        rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    if (rc == LOYALTY_OK) {
        randombytes_buf(seed, crypto_sign_SEEDBYTES);
        crypto_sign_seed_keypair(public_key, secret, seed);
        rc = write_key_file(l, path, seed);
    }
    if (seed)
        sodium_free(seed);
    if (secret)
        sodium_free(secret);
    return rc;
}

/* At creation: use the key file if there is one, else make it. */
int keys_load_or_create(loyalty_ledger *l)
{
    struct stat st;
    /* lstat: a symlink at the key path (even a dangling one) is refused, never written through. */
    if (lstat(l->key_path, &st) == 0)
        return keys_load_file(l, l->key_path);
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    int rc = generate_key_file(l, l->key_path, public_key);
    if (rc == LOYALTY_OK)
        rc = keys_load_file(l, l->key_path);
    return rc;
}

/* The key in force: the last one recorded in signing_keys. */
static int key_in_force(loyalty_ledger *l, unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                        char key_id[LOYALTY_KEY_ID_HEX + 1])
{
    static const char sql[] =
        "SELECT key_id, public_key FROM signing_keys ORDER BY from_seq DESC LIMIT 1";
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        return step == SQLITE_DONE ? fail(l, LOYALTY_ERR_INTERNAL, "the ledger has no signing key")
                                   : fail_db(l, "reading signing keys");
    }
    const unsigned char *text = sqlite3_column_text(st, 0);
    if (sqlite3_column_bytes(st, 1) != crypto_sign_PUBLICKEYBYTES || text == NULL ||
        strlen((const char *)text) != LOYALTY_KEY_ID_HEX) {
        sqlite3_reset(st);
        return fail(l, LOYALTY_ERR_INTERNAL, "signing key row is malformed");
    }
    memcpy(public_key, sqlite3_column_blob(st, 1), crypto_sign_PUBLICKEYBYTES);
    memcpy(key_id, text, LOYALTY_KEY_ID_HEX + 1);
    sqlite3_reset(st);
    return LOYALTY_OK;
}

/* Whether the handle's loaded key is exactly this public key (not just its id). */
static int holds_key(const loyalty_ledger *l, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES])
{
    return l->secret_key != NULL &&
           sodium_memcmp(l->public_key, public_key, crypto_sign_PUBLICKEYBYTES) == 0;
}

/* A key already in memory is still refused once its file became group- or world-accessible. */
static int check_key_file_mode(loyalty_ledger *l)
{
    struct stat st;
    if (lstat(l->key_path, &st) != 0)
        return fail(l, LOYALTY_ERR_KEY, "cannot read key file %s: %s", l->key_path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return fail(l, LOYALTY_ERR_KEY, "key file %s is not a regular file", l->key_path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return fail(l, LOYALTY_ERR_KEY,
                    "key file %s is accessible by group or others (mode %03o); run chmod 600 on it",
                    l->key_path, (unsigned)(st.st_mode & 0777));
    return LOYALTY_OK;
}

/* Path of the key file a rotation writes before it takes the key path. */
static char *pending_key_path(const char *key_path)
{
    size_t n = strlen(key_path);
    char *path = malloc(n + sizeof ".new");
    if (path) {
        memcpy(path, key_path, n);
        memcpy(path + n, ".new", sizeof ".new");
    }
    return path;
}

/*
 * Makes sure the handle holds the secret key in force in the chain. The key
 * file is read on the first write and again whenever the chain's key
 * changed (another process rotated it). A rotation interrupted after its
 * commit leaves the new key at "<key>.new": it is moved into place here.
 */
int keys_ensure_signing(loyalty_ledger *l)
{
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    int rc = key_in_force(l, public_key, key_id);
    if (rc != LOYALTY_OK)
        return rc;
    if (l->secret_key && holds_key(l, public_key))
        return check_key_file_mode(l);
    rc = keys_load_file(l, l->key_path);
    if (rc != LOYALTY_OK)
        return rc;
    if (holds_key(l, public_key))
        return LOYALTY_OK;
    char *pending = pending_key_path(l->key_path);
    if (pending && access(pending, F_OK) == 0 && keys_load_file(l, pending) == LOYALTY_OK &&
        holds_key(l, public_key) && rename(pending, l->key_path) == 0) {
        sync_parent(l->key_path);
        free(pending);
        return LOYALTY_OK;
    }
    free(pending);
    keys_wipe(l);
    return fail(l, LOYALTY_ERR_KEY, "key file %s does not hold the ledger's signing key (key id %s)",
                l->key_path, key_id);
}

int keys_sign(loyalty_ledger *l, const unsigned char hash[HASH_BYTES],
              unsigned char sig[crypto_sign_BYTES])
{
    if (l->secret_key == NULL)
        return fail(l, LOYALTY_ERR_KEY, "no signing key loaded");
    sodium_mprotect_readonly(l->secret_key);
    int signed_ok = crypto_sign_detached(sig, NULL, hash, HASH_BYTES, l->secret_key) == 0;
    sodium_mprotect_noaccess(l->secret_key);
    return signed_ok ? LOYALTY_OK : fail(l, LOYALTY_ERR_INTERNAL, "signing failed");
}

int keys_record(loyalty_ledger *l, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                int64_t from_seq)
{
    static const char sql[] = "INSERT INTO signing_keys (key_id, public_key, from_seq) VALUES (?, ?, ?)";
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    key_id_of(public_key, key_id);
    sqlite3_stmt *st = stmt(l, sql);
    if (st == NULL)
        return l->error_code;
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, public_key, crypto_sign_PUBLICKEYBYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, from_seq);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return sqlite3_extended_errcode(l->db) == SQLITE_CONSTRAINT_PRIMARYKEY
                   ? fail(l, LOYALTY_ERR_EXISTS, "key %s was already used by this ledger", key_id)
                   : fail_db(l, "recording signing key");
    return LOYALTY_OK;
}

static json_t *key_payload(const unsigned char public_key[crypto_sign_PUBLICKEYBYTES],
                           const char *previous_key_id)
{
    char hex[LOYALTY_PUBLIC_KEY_HEX + 1];
    char key_id[LOYALTY_KEY_ID_HEX + 1];
    sodium_bin2hex(hex, sizeof hex, public_key, crypto_sign_PUBLICKEYBYTES);
    key_id_of(public_key, key_id);
    json_t *payload = json_object();
    jset(payload, "public_key", json_string(hex));
    jset(payload, "key_id", json_string(key_id));
    if (previous_key_id)
        jset(payload, "previous_key_id", json_string(previous_key_id));
    return payload;
}

/* The genesis entry (seq 1): names the key that signs it and what follows. */
int genesis_apply(loyalty_ledger *l, const unsigned char public_key[crypto_sign_PUBLICKEYBYTES])
{
    if (l->next_seq != 1)
        return fail(l, LOYALTY_ERR_INTERNAL, "genesis must be the first entry");
    int rc = keys_record(l, public_key, 1);
    if (rc == LOYALTY_OK)
        rc = audit_append(l, "genesis", key_payload(public_key, NULL));
    return rc;
}

/* A rotation entry, signed by the old key; the new key signs from the next entry on. */
int key_rotation_apply(loyalty_ledger *l, const unsigned char new_public_key[crypto_sign_PUBLICKEYBYTES])
{
    unsigned char old_public_key[crypto_sign_PUBLICKEYBYTES];
    char old_key_id[LOYALTY_KEY_ID_HEX + 1];
    int rc = key_in_force(l, old_public_key, old_key_id);
    if (rc != LOYALTY_OK)
        return rc;
    int64_t rotation_seq = l->next_seq;
    rc = audit_append(l, "key_rotate", key_payload(new_public_key, old_key_id));
    if (rc == LOYALTY_OK)
        rc = keys_record(l, new_public_key, rotation_seq + 1);
    return rc;
}

static char *archive_key_path(const char *key_path, const char *key_id)
{
    size_t n = strlen(key_path);
    char *path = malloc(n + 1 + LOYALTY_KEY_ID_HEX + 1);
    if (path)
        snprintf(path, n + 1 + LOYALTY_KEY_ID_HEX + 1, "%s.%s", key_path, key_id);
    return path;
}

/* Whether an existing archive file already holds the key in use (an earlier
 * rotation attempt archived it, then failed): then it is kept as it is. */
static int archive_holds_key(loyalty_ledger *l, const char *archive)
{
    unsigned char *seed = sodium_malloc(crypto_sign_SEEDBYTES);
    unsigned char *secret = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    int same = 0;
    if (seed && secret && read_seed(l, archive, seed) == LOYALTY_OK) {
        crypto_sign_seed_keypair(public_key, secret, seed);
        same = sodium_memcmp(public_key, l->public_key, sizeof public_key) == 0;
    }
    if (seed)
        sodium_free(seed);
    if (secret)
        sodium_free(secret);
    clear_error(l);
    return same;
}

/*
 * Rotation order: the new key is written to "<key>.new"; the rotation entry
 * is appended and the old key file is hard-linked to its archive name in the
 * transaction's scope; after the commit the new file takes the key path. A
 * failure before the commit removes both files again and changes nothing.
 */
LOYALTY_API int loyalty_key_rotate(loyalty_ledger *l, char new_public_key_hex[65],
                                   char new_key_id_hex[17])
{
    unsigned char new_public_key[crypto_sign_PUBLICKEYBYTES];
    int rc = write_begin_as(l, CAP_ADMIN);
    if (rc != LOYALTY_OK)
        return rc;
    char *pending = pending_key_path(l->key_path);
    char *archive = archive_key_path(l->key_path, l->key_id);
    int created = 0, linked = 0;
    if (pending == NULL || archive == NULL)
        rc = fail(l, LOYALTY_ERR_NOMEM, "out of memory");
    /* write_begin made sure the key in force is the one in use (moving a committed
     * rotation's "<key>.new" into place), so a "<key>.new" still here belongs to a
     * rotation that never committed: its key signed nothing and is dropped. */
    if (rc == LOYALTY_OK && access(pending, F_OK) == 0 && unlink(pending) != 0)
        rc = fail(l, key_write_code(errno), "cannot remove the stale %s: %s", pending,
                  strerror(errno));
    if (rc == LOYALTY_OK && (rc = generate_key_file(l, pending, new_public_key)) == LOYALTY_OK)
        created = 1;
    if (rc == LOYALTY_OK)
        rc = key_rotation_apply(l, new_public_key);
    if (rc == LOYALTY_OK) {
        if (link(l->key_path, archive) == 0)
            linked = 1;
        else if (errno != EEXIST || !archive_holds_key(l, archive))
            rc = fail(l, key_write_code(errno), "cannot keep the old key as %s: %s", archive,
                      strerror(errno));
    }
    rc = write_end(l, rc);
    if (rc != LOYALTY_OK && l->poisoned) {
        /* The commit failed on I/O: the rotation may have reached the disk all the
         * same. Keep both files; the next write moves "<key>.new" into place if the
         * rotation is in force, and "<key>.<old id>" is the old key in any case. */
    } else if (rc != LOYALTY_OK) {
        if (linked)
            unlink(archive);
        if (created)
            unlink(pending);
    } else if (rename(pending, l->key_path) != 0) {
        rc = fail(l, key_write_code(errno), "rotation committed but %s could not replace %s: %s "
                  "(it is moved into place on the next write)", pending, l->key_path,
                  strerror(errno));
    } else {
        sync_parent(l->key_path);
        keys_wipe(l); /* the next write loads the new key */
        if (new_public_key_hex)
            sodium_bin2hex(new_public_key_hex, 65, new_public_key, sizeof new_public_key);
        if (new_key_id_hex)
            key_id_of(new_public_key, new_key_id_hex);
    }
    free(pending);
    free(archive);
    return rc;
}

LOYALTY_API int loyalty_key_public(loyalty_ledger *l, char public_key_hex[65], char key_id_hex[17])
{
    if (public_key_hex == NULL || key_id_hex == NULL)
        return l ? fail(l, LOYALTY_ERR_MISUSE, "output buffers are required") : LOYALTY_ERR_MISUSE;
    unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
    int rc = read_begin_as(l, CAP_READ);
    if (rc == LOYALTY_OK)
        rc = key_in_force(l, public_key, key_id_hex);
    read_end(l);
    if (rc == LOYALTY_OK)
        sodium_bin2hex(public_key_hex, 65, public_key, sizeof public_key);
    return rc;
}
