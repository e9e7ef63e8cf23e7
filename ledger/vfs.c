/*
 * vfs.c - the ledger's SQLite VFS: the default VFS with the WAL file's writes
 * gathered into large ones.
 *
 * SQLite appends a WAL frame as two writes, a 24-byte header and the page.
 * A batch that changes 5 000 pages therefore makes 10 000 write system
 * calls before its fsync, and on a ledger with millions of entries (where
 * each award dirties four or five pages of its own) those calls were the
 * largest single cost of a batch. This VFS passes every call through to the
 * VFS that was the default when the library first opened a ledger, except
 * that writes to a WAL file are copied into a buffer while they continue
 * one another, and the buffer is written out in one call when it is full,
 * when a write does not continue it, and before anything else touches the
 * file (read, sync, size, truncate, lock, file control, close).
 *
 * Nothing about durability changes. SQLite acknowledges a commit only after
 * xSync on the WAL, and xSync writes the buffer before it syncs; other
 * connections learn of frames only through the WAL index, which SQLite
 * updates after that sync. Frames still in the buffer when a process dies
 * belong to a transaction that was never acknowledged, exactly as if the
 * process had died before writing them. A write that fails when the buffer
 * is flushed is reported by the call that flushed it, and SQLite rolls the
 * transaction back as for any I/O error.
 */
#include <pthread.h>
#include <string.h>

#include "internal.h"

#define VFS_NAME "loyalty"
/* The unix VFS writes at most 128 KiB - 1 bytes per call (it masks the
 * length with 0x1ffff and reports a shorter write as a full disk), so the
 * buffer stays below that: 64 KiB, 31 frames of 2 KiB pages per call. */
#define WAL_BUFFER_BYTES (64 * 1024)

typedef struct coalescing_file {
    sqlite3_file base;          /* base.pMethods = &methods */
    sqlite3_io_methods methods; /* ours, at the wrapped file's version */
    sqlite3_file *real;         /* the wrapped VFS's file, right after this struct */
    int is_wal;
    unsigned char *buffer;      /* WAL only, allocated at the first write */
    sqlite3_int64 buffer_offset;
    int buffer_length;
    int64_t read_errors;        /* reads that failed (a short read at the end is not one) */
} coalescing_file;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs loyalty_vfs;
static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int registered_rc = SQLITE_ERROR;
static int64_t wal_write_calls, wal_write_bytes; /* for the tests: what reached the wrapped VFS */

static coalescing_file *wrapper(sqlite3_file *file)
{
    return (coalescing_file *)file;
}

/* One write to the wrapped file; a WAL's is counted for the tests. */
static int write_real(coalescing_file *f, const void *data, int amount, sqlite3_int64 offset)
{
    if (f->is_wal) {
        __atomic_add_fetch(&wal_write_calls, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&wal_write_bytes, amount, __ATOMIC_RELAXED);
    }
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
}

/* Writes the buffered bytes, if any; the buffer is empty afterwards either way. */
static int flush(coalescing_file *f)
{
    if (f->buffer_length == 0)
        return SQLITE_OK;
    int length = f->buffer_length;
    f->buffer_length = 0;
    return write_real(f, f->buffer, length, f->buffer_offset);
}

static int file_close(sqlite3_file *file)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    int close_rc = f->real->pMethods->xClose(f->real);
    sqlite3_free(f->buffer);
    f->buffer = NULL;
    return rc != SQLITE_OK ? rc : close_rc;
}

static int file_read(sqlite3_file *file, void *out, int amount, sqlite3_int64 offset)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    if (rc == SQLITE_OK)
        rc = f->real->pMethods->xRead(f->real, out, amount, offset);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ)
        f->read_errors++;
    return rc;
}

static int file_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
    coalescing_file *f = wrapper(file);
    if (!f->is_wal || amount > WAL_BUFFER_BYTES)
        goto write_through;
    if (f->buffer == NULL) {
        f->buffer = sqlite3_malloc(WAL_BUFFER_BYTES);
        if (f->buffer == NULL)
            goto write_through; /* no memory for speed: write as SQLite asked */
    }
    /* Inside or continuing the buffered range, and fitting: copy. SQLite may
     * rewrite a frame of the same transaction in place, so a write may also
     * land inside what is already buffered. */
    if (f->buffer_length > 0 && offset >= f->buffer_offset &&
        offset <= f->buffer_offset + f->buffer_length &&
        offset + amount <= f->buffer_offset + WAL_BUFFER_BYTES) {
        int at = (int)(offset - f->buffer_offset);
        memcpy(f->buffer + at, data, (size_t)amount);
        if (at + amount > f->buffer_length)
            f->buffer_length = at + amount;
        return SQLITE_OK;
    }
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    memcpy(f->buffer, data, (size_t)amount);
    f->buffer_offset = offset;
    f->buffer_length = amount;
    return SQLITE_OK;

write_through: {
        int flushed = flush(f);
        if (flushed != SQLITE_OK)
            return flushed;
        return write_real(f, data, amount, offset);
    }
}

static int file_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int file_sync(sqlite3_file *file, int flags)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int file_lock(sqlite3_file *file, int level)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, level);
}

