/*
 * mark.h - acknowledgement marks: how a pipeline tells closehook-follow
 * what it has finished.
 *
 * closehook-follow, writing into a pipe, puts a mark line after the lines
 * it wrote:
 *
 *	{"closehook_mark":{"dev":D,"ino":I,"head_len":N,"head_fnv1a64":"H","offset":O,"lock":"LD:LI"}}
 *
 * naming the spool position after them, and its offset file by the device
 * and inode of that file's lock (FILE.lock).  Every closehook program that
 * reads records passes a mark on, unchanged and in order, only once it has
 * finished every record it read before the mark: written it to stdout,
 * rejected it into its --rejects file, dead-lettered it, or committed its
 * key, and made those files durable.  So when `closehook-follow --commit
 * FILE` at the end of the pipeline reads a mark, every stage has finished
 * every line before that position, and the position may be committed.
 * HACKING.md holds the argument.
 *
 * A mark is recognised by its first bytes alone: captures, event records
 * and flat rows never begin with them.  This module owns the spelling.
 */
#ifndef CLOSEHOOK_MARK_H
#define CLOSEHOOK_MARK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "out.h"

#define MARK_PREFIX "{\"closehook_mark\":"
#define MARK_PREFIX_LEN (sizeof(MARK_PREFIX) - 1)
/*
 * A mark line is never longer than this (newline excluded): a follow mark
 * is under 256 bytes, a backfill mark carries its checkpoint.
 */
#define MARK_MAX (64 * 1024)

/*
 * Whether the line p[0..n) (no newline) is a mark.  Asked of every line by
 * every stage: the third byte (the 'c' of "closehook_mark") turns a record
 * away before the memcmp.
 */
static inline int
mark_is(const char *p, size_t n)
{
	return n > MARK_PREFIX_LEN && n <= MARK_MAX && p[2] == 'c' &&
	    p[n - 1] == '}' && memcmp(p, MARK_PREFIX, MARK_PREFIX_LEN) == 0;
}
/*
 * Pass a mark line on: write it and its newline to o.  Before that,
 * flush and fdatasync each writer in side[0..nside) that was written to
 * (rejects, dead letters), so that what the mark covers is durable.
 * Returns 0, or -1 when a side file failed (errno set, its writer's err
 * too); the mark is then not written.
 */
int mark_pass(
    struct out *o, const char *p, size_t n, struct out **side, size_t nside);

/*
 * The end of an acknowledged pipeline (closehook-follow --commit,
 * closehook-backfill --commit): every line of stdin but a mark goes to o
 * unchanged (CRs and blank lines included).  A last line without a newline
 * was cut short by a stage that died: it is dropped with a warning (no
 * mark committed it), or, when more than half a MiB of it had been passed
 * on already, ended with a newline; the exit status is then 1.  A mark's
 * text - what follows MARK_PREFIX, without the last
 * '}' - goes to take(arg, text, n, lineno), which keeps it (1) as the
 * position to commit, or refuses it (0, having said why).  The newest one
 * kept is committed with commit(arg) when input would block, every
 * interval_ns in a flood, and at the end: after o was made durable
 * (out_durable), since what the mark covers includes what went there.
 * commit returns 0, or -1 to stop.  Returns the exit status.
 */
struct mark_end {
	int (*take)(
	    void *arg, const char *text, size_t n, unsigned long lineno);
	int (*commit)(void *arg);
	void *arg;
	uint64_t interval_ns;
};
int mark_end_run(struct out *o, const struct mark_end *me);
/* --commit-interval's value, in ns (a usage error exits 2). */
uint64_t mark_opt_interval(const char *arg);

#endif
