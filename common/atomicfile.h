/*
 * atomicfile.h - replacing a small file so that readers see the old or the
 * new contents, never a mix, even across a crash: write a temporary file
 * beside it (PATH.tmpPID), fsync it, rename it over PATH, fsync the
 * directory.  Used for checkpoints and Prometheus textfiles.  Nothing is
 * kept between calls; the caller owns its buffers.
 */
#ifndef CLOSEHOOK_ATOMICFILE_H
#define CLOSEHOOK_ATOMICFILE_H

#include <stddef.h>

/* Returns 0, or -1 with errno set (the temporary file is removed). */
int atomicfile_write(const char *path, const void *p, size_t n);
/*
 * The same without the fsyncs, for a file rewritten every second whose
 * loss in a crash costs nothing (a Prometheus textfile): readers still see
 * the old or the new contents, never a mix.  The file is made mode 0644
 * whatever the umask: node_exporter, another user, reads it, and it holds
 * no secret.
 */
int atomicfile_write_nosync(const char *path, const void *p, size_t n);
/*
 * fsync the directory that holds path, so that a file created or renamed
 * there survives a crash.  Returns 0, or -1 with errno set; a filesystem
 * that cannot sync a directory (EINVAL) is not an error.
 */
int atomicfile_sync_dir(const char *path);
/*
 * The directory that holds path, into dir: "." for a name without a '/',
 * "/" for one at the root.  Returns 0, or -1 (ENAMETOOLONG) when it does
 * not fit in cap bytes.
 */
int atomicfile_dir(const char *path, char *dir, size_t cap);

#endif