static int file_unlock(sqlite3_file *file, int level)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, level);
}

static int file_check_reserved(sqlite3_file *file, int *out)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int file_control(sqlite3_file *file, int op, void *argument)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, argument);
}

static int file_sector_size(sqlite3_file *file)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xSectorSize(f->real);
}

static int file_device_characteristics(sqlite3_file *file)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int file_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **out)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xShmMap(f->real, region, size, extend, out);
}

static int file_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void file_shm_barrier(sqlite3_file *file)
{
    coalescing_file *f = wrapper(file);
    f->real->pMethods->xShmBarrier(f->real);
}

static int file_shm_unmap(sqlite3_file *file, int delete_flag)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int file_fetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
    coalescing_file *f = wrapper(file);
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFetch(f->real, offset, amount, out);
}

static int file_unfetch(sqlite3_file *file, sqlite3_int64 offset, void *page)
{
    coalescing_file *f = wrapper(file);
    return f->real->pMethods->xUnfetch(f->real, offset, page);
}

static const sqlite3_io_methods template_methods = {
    .iVersion = 3,
    .xClose = file_close,
    .xRead = file_read,
    .xWrite = file_write,
    .xTruncate = file_truncate,
    .xSync = file_sync,
    .xFileSize = file_size,
    .xLock = file_lock,
    .xUnlock = file_unlock,
    .xCheckReservedLock = file_check_reserved,
    .xFileControl = file_control,
    .xSectorSize = file_sector_size,
    .xDeviceCharacteristics = file_device_characteristics,
    .xShmMap = file_shm_map,
    .xShmLock = file_shm_lock,
    .xShmBarrier = file_shm_barrier,
    .xShmUnmap = file_shm_unmap,
    .xFetch = file_fetch,
    .xUnfetch = file_unfetch,
};

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    coalescing_file *f = wrapper(file);
    memset(f, 0, sizeof *f);
    f->real = (sqlite3_file *)(f + 1);
    int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    if (f->real->pMethods == NULL) {
        f->base.pMethods = NULL; /* nothing to close */
        return rc;
    }
    /* Our methods at the wrapped file's version, so SQLite never calls a
     * method the wrapped file does not have. */
    f->methods = template_methods;
    if (f->real->pMethods->iVersion < f->methods.iVersion)
        f->methods.iVersion = f->real->pMethods->iVersion;
    f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    f->base.pMethods = &f->methods;
    return rc;
}

static int vfs_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *vfs, const char *name, int size, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, size, out);
}

static void *vfs_dl_open(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void vfs_dl_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, size, out);
}

static void (*vfs_dl_sym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, handle, symbol);
}

static void vfs_dl_close(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, handle);
}

static int vfs_randomness(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, size, out);
}

static int vfs_sleep(sqlite3_vfs *vfs, int microseconds)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, microseconds);
}

static int vfs_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int vfs_last_error(sqlite3_vfs *vfs, int size, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, size, out);
}

static int vfs_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void register_vfs(void)
{
    real_vfs = sqlite3_vfs_find(NULL);
    if (real_vfs == NULL)
        return;
    loyalty_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(coalescing_file) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = VFS_NAME,
        .xOpen = vfs_open,
        .xDelete = vfs_delete,
        .xAccess = vfs_access,
        .xFullPathname = vfs_full_pathname,
        .xDlOpen = vfs_dl_open,
        .xDlError = vfs_dl_error,
        .xDlSym = vfs_dl_sym,
        .xDlClose = vfs_dl_close,
        .xRandomness = vfs_randomness,
        .xSleep = vfs_sleep,
        .xCurrentTime = vfs_current_time,
        .xGetLastError = vfs_last_error,
        .xCurrentTimeInt64 = vfs_current_time64,
    };
    registered_rc = sqlite3_vfs_register(&loyalty_vfs, 0);
}

/*
 * The name to pass to sqlite3_open_v2: the ledger's VFS, registered on first
 * use around the VFS that is the default at that moment; NULL (SQLite's
 * default) if it could not be registered.
 */
const char *vfs_name(void)
{
    pthread_once(&register_once, register_vfs);
    return registered_rc == SQLITE_OK ? VFS_NAME : NULL;
}

void vfs_wal_writes(int64_t *calls, int64_t *bytes)
{
    *calls = __atomic_load_n(&wal_write_calls, __ATOMIC_RELAXED);
    *bytes = __atomic_load_n(&wal_write_bytes, __ATOMIC_RELAXED);
}

/* The failed reads so far on db's main file and its WAL (those opened through this VFS). */
int64_t vfs_read_errors(sqlite3 *db)
{
    int64_t errors = 0;
    sqlite3_file *file = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &file) == SQLITE_OK &&
        file != NULL && file->pMethods != NULL && file->pMethods->xRead == file_read)
        errors += wrapper(file)->read_errors;
    file = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) == SQLITE_OK &&
        file != NULL && file->pMethods != NULL && file->pMethods->xRead == file_read)
        errors += wrapper(file)->read_errors;
    return errors;
}
