/*
 * cli.h - what every closehook program's main() shares: its name in
 * messages, the exit codes of DESIGN.md section 5, strict parsing of numbers,
 * sizes and durations, and the diagnostic format
 * "closehook-NAME: FILE:LINE: what went wrong".
 *
 * Messages go to stderr only.  The program name is set once by cli_init()
 * and is a static string owned by the caller.
 */
#ifndef CLOSEHOOK_CLI_H
#define CLOSEHOOK_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

enum {
	CLI_EXIT_OK = 0, /* every record succeeded */
	CLI_EXIT_REJECTS = 1, /* finished, but some records failed */
	CLI_EXIT_FATAL = 2 /* usage error or fatal trouble */
};

extern const char *cli_prog;

void cli_init(const char *prog);

/*
 * The standard descriptors, checked right after cli_init() and before
 * anything opens a descriptor: a closed one would be taken by the next file
 * or socket the program opens (a spool, a rejects file, libcurl's
 * socketpair), which would then get the data or the diagnostics meant for
 * it.  A closed stdin or stderr is reopened on /dev/null.  stdout:
 *   CLI_STDOUT_DATA      the program writes its data there: a closed
 *                        stdout is exit 2 with a message;
 *   CLI_STDOUT_OPTIONAL  reopened on /dev/null; the program asks
 *                        cli_stdout_closed() once its options say whether
 *                        it needs stdout.
 * Failing to open /dev/null is exit 2.
 */
enum cli_stdout {
	CLI_STDOUT_DATA,
	CLI_STDOUT_OPTIONAL
};
void cli_std_fds(enum cli_stdout);
/* 1 when stdout was closed at start (and now is /dev/null), else 0. */
int cli_stdout_closed(void);

