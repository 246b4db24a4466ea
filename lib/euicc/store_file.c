/*
 * The eUICC's NVM as files in a directory. A save is write to a temporary
 * file, fsync, rename over the old one, fsync the directory: after a crash at
 * any point the object holds the old bytes or the new ones, never a torn mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "euicc_internal.h"

static int object_path(const sgp32_euicc_file_store *fs, const char *name, const char *suffix, char *out,
                       size_t size)
{
    /* Object names are ours ("state", "profile-<digits>"); refuse anything path-like. */
    if (!name[0] || strchr(name, '/') || name[0] == '.')
        return SGP32_ERR_INVALID_ARGUMENT;
    int n = snprintf(out, size, "%s/%s%s", fs->dir, name, suffix);
    return n < 0 || (size_t)n >= size ? SGP32_ERR_INVALID_ARGUMENT : SGP32_OK;
}

static int file_load(void *ctx, const char *name, sgp32_buf *out)
{
    char path[600];
    int rc = object_path(ctx, name, "", path, sizeof(path));
    if (rc)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SGP32_ERR_NOT_FOUND : SGP32_ERR_IO;
    uint8_t chunk[8192];
    ssize_t n;
    while (rc == SGP32_OK && (n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        rc = n < 0 ? SGP32_ERR_IO : sgp32_buf_append(out, chunk, (size_t)n);
    }
    close(fd);
    return rc;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return SGP32_ERR_IO;
    int rc = fsync(fd) == 0 ? SGP32_OK : SGP32_ERR_IO;
    close(fd);
    return rc;
}

static int file_save(void *ctx, const char *name, const uint8_t *data, size_t len)
{
    const sgp32_euicc_file_store *fs = ctx;
    char path[600], tmp[620];
    int rc = object_path(fs, name, "", path, sizeof(path));
    if (rc || (rc = object_path(fs, name, ".tmp", tmp, sizeof(tmp))) != SGP32_OK)
        return rc;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return SGP32_ERR_IO;
    for (size_t done = 0; done < len && rc == SGP32_OK;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = SGP32_ERR_IO;
        else
            done += (size_t)n;
    }
    if (rc == SGP32_OK && fsync(fd) != 0)
        rc = SGP32_ERR_IO;
    if (close(fd) != 0 && rc == SGP32_OK)
        rc = SGP32_ERR_IO;
    if (rc == SGP32_OK && rename(tmp, path) != 0)
        rc = SGP32_ERR_IO;
    if (rc == SGP32_OK)
        rc = sync_dir(fs->dir);
    if (rc)
        unlink(tmp);
    return rc;
}

static int file_remove(void *ctx, const char *name)
{
    const sgp32_euicc_file_store *fs = ctx;
    char path[600];
    int rc = object_path(fs, name, "", path, sizeof(path));
    if (rc)
        return rc;
    if (unlink(path) != 0)
        return errno == ENOENT ? SGP32_ERR_NOT_FOUND : SGP32_ERR_IO;
    return sync_dir(fs->dir);
}

int sgp32_euicc_file_store_init(sgp32_euicc_file_store *fs, const char *dir, sgp32_euicc_store *store)
{
    if (!dir || strlen(dir) >= sizeof(fs->dir))
        return SGP32_ERR_INVALID_ARGUMENT;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SGP32_ERR_IO;
    strcpy(fs->dir, dir);
    /* A temporary file left by a crash mid-save is the unfinished new version: drop it. */
    char tmp[620];
    if (object_path(fs, "state", ".tmp", tmp, sizeof(tmp)) == SGP32_OK)
        unlink(tmp);
    *store = (sgp32_euicc_store){file_load, file_save, file_remove, fs};
    return SGP32_OK;
}
