/*
 * test-cli.c - strict number, size and duration parsing; stdout's write
 * errors at exit; which values of a secret-file option look like secrets.
 */
#include <sys/wait.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "tap.h"

/*
 * Run fn in a child whose stdout is /dev/full and whose stderr is a pipe;
 * returns its exit status and puts what it said in msg.
 */
static int
child(void (*fn)(void), char *msg, size_t cap)
{
	int p[2], st, fd;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe(p) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/full", O_WRONLY);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(p[1], 2) < 0)
			_exit(99);
		close(p[0]);
		fn();
		_exit(98);
	}
	close(p[1]);
	while (len + 1 < cap && (n = read(p[0], msg + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	msg[len] = '\0';
	close(p[0]);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* More than stdio's buffer: it meets the error inside printf. */
static void
print_long(void)
{
	int i;

	cli_init("closehook-test");
	for (i = 0; i < 1000; i++)
		printf("0123456789abcdefghijklmnopqrstuvwxyz\n");
	exit(cli_close_out());
}

/* Less than stdio's buffer: only the flush at exit meets it. */
static void
print_short(void)
{
	cli_init("closehook-test");
	printf("usage: closehook-test\n");
	exit(cli_close_out());
}

int
main(void)
{
	char msg[256];
	int64_t i, ms;
	uint64_t u;

	is_int(cli_int("42", 0, 100, &i), 0, "integer parses");
	is_int(i, 42, "integer value");
	is_int(cli_int("-5", -10, 10, &i), 0, "negative integer parses");
	is_int(i, -5, "negative value");
	is_int(cli_int("101", 0, 100, &i), -1, "above the range is refused");
	is_int(cli_int("12x", 0, 100, &i), -1, "trailing garbage is refused");
	is_int(cli_int("", 0, 100, &i), -1, "empty is refused");
	is_int(cli_int(" 1", 0, 100, &i), -1, "leading space is refused");
	is_int(cli_int("99999999999999999999", 0, INT64_MAX, &i), -1,
	    "overflow is refused");

	is_int(cli_size("16M", 1, UINT64_MAX, &u), 0, "16M parses");
	is_int(u, 16 * 1024 * 1024, "16M is 16 MiB");
	is_int(cli_size("4KiB", 1, UINT64_MAX, &u), 0, "4KiB parses");
	is_int(u, 4096, "4KiB value");
	is_int(cli_size("1G", 1, UINT64_MAX, &u), 0, "1G parses");
	is_int(u, 1024LL * 1024 * 1024, "1G value");
	is_int(cli_size("1T", 1, UINT64_MAX, &u), -1, "unknown suffix refused");
	is_int(cli_size("-1", 0, UINT64_MAX, &u), -1, "negative size refused");
	is_int(cli_size("0", 1, 10, &u), -1, "size below the minimum refused");

	is_int(cli_duration("30s", 0, INT64_MAX, &ms), 0, "30s parses");
	is_int(ms, 30000, "30s in ms");
	is_int(cli_duration("5m", 0, INT64_MAX, &ms), 0, "5m parses");
	is_int(ms, 300000, "5m in ms");
	is_int(cli_duration("12h", 0, INT64_MAX, &ms), 0, "12h parses");
	is_int(ms, 12LL * 3600 * 1000, "12h in ms");
	is_int(cli_duration("35d", 0, INT64_MAX, &ms), 0, "35d parses");
	is_int(ms, 35LL * 86400 * 1000, "35d in ms");
	is_int(cli_duration("500ms", 0, INT64_MAX, &ms), 0, "500ms parses");
	is_int(ms, 500, "500ms value");
	is_int(cli_duration("1.5h", 0, INT64_MAX, &ms), 0, "1.5h parses");
	is_int(ms, 5400000, "1.5h in ms");
	is_int(cli_duration("90", 0, INT64_MAX, &ms), 0, "bare number parses");
	is_int(ms, 90000, "bare number is seconds");
	is_int(cli_duration("5x", 0, INT64_MAX, &ms), -1, "bad unit refused");
	is_int(cli_duration("-5s", 0, INT64_MAX, &ms), -1,
	    "negative duration refused");
	is_int(cli_duration("nan", 0, INT64_MAX, &ms), -1, "nan refused");
	is_int(cli_duration("1e300d", 0, INT64_MAX, &ms), -1,
	    "huge duration refused");
	is_int(cli_duration("2s", 0, 1000, &ms), -1, "above the maximum refused");
	is_int(cli_duration("0x1e", 0, INT64_MAX, &ms), -1, "hex refused");
	is_int(cli_duration("1e2", 0, INT64_MAX, &ms), -1, "an exponent refused");
	is_int(cli_duration("30.", 0, INT64_MAX, &ms), -1,
	    "a point without digits after it refused");
	is_int(cli_duration("", 0, INT64_MAX, &ms), -1, "empty refused");
	is_int(cli_duration("s", 0, INT64_MAX, &ms), -1, "a unit alone refused");
	ok(cli_duration(".5s", 0, INT64_MAX, &ms) == 0 && ms == 500,
	    ".5s is 500 ms");
	ok(cli_duration("0.4ms", 0, INT64_MAX, &ms) == 0 && ms == 1,
	    "a positive duration under a millisecond is 1 ms, not 0 (off)");
	ok(cli_duration("0", 0, INT64_MAX, &ms) == 0 && ms == 0, "0 is 0");

	/* Values that look like secrets, and paths that do not. */
	ok(cli_looks_secret("b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d"
			    "33ab042eb8abb4"),
	    "a hex key looks like a secret");
	ok(cli_looks_secret("whsub_abc b9260244ef33625f9b4b26a27db08758cdd3947"
			    "8b852c73f2d33ab042eb8abb4"),
	    "a key file's line looks like a secret");
	ok(cli_looks_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
	    "a whsec_ secret looks like a secret");
	ok(cli_looks_secret("whsk_AAAA"), "a whsk_ key looks like a secret");
	ok(cli_looks_secret("api_3sYTxQ5mK2.4fHj8Kq"),
	    "a Close API key looks like a secret");
	ok(cli_looks_secret("https://hooks.slack.com/services/T0/B0/XXXX"),
	    "a URL looks like a secret");
	ok(cli_looks_secret("user:hunter2"),
	    "user:password looks like a secret");
	ok(cli_looks_secret("X-Api-Key: 12345"),
	    "a header line looks like a secret");
	ok(cli_looks_secret("eyJhbGciOiJIUzI1NiJ9.e30.abc"),
	    "a JWT looks like a secret");
	ok(cli_looks_secret("Zk9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZg"),
	    "a long base64 token looks like a secret");
	ok(cli_looks_secret("Zk9v/YmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZg=="),
	    "padded base64 with a slash looks like a secret");
	ok(!cli_looks_secret("/etc/closehook/keys"), "a path does not");
	ok(!cli_looks_secret("keys"), "a bare file name does not");
	ok(!cli_looks_secret("helpdesk-token"), "a name with a dash does not");
	ok(!cli_looks_secret("/var/lib/closehook/Backups2024/helpdesk-token"),
	    "a long path without padding does not");
	ok(!cli_looks_secret("closehook-backfill-2024-api-key.txt"),
	    "a long file name with a dot does not");
	ok(!cli_looks_secret("/dev/fd/63"), "a descriptor's path does not");
	is_str(cli_secret_name("--secret-file", "/etc/closehook/keys"),
	    "/etc/closehook/keys", "a path is named as it is");
	is_str(cli_secret_name("--secret-file",
		   "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab04"),
	    "--secret-file (its value looks like a secret, not the path of a "
	    "file holding one: not shown)",
	    "a key is not");

	fflush(stdout);
	is_int(child(print_short, msg, sizeof(msg)), 2,
	    "a short text to a full stdout: exit 2");
	is_str(msg, "closehook-test: stdout: No space left on device\n",
	    "and the flush's error is named");
	is_int(child(print_long, msg, sizeof(msg)), 2,
	    "a long text to a full stdout: exit 2");
	is_str(msg, "closehook-test: stdout: No space left on device\n",
	    "and the error printf met is named");
	return tap_done();
}