/* "closehook-NAME: message" on stderr. */
void cli_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same with ": strerror(errno)" appended. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "closehook-NAME: FILE:LINE: message" for a record. */
void cli_recwarnx(const char *file, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fatal: print and exit CLI_EXIT_FATAL. */
noreturn void
cli_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void
cli_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Usage: cli_usage prints "usage: SYNOPSIS" to stderr and exits 2;
 * cli_version prints "closehook-NAME VERSION" to stdout and exits as
 * cli_close_out() says.
 */
noreturn void cli_usage(const char *synopsis);
noreturn void cli_version(void);

/*
 * Flush and close stdio's stdout (what --help and --version printed);
 * returns CLI_EXIT_OK, or CLI_EXIT_FATAL after "closehook-NAME: stdout:
 * ERROR" when a write failed or stdout was closed at start.  help()
 * functions end with exit(cli_close_out()).
 */
int cli_close_out(void);

/*
 * Strict parsers: the whole string must be consumed and the value must lie
 * in [min, max].  They return 0 on success, -1 otherwise (nothing printed).
 */
int cli_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* Sizes: a count of bytes with an optional K, M or G suffix (powers of 2). */
int cli_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/*
 * Durations: a number (fraction allowed) followed by ms, s, m, h or d, or a
 * bare number of seconds; "30s", "5m", "1.5h", "35d".  The result is in
 * milliseconds and must lie in [min_ms, max_ms].
 */
int
cli_duration(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out_ms);

/*
 * Option helpers that exit 2 with "invalid VALUE for --NAME" on failure; the
 * bad value is echoed truncated to a short prefix.
 */
int64_t cli_opt_int(const char *opt, const char *s, int64_t min, int64_t max);
uint64_t
cli_opt_size(const char *opt, const char *s, uint64_t min, uint64_t max);
int64_t cli_opt_duration(
    const char *opt, const char *s, int64_t min_ms, int64_t max_ms);
/*
 * A point in time (--now): Unix seconds or an ISO 8601 date-time
 * (isotime_parse_arg), as Unix seconds; a fraction is dropped.
 */
int64_t cli_opt_time(const char *opt, const char *s);
/*
 * A duration in whole seconds, for options whose unit is the second (a
 * replay window, a connection timeout): rounded up, so that "500ms" is 1
 * and not 0 (for --max-age, "no window"), within [min_s, max_s].
 */
int64_t
cli_opt_seconds(const char *opt, const char *s, int64_t min_s, int64_t max_s);

/*
 * Secret files.  A user who passes a key itself where the path of a file
 * holding it belongs must not see it echoed in "No such file or directory".
 * cli_secret_name(OPT, PATH) is how a message names the value of a
 * secret-file option OPT ("--secret-file", "$CLOSEHOOK_SECRET_FILE"): PATH,
 * or, when PATH looks like a secret itself, a phrase naming OPT instead, in
 * a static buffer that the next call overwrites.  It looks like a secret
 * when it holds 32 or more hex digits in a row, starts with whsec_, whsk_
 * or api_ (Standard Webhooks secrets, Close API keys), holds "://" (a URL,
 * which can be a secret), holds a ':' but no '/' (user:password, a header
 * line), starts with "eyJ" (a JWT), or is 32 or more characters of base64
 * without a '.' mixing upper case, lower case and digits (without a '/',
 * unless it ends in '=').  A value without a '/' is shown only when it is
 * plainly a file's name (at most 24 lowercase letters, '.', '-', '_':
 * keys, slack-url): hunter2, xoxb-123... or a passphrase may be the
 * secret.  Every secret-file option of every program names its file
 * through it.
 */
int cli_looks_secret(const char *s);
const char *cli_secret_name(const char *opt, const char *path);
/*
 * Open the secret file PATH of option OPT read-only (close-on-exec).
 * Returns the descriptor, or -1 after "closehook-NAME: NAME: ERROR" on
 * stderr, NAME being cli_secret_name(OPT, PATH); errno is kept.
 */
int cli_secret_open(const char *opt, const char *path);

/*
 * No core dumps and no ptrace attach by other processes of the same user
 * (prctl PR_SET_DUMPABLE 0, and RLIMIT_CORE 0 for the systems whose
 * suid_dumpable setting dumps non-dumpable processes all the same): a core
 * file would hold the keys, tokens and HMAC pad states the program keeps in
 * memory.  Every program that may load a secret calls it in main() before
 * its options are read, since some options load secrets as they are
 * parsed.  A failure is warned about, not fatal.
 */
void cli_no_core_dumps(void);

/*
 * A stage of a pipeline stopped with the rest of it (systemctl stop signals
 * every process of a unit at once; ^C, the terminal's whole foreground
 * group): when fd (its input) is a pipe or a socket, the first SIGTERM or
 * SIGINT lets the program go on to the end of that input, which comes once
 * the stages before it have stopped, so that what a stage before it
 * finished (a delivery post drains) still passes on and is recorded and
 * committed after it.  For at most CLI_DRAIN_S seconds, then it says so
 * and ends; a second signal ends it at once; a reader gone meanwhile ends
 * it quietly (SIGPIPE).  At exit after such a stop it ends by the signal,
 * so a shell sees the run was stopped.  Any other input, or a signal the
 * shell set to be ignored: the signals keep their action.
 */
#define CLI_DRAIN_S 25
void cli_drain_on_stop(int fd);
/* The stop signal cli_drain_on_stop took, or 0. */
int cli_stop_taken(void);
/*
 * Hold PATH.lock, exclusively, until exit: two processes on one offset
 * file, state file or spool would undo each other's work.  The lock file is
 * never renamed (PATH may be, at every commit), so the lock stays on one
 * inode; it holds the holder's pid, for the message.  Exits 2 when another
 * process holds it ("PATH: in use by another closehook-NAME (pid N)") or
 * when it cannot be made ("cannot lock WHAT PATH: PATH.lock: ...").
 * Returns the lock file's descriptor (for fstat: its inode names PATH
 * across renames of PATH).
 */
int cli_lock(const char *path, const char *what);

/*
 * 1 when a progress line may be drawn and redrawn in place on stderr: it is
 * a terminal, and stdout does not write to the same one (isatty and the
 * same st_rdev), where data lines would be overwritten and interleaved
 * with it.  Else 0.
 */
int cli_progress_tty(void);

/* Wall clock in seconds since the epoch, and a monotonic clock in ns. */
/*
 * Allocation that cannot fail: out of memory is exit 2 with
 * "PROG: out of memory" (nothing a program could do would help).
 */
void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull, alloc_size(1)));
void *xcalloc(size_t n, size_t size)
    __attribute__((malloc, returns_nonnull, alloc_size(1, 2)));
void *
xrealloc(void *p, size_t n) __attribute__((returns_nonnull, alloc_size(2)));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *
xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
/* n bytes of s and a NUL after them. */
char *xmemdup(const void *s, size_t n) __attribute__((malloc, returns_nonnull));

int64_t cli_now(void);
uint64_t cli_mono_ns(void);
/*
 * CLOSEHOOK_CORES=1 in the environment (closehook(7)): keep a program's
 * work on one thread, with no second thread beside the first (recloop.h's
 * second core, closehook-dedupe's store thread).  Read once.
 */
int cli_one_core(void);

#endif
