/*
 * closehook-verify - check Close webhook signatures.
 *
 * For each capture read (DESIGN.md section 2), take the close-sig-timestamp
 * and close-sig-hash headers, check the timestamp against the replay window,
 * and compare HMAC-SHA256(key, timestamp || raw body) in constant time with
 * every key that applies to the subscription the body names.  A verified
 * body is written unchanged as one event record (its literal CR and LF bytes,
 * which valid JSON holds only as whitespace, become spaces).  Anything else
 * is a reject: one stderr line, one --rejects line, and the stream goes on.
 *
 * Raw mode (--timestamp and --signature) checks one body read as raw bytes.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "capture.h"
#include "cli.h"
#include "closesig.h"
#include "hmac.h"
#include "isotime.h"
#include "json.h"
#include "keyring.h"
#include "lr.h"
#include "readfile.h"
#include "recloop.h"
#include "rejline.h"
#include "metrics.h"
#include "out.h"

static const char synopsis[] =
    "closehook-verify [-q] [--secret-file FILE]... [--max-age DURATION] "
    "[--now TIME]\n"
    "\t[--explain] [--summary | --no-summary] [--rejects FILE] "
    "[--metrics FILE]\n"
    "\t[--max-line BYTES] [--fail-fast] [FILE...]\n"
    "       closehook-verify --timestamp TS --signature HEX "
    "[--secret-file FILE]...\n"
    "\t[--max-age DURATION] [--now TIME] [--explain] [--max-line BYTES] "
    "[-q] [FILE]\n";

/*
 * The keys in use.  When a capture is refused for its key while a key
 * file has changed since it was read, the files are read again (at most
 * once a RELOAD_GAP_NS, on the first thread) and the new ring replaces
 * the pointer; the second thread may still be checking with the old one,
 * so replaced rings are kept (retired) until exit, a few hundred bytes a
 * key each.
 */
static struct keyring *_Atomic keys;
static struct keyring **retired;
static size_t nretired;
#define RELOAD_GAP_NS 1000000000ull
static int64_t max_age = 300;
static int64_t now;
static int have_now;
static int quiet;
static int fail_fast;
static int explain; /* --explain */
static int summary = -1; /* --summary, --no-summary; -1: when a tty */
static const char **secret; /* the --secret-file operands, in order */
static struct out out, rej;
static int have_rej;
static unsigned long nrejected;
/* For --metrics: lines read, bodies written, rejects by reason. */
static unsigned long nread, nverified, nreason[CLOSESIG_COUNT];
static struct metrics met;

static void
usage(void)
{
	cli_usage(synopsis);
}

static void
help(void)
{
	printf("usage: %s", synopsis);
	printf(
	    "\n"
	    "Check Close webhook signatures: read captures, write each "
	    "verified body.\n"
	    "\n"
	    "  --secret-file FILE   key file: HEXKEY or SUBSCRIPTION_ID HEXKEY "
	    "per line\n"
	    "  --max-age DURATION   replay window (default 5m; 0: off), "
	    "around each\n"
	    "                       capture's received_at, or now when it has "
	    "none\n"
	    "  --now TIME           check every timestamp against this time "
	    "instead\n"
	    "  --rejects FILE       append each reject as an NDJSON line\n"
	    "  --metrics FILE       keep Prometheus metrics in FILE\n"
	    "  --max-line BYTES     longest capture line (default 16M)\n"
	    "  --fail-fast          stop at the first reject\n"
	    "  --explain            say why each reject fails: age, keys "
	    "tried, "
	    "and the\n"
	    "                       usual mistake that makes the signature "
	    "match\n"
	    "  --summary            a count of reads, verifies and rejects at "
	    "the end\n"
	    "                       (the default when stderr is a terminal)\n"
	    "  --no-summary         no such count\n"
	    "  --timestamp TS       raw mode: the close-sig-timestamp header\n"
	    "  --signature HEX      raw mode: the close-sig-hash header\n"
	    "  -q, --quiet          no stderr line per reject\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n"
	    "\n"
	    "Keys also come from $CLOSEHOOK_SECRET and "
	    "$CLOSEHOOK_SECRET_FILE.\n");
	exit(cli_close_out());
}

/* Check one message against the key ring and the window around m->ref. */
static enum closesig_reason
check(const struct closesig_msg *m)
{
	return closesig_check_msg(keys, max_age, m);
}

/*
 * The time a capture's timestamp is checked against: when it was received
 * (its received_at), so a pipeline catching up on a spool after downtime
 * judges each capture by when it arrived, not by when it is read.  --now
 * overrides that; a capture without a readable received_at uses the clock.
 */
static int64_t
reference_time(const struct capture *c, const char **which)
{
	struct isotime t;
	char buf[64];
	size_t n;

	*which = have_now ? "--now" : "clock";
	if (have_now || c->received_at.type != JSON_STRING ||
	    c->received_at.n > sizeof(buf))
		return now;
	n = json_str_unescape(c->received_at, buf);
	if (isotime_parse(buf, n, &t) != 0)
		return now;
	*which = "received_at";
	return t.sec;
}

/* Write a verified body to o as one line: CR and LF become spaces. */
static void
body_line(struct out *o, char *body, size_t n, int crlf)
{
	char *p = body, *end = body + n;

	/* crlf: the body may hold them (the decoder says when it does). */
	while (crlf && p < end) {
		size_t left = (size_t)(end - p);
		char *cr = memchr(p, '\r', left), *lf = memchr(p, '\n', left);
		char *q = cr == NULL ? lf : lf == NULL ? cr : cr < lf ? cr : lf;

		if (q == NULL)
			break;
		*q = ' ';
		p = q + 1;
	}
	out_write(o, body, n);
	out_putc(o, '\n');
}

static void
emit(char *body, size_t n, int crlf)
{
	body_line(&out, body, n, crlf);
	nverified++;
}

/* What --explain found for one reject, and against which time. */
struct why {
	struct closesig_explain ex;
	const char *ref; /* "received_at", "clock" or "--now" */
	const char *missing; /* a header that is missing, or NULL */
	char alike[200]; /* then the capture's headers named like one */
};

static void
rej_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
rej_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out_write(&rej, buf,
	    n < 0			  ? 0
		: (size_t)n < sizeof(buf) ? (size_t)n
					  : sizeof(buf) - 1);
}

static const char *
fingerprint(size_t k)
{
	return keys->v[k].fp;
}

/* The explanation as a JSON object in the rejects line. */
static void
rej_explain(const struct why *w)
{
	const struct closesig_explain *ex = &w->ex;
	size_t i;

	out_write(&rej, ",\"explain\":{", 12);
	if (w->missing != NULL) {
		out_write(&rej, "\"missing_header\":", 17);
		out_json_str(&rej, w->missing, strlen(w->missing));
		out_putc(&rej, '}');
		return;
	}
	out_write(&rej, "\"reference\":", 12);
	out_json_str(&rej, w->ref, strlen(w->ref));
	if (ex->have_ts)
		rej_printf(",\"age_seconds\":%lld", (long long)ex->age);
	rej_printf(
	    ",\"signature_valid\":%s", ex->signature_valid ? "true" : "false");
	out_write(&rej, ",\"keys_tried\":[", 15);
	for (i = 0; i < ex->ntried; i++) {
		const struct keyring_entry *e = &keys->v[ex->tried[i]];

		rej_printf("%s{\"fingerprint\":\"%s\",\"subscription\":",
		    i > 0 ? "," : "", e->fp);
		if (e->sublen > 0)
			out_json_str(&rej, e->sub, e->sublen);
		else
			out_write(&rej, "null", 4);
		out_putc(&rej, '}');
	}
	out_write(&rej, "],\"subscription_id\":", 20);
	if (ex->have_sub)
		out_json_str(&rej, ex->sub, strlen(ex->sub));
	else
		out_write(&rej, "null", 4);
	rej_printf(",\"body_bytes\":%zu,\"body_sha256\":\"%s\"", ex->body_bytes,
	    ex->body_sha256);
	if (!ex->body_json)
		rej_printf(
		    ",\"body_error\":{\"offset\":%zu,\"message\":\"%s\"}",
		    ex->body_err_off, ex->body_err_msg);
	if (ex->cause != NULL) {
		rej_printf(",\"likely_cause\":\"%s\"", ex->cause);
		if (strcmp(ex->cause, "wrong-key") != 0 &&
		    strcmp(ex->cause, "body-damaged") != 0)
			rej_printf(",\"matching_key\":\"%s\"",
			    fingerprint(ex->cause_key));
		if (strncmp(ex->cause, "timestamp-", 10) == 0)
			rej_printf(",\"matching_timestamp\":%lld",
			    (long long)ex->cause_ts);
	}
	out_putc(&rej, '}');
}

/* One line of the explanation on stderr, under the reject line. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("    ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* What each likely cause means, ending where the key's name follows. */
static const struct {
	const char *name, *why;
} causes[] = {
	{ "trailing-newline-added",
	    "the body ends in a newline Close did not send (an editor, echo "
	    "or a copy added it); without it the signature matches" },
	{ "bom-added",
	    "the body starts with a byte-order mark Close did not send (a "
	    "Windows editor or tool added it); without it the signature "
	    "matches" },
	{ "crlf-line-endings",
	    "the body's line ends became CRLF on the way; with LF the "
	    "signature matches" },
	{ "reserialized-body",
	    "the body was parsed and written again (pretty-printed or "
	    "compacted): verify the raw bytes as received; as Close "
	    "serialises it the signature matches" },
	{ "key-as-text",
	    "the signature was made with the key's hex digits as text; "
	    "decoded to bytes first, as Close does, the one that matches is" },
	{ "saved-by-an-editor",
	    "the body gained what an editor adds when it saves a file (a "
	    "byte-order mark, CRLF line ends, a final newline); without them "
	    "the signature matches" },
	{ "json-escaped-body",
	    "the body is still escaped as a JSON string, as a log or a tool "
	    "printed it ({\\\"event\\\": ...}); decoded (jq -r .) the "
	    "signature matches" },
	{ "body-before-timestamp",
	    "the HMAC was taken over the body and then the timestamp; Close "
	    "signs the timestamp, then the body; that order matches" },
};

/* The explanation for a person at a terminal. */
static void
say_explain(enum closesig_reason r, const struct why *w)
{
	const struct closesig_explain *ex = &w->ex;
	char keylist[512];
	size_t i, kl = 0;

	if (w->missing != NULL) {
		if (w->alike[0] != '\0')
			say("the capture has no %s header, but has %s: Close "
			    "sends close-sig-hash and close-sig-timestamp; a "
			    "proxy or the capturing tool renamed it",
			    w->missing, w->alike);
		else
			say("the capture has no %s header: Close sends "
			    "close-sig-hash and close-sig-timestamp with every "
			    "delivery; a proxy or the capturing tool dropped "
			    "it",
			    w->missing);
		return;
	}
	if (ex->have_ts) {
		long long a = (long long)ex->age;

		say("timestamp %lld: %lld s %s %s", (long long)ex->ts,
		    a < 0 ? -a : a, a < 0 ? "after" : "before",
		    strcmp(w->ref, "received_at") == 0
			? "the capture's received_at"
			: strcmp(w->ref, "--now") == 0 ? "--now"
						       : "now");
	}
	if (ex->ts_millis)
		say("the timestamp looks like milliseconds: Close sends "
		    "seconds");
	if (ex->body_json)
		say("body: %zu bytes, sha256 %.16s..., a JSON object",
		    ex->body_bytes, ex->body_sha256);
	else
		say("body: %zu bytes, sha256 %.16s..., not a JSON object (%s "
		    "at byte %zu)",
		    ex->body_bytes, ex->body_sha256, ex->body_err_msg,
		    ex->body_err_off);
	if (ex->body_gzip)
		say("the body is gzip data (it starts with 1f 8b): something "
		    "on the way compressed it; Close signs the JSON, so verify "
		    "what gunzip gives");
	for (i = 0; i < ex->ntried && kl < sizeof(keylist) - 64; i++) {
		const struct keyring_entry *e = &keys->v[ex->tried[i]];

		kl += (size_t)snprintf(keylist + kl, sizeof(keylist) - kl,
		    "%s%s (%s%.*s)", i > 0 ? ", " : "", e->fp,
		    e->sublen > 0 ? "bound to " : "any subscription",
		    (int)(e->sublen > 40 ? 40 : e->sublen), e->sub);
	}
	keylist[kl] = '\0';
	if (ex->ntried == 0) {
		say("no key applies: the body names %s%s%s, and every key is "
		    "bound to another subscription",
		    ex->have_sub ? "subscription " : "no subscription",
		    ex->have_sub ? ex->sub : "", "");
		return;
	}
	say("keys tried: %s%s", keylist,
	    ex->napplicable > ex->ntried ? ", ..." : "");
	if (!ex->sig_hex) {
		say("the signature is not 64 hex digits: nothing to compare");
		return;
	}
	if (ex->signature_valid) {
		if (r == CLOSESIG_STALE || r == CLOSESIG_FUTURE)
			say("the signature is genuine: it matches with the "
			    "window ignored; the delivery lies outside "
			    "--max-age (a replay, a clock off, or a spool read "
			    "long after without received_at)");
		else
			say("the signature matches as given");
		return;
	}
	if (ex->cause == NULL)
		return;
	if (strcmp(ex->cause, "timestamp-changed") == 0) {
		say("likely cause: timestamp-changed: the signature matches "
		    "key %s with timestamp %lld (%+lld s): the headers and "
		    "the body come from different deliveries",
		    fingerprint(ex->cause_key), (long long)ex->cause_ts,
		    (long long)(ex->cause_ts - ex->ts));
		return;
	}
	if (strcmp(ex->cause, "timestamp-in-milliseconds") == 0) {
		say("likely cause: timestamp-in-milliseconds: the timestamp "
		    "header is in milliseconds, but the signature matches key "
		    "%s with it in seconds (%lld), as Close sends it: a tool "
		    "on the way rewrote the header",
		    fingerprint(ex->cause_key), (long long)ex->cause_ts);
		return;
	}
	if (strcmp(ex->cause, "key-of-another-subscription") == 0) {
		const struct keyring_entry *e = &keys->v[ex->cause_key];

		say("likely cause: key-of-another-subscription: the signature "
		    "matches key %s, which the key file binds to %.*s, while "
		    "the body names %s: bind that key to the subscription "
		    "that uses it, or this is %.*s's delivery",
		    e->fp, (int)(e->sublen > 40 ? 40 : e->sublen), e->sub,
		    ex->have_sub ? ex->sub : "no subscription",
		    (int)(e->sublen > 40 ? 40 : e->sublen), e->sub);
		return;
	}
	for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
		if (strcmp(ex->cause, causes[i].name) == 0) {
			say("likely cause: %s: %s key %s", causes[i].name,
			    causes[i].why, fingerprint(ex->cause_key));
			return;
		}
	if (strcmp(ex->cause, "body-damaged") == 0) {
		if (ex->body_err_off >= ex->body_bytes)
			say("likely cause: body-damaged: the body ends in the "
			    "middle of a JSON value: it was cut short (a size "
			    "limit, a truncated copy or log line), so no key "
			    "can be judged on it; capture the whole body");
		else
			say("likely cause: body-damaged: the body is not JSON "
			    "from byte %zu on: it was changed on the way, or "
			    "it is not the body Close sent, so no key can be "
			    "judged on it",
			    ex->body_err_off);
		return;
	}
	say("likely cause: wrong-key: no usual mistake makes it match; it "
	    "was signed with another key (rotated, or another "
	    "subscription's), or the body was changed past what can be "
	    "undone (members reordered, a value edited)");
}

static void
reject(const char *file, unsigned long lineno, enum closesig_reason r,
    const char *detail, const char *line, size_t n, int line_is_json,
    const struct why *w)
{
	nrejected++;
	nreason[r]++;
	if (!quiet) {
		const char *rn = closesig_reason_name(r);

		/* Raw mode has one message, no line numbers. */
		if (lineno == 0)
			cli_warnx("%s: rejected: %s%s%s%s", file, rn,
			    detail != NULL ? " (" : "",
			    detail != NULL ? detail : "",
			    detail != NULL ? ")" : "");
		else if (detail != NULL)
			cli_recwarnx(
			    file, lineno, "rejected: %s (%s)", rn, detail);
		else
			cli_recwarnx(file, lineno, "rejected: %s", rn);
		if (w != NULL)
			say_explain(r, w);
	}
	if (!have_rej)
		return;
	rejline_begin(&rej, file, lineno, closesig_reason_name(r));
	if (detail != NULL)
		rejline_str(&rej, "detail", detail, strlen(detail));
	if (w != NULL)
		rej_explain(w);
	rejline_raw(&rej, "capture", line_is_json ? line : NULL, n);
	rejline_end(&rej, file, lineno);
}

/*
 * A header's value as text: a string decoded, a number (a timestamp
 * written as one) as written; spaces and tabs around it dropped, as HTTP
 * does.  Returns the length, or -1 when it does not fit.
 */
static long
header_text(struct json_span v, char *buf, size_t cap)
{
	size_t n, a = 0;

	if (v.n > cap)
		return -1;
	if (v.type == JSON_STRING)
		n = json_str_unescape(v, buf);
	else {
		memcpy(buf, v.p, v.n);
		n = v.n;
	}
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	while (a < n && (buf[a] == ' ' || buf[a] == '\t'))
		a++;
	memmove(buf, buf + a, n - a);
	return (long)(n - a);
}

/* The offending value, quoted and cut short, for a message. */
static const char *
quoted(const char *p, size_t n, char *dst, size_t cap)
{
	char esc[6 * 40 + 1];
	size_t m = n > 40 ? 40 : n;

	snprintf(dst, cap, "\"%.*s\"%s", (int)json_escape(p, m, esc), esc,
	    n > m ? "..." : "");
	return dst;
}

/*
 * The character at p (n bytes left) named so that an invisible one shows:
 * a control byte by its escape, other ASCII quoted, UTF-8 as U+XXXX.
 */
static const char *
char_name(const char *p, size_t n, char *dst, size_t cap)
{
	unsigned char c = (unsigned char)p[0];
	uint32_t cp;
	size_t len, k;

	if (c == '\r')
		snprintf(dst, cap, "a carriage return (\\r)");
	else if (c == '\n')
		snprintf(dst, cap, "a newline (\\n)");
	else if (c == ' ')
		snprintf(dst, cap, "a space");
	else if (c < 0x20 || c == 0x7f)
		snprintf(dst, cap, "the control byte 0x%02x", c);
	else if (c < 0x80)
		snprintf(dst, cap, "\"%c\"", c);
	else {
		len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
		cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
		for (k = 1;
		     k < len && k < n && ((unsigned char)p[k] & 0xc0) == 0x80;
		     k++)
			cp = cp << 6 | ((unsigned char)p[k] & 0x3f);
		if (len == 0 || k != len)
			snprintf(dst, cap, "the byte 0x%02x (not UTF-8)", c);
		else
			snprintf(dst, cap, "U+%04X", (unsigned)cp);
	}
	return dst;
}

/* Why a signature the checker calls bad is bad. */
static const char *
bad_sig_detail(const char *sig, size_t n, char *dst, size_t cap)
{
	char q[300], c[48];
	size_t i;

	if (n > 7 && strncasecmp(sig, "sha256=", 7) == 0) {
		snprintf(dst, cap,
		    "%s: a sha256= prefix; Close sends the bare hex digest",
		    quoted(sig, n, q, sizeof(q)));
		return dst;
	}
	for (i = 0; i < n && isxdigit((unsigned char)sig[i]); i++)
		;
	quoted(sig, n, q, sizeof(q));
	if (i == n)
		snprintf(dst, cap, "%s: %zu hex digits, not 64", q, n);
	else if (i == 64)
		snprintf(dst, cap, "%s: %s after the 64 hex digits", q,
		    char_name(sig + i, n - i, c, sizeof(c)));
	else
		snprintf(dst, cap, "%s: %s at character %zu is not a hex digit",
		    q, char_name(sig + i, n - i, c, sizeof(c)), i + 1);
	return dst;
}

/*
 * Report a reject r that check() gave for ts, sig and body against ref,
 * with its detail and, with --explain, the explanation.
 */
static void
judged(const char *file, unsigned long lineno, enum closesig_reason r,
    int64_t ref, const char *refname, const char *ts, size_t tsn,
    const char *sig, size_t sign, const char *body, size_t bodyn,
    const char *line, size_t n, int line_is_json)
{
	char detail[512], q[300];
	const char *d = NULL;
	struct why w;

	if (r == CLOSESIG_BAD_TS) {
		snprintf(detail, sizeof(detail), "%s: not decimal seconds",
		    quoted(ts, tsn, q, sizeof(q)));
		d = detail;
	} else if (r == CLOSESIG_BAD_SIG)
		d = bad_sig_detail(sig, sign, detail, sizeof(detail));
	if (explain) {
		closesig_explain(
		    keys, ref, ts, tsn, sig, sign, body, bodyn, &w.ex);
		w.ref = refname;
		w.missing = NULL;
	}
	reject(file, lineno, r, d, line, n, line_is_json, explain ? &w : NULL);
}

/* Does the quoted name k hold the word w, in any case? */
static int
name_holds(struct json_span k, const char *w)
{
	size_t i, n = strlen(w);

	for (i = 1; i + n < k.n; i++)
		if (strncasecmp(k.p + i, w, n) == 0)
			return 1;
	return 0;
}

/*
 * The names of the capture's headers that hold "sig" and what tells the
 * missing one (hash, time), any case, but Close's own two, as a list in
 * dst: a signature header a proxy renamed (x-close-sig-hash,
 * http_close_sig_hash).  Empty when there is none.
 */
static void
headers_alike(
    const char *line, size_t n, const char *missing, char *dst, size_t cap)
{
	const char *word = strstr(missing, "hash") != NULL ? "hash" : "time";
	struct json_span root, hs, k, v;
	struct json_iter it;
	size_t len = 0;

	dst[0] = '\0';
	if (json_parse(line, n, &root, NULL) != 0 ||
	    !json_object_get(root, "headers", 7, &hs) || hs.type != JSON_OBJECT)
		return;
	json_iter_init(&it, hs);
	while (json_iter_member(&it, &k, &v)) {
		if (!name_holds(k, "sig") || k.n > 64 || len + k.n + 2 >= cap ||
		    (k.n == 16 &&
			strncasecmp(k.p, "\"close-sig-hash\"", 16) == 0) ||
		    (k.n == 21 &&
			strncasecmp(k.p, "\"close-sig-timestamp\"", 21) == 0) ||
		    !name_holds(k, word))
			continue;
		len += (size_t)snprintf(dst + len, cap - len, "%s%.*s",
		    len > 0 ? ", " : "", (int)(k.n - 2), k.p + 1);
	}
}

/* A capture without one of the signature headers. */
static void
missing(const char *file, const struct lr_line *l, enum closesig_reason r,
    const char *header)
{
	struct why w;

	memset(&w, 0, sizeof(w));
	w.missing = header;
	if (explain)
		headers_alike(l->p, l->n, header, w.alike, sizeof(w.alike));
	reject(file, l->lineno, r, NULL, l->p, l->n, 1, explain ? &w : NULL);
}

/*
 * What checking one capture line found: r, and what a reject of each kind
 * reports.  Only reads the line and the key ring, and writes *f and the
 * body buffer: the second thread examines lines too (recloop.h).
 */
struct found {
	enum closesig_reason r;
	enum {
		FOUND_OK,
		FOUND_MALFORMED,
		FOUND_MISSING, /* a signature header */
		FOUND_TOOLONG, /* a header's value */
		FOUND_JUDGED /* check() said no */
	} kind;
	const char *why; /* MALFORMED: the detail; MISSING: the header */
	int line_is_json;
	char ts[64], sig[256];
	size_t tsn, sign;
	int64_t ref;
	const char *refname;
	size_t bn; /* the body's length in the buffer */
	int crlf; /* it may hold CR or LF */
};

/* A capture's decoded body, in a buffer reused from line to line. */
struct bodybuf {
	char *p;
	size_t cap;
};

/*
 * The part of examine before the signature: parse the capture, find its
 * headers and decode its body.  Returns 1 with m the message to check
 * (pointing into *f and the buffer), else 0 with *f the reject.
 */
static int
examine_parse(const struct lr_line *l, struct bodybuf *b, struct found *f,
    struct closesig_msg *m)
{
	static const char *const hdrs[] = { "close-sig-hash",
		"close-sig-timestamp" };
	struct capture c;
	struct json_span hv[2] = { { NULL, 0, JSON_NONE } };
	unsigned have;
	long tsn, sign, bn;

	f->kind = FOUND_MALFORMED;
	f->r = CLOSESIG_MALFORMED;
	f->line_is_json = 1;
	/* The body is decoded while the line is parsed: room for it all. */
	if (b->cap < l->n) {
		free(b->p);
		b->cap = l->n + 4096;
		b->p = xmalloc(b->cap);
	}
	if (capture_parse(l->p, l->n, &c, b->p, &f->why) != 0) {
		f->line_is_json = c.root.type != JSON_NONE;
		return 0;
	}
	bn = capture_body(&c, b->p);
	have = capture_headers(&c, hdrs, 2, hv);
	f->kind = FOUND_MISSING;
	if (!(have & 1)) {
		f->r = CLOSESIG_MISSING_SIG;
		f->why = "close-sig-hash";
		return 0;
	}
	if (!(have & 2)) {
		f->r = CLOSESIG_MISSING_TS;
		f->why = "close-sig-timestamp";
		return 0;
	}
	f->kind = FOUND_MALFORMED;
	if (bn < 0) {
		f->why = "body_base64 is not base64";
		return 0;
	}
	/* Longer values than any valid one are bad already. */
	f->kind = FOUND_TOOLONG;
	if ((tsn = header_text(hv[1], f->ts, sizeof(f->ts))) < 0) {
		f->r = CLOSESIG_BAD_TS;
		return 0;
	}
	if ((sign = header_text(hv[0], f->sig, sizeof(f->sig))) < 0) {
		f->r = CLOSESIG_BAD_SIG;
		return 0;
	}
	f->tsn = (size_t)tsn;
	f->sign = (size_t)sign;
	f->bn = (size_t)bn;
	f->crlf = c.body_base64 || c.body_crlf;
	f->ref = reference_time(&c, &f->refname);
	m->ref = f->ref;
	m->ts = f->ts;
	m->tsn = f->tsn;
	m->sig = f->sig;
	m->sign = f->sign;
	m->body = b->p;
	m->bodyn = f->bn;
	m->utf8 = !c.body_base64;
	return 1;
}

/* The signature's verdict r on what examine_parse found. */
static void
judge(struct found *f, enum closesig_reason r)
{
	f->r = r;
	f->kind = r == CLOSESIG_OK ? FOUND_OK : FOUND_JUDGED;
}

/*
 * A capture refused for its key: when a key file has changed since it was
 * read (closehook-subscribe create appended a key), read them again.
 * Returns 1 when the keys were replaced.  The first thread only.
 */
static int
keys_refresh(void)
{
	static uint64_t last;
	uint64_t t = cli_mono_ns();
	struct keyring *kr;

	if (!keyring_changed(keys))
		return 0;
	/* A second change within the gap: wait for it, not reject. */
	if (last != 0 && t - last < RELOAD_GAP_NS) {
		usleep((useconds_t)((RELOAD_GAP_NS - (t - last)) / 1000));
		t = cli_mono_ns();
	}
	last = t;
	if ((kr = keyring_reload(keys, "a key file changed")) == NULL)
		return 0;
	retired = xrealloc(retired, (nretired + 1) * sizeof(*retired));
	retired[nretired++] = keys;
	keys = kr;
	return 1;
}

static void
examine(const struct lr_line *l, struct bodybuf *b, struct found *f)
{
	struct closesig_msg m;
	enum closesig_reason r;

	if (!examine_parse(l, b, f, &m))
		return;
	r = check(&m);
	if (closesig_for_key(r) && keys_refresh())
		r = check(&m);
	judge(f, r);
}

/* Verify one capture line: write its body, or report why not. */
static void
verify_line(const char *file, struct lr_line *l, struct bodybuf *b)
{
	struct found f;

	examine(l, b, &f);
	switch (f.kind) {
	case FOUND_OK:
		emit(b->p, f.bn, f.crlf);
		break;
	case FOUND_MALFORMED:
		reject(file, l->lineno, f.r, f.why, l->p, l->n, f.line_is_json,
		    NULL);
		break;
	case FOUND_MISSING:
		missing(file, l, f.r, f.why);
		break;
	case FOUND_TOOLONG:
		reject(file, l->lineno, f.r, "too long", l->p, l->n, 1, NULL);
		break;
	case FOUND_JUDGED:
		judged(file, l->lineno, f.r, f.ref, f.refname, f.ts, f.tsn,
		    f.sig, f.sign, b->p, f.bn, l->p, l->n, 1);
		break;
	}
}

static void
setup_metrics(const char *path)
{
	static const struct metrics_def defs[] = {
		{ "closehook_verify_records_total", METRICS_COUNTER,
		    METRICS_ULONG, &nread, "Capture lines read.", NULL, NULL },
		{ "closehook_verify_verified_total", METRICS_COUNTER,
		    METRICS_ULONG, &nverified,
		    "Verified bodies written as event records.", NULL, NULL },
	};
	struct metrics_def d = { "closehook_verify_rejected_total",
		METRICS_COUNTER, METRICS_ULONG, NULL,
		"Captures rejected, by reason.", "reason", NULL };
	int k;

	metrics_init(&met, path);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	for (k = 0; k < CLOSESIG_COUNT; k++) {
		d.p = &nreason[k];
		d.value = closesig_reason_name(k);
		metrics_add(&met, &d, 1);
	}
	metrics_add_start_time(&met, "closehook_verify_start_time_seconds");
	metrics_start(&met);
	if (met.path != NULL) /* a reader that stops us: the file goes on */
		out_on_block(&out, metrics_blocked, &met, 1000);
}

/* The first thread's body buffer (the second thread has its own). */
static struct bodybuf body;

static int
on_line(void *arg, const char *file, struct lr_line *l)
{
	nread++;
	metrics_tick(&met);
	verify_line(file, l, &body);
	return fail_fast && nrejected > 0 ? -1 : 0;
}

/*
 * The second core (recloop.h): a capture that verifies becomes its body
 * line; any other is left to on_line, which reports it.  ctx: a thread's
 * two body buffers (struct prepbufs), the first for one line at a time.
 */
struct prepbufs {
	struct bodybuf b[2];
};

static int
prep_line(void *ctx, const struct lr_line *l, struct out *res)
{
	struct prepbufs *pb = ctx;
	struct found f;

	examine(l, &pb->b[0], &f);
	if (f.kind != FOUND_OK)
		return -1;
	body_line(res, pb->b[0].p, f.bn, f.crlf);
	return 0;
}

/*
 * Two captures at once (recloop.h): when both get as far as their
 * signatures, the two HMACs are computed together (closesig_check_pair).
 */
static void
prep_two(void *ctx, const struct lr_line *const l[2], struct out *res,
    int ok[2], size_t end[2])
{
	struct prepbufs *pb = ctx;
	struct closesig_msg m[2];
	enum closesig_reason r[2];
	struct found f[2];
	int have[2], j;

	for (j = 0; j < 2; j++)
		have[j] = examine_parse(l[j], &pb->b[j], &f[j], &m[j]);
	if (have[0] && have[1])
		closesig_check_pair(keys, max_age, m, r);
	for (j = 0; j < 2; j++) {
		if (have[j])
			judge(&f[j], have[0] && have[1] ? r[j] : check(&m[j]));
		ok[j] = f[j].kind == FOUND_OK ? 0 : -1;
		if (ok[j] == 0)
			body_line(res, pb->b[j].p, f[j].bn, f[j].crlf);
		end[j] = res->len;
	}
}

static int
on_prepped(
    void *arg, const char *file, struct lr_line *l, const char *res, size_t n)
{
	nread++;
	metrics_tick(&met);
	out_write(&out, res, n);
	nverified++;
	return 0;
}

static int
on_too_long(void *arg, const char *file, unsigned long lineno)
{
	nread++;
	metrics_tick(&met);
	reject(file, lineno, CLOSESIG_TOO_LONG, NULL, NULL, 0, 0, NULL);
	return fail_fast && nrejected > 0 ? -1 : 0;
}

/* Input may block: keep the metrics file up to date meanwhile. */
static void
on_idle(void *arg, int fd)
{
	metrics_idle(&met, fd);
}

/* Raw mode: one body from FILE or stdin, bounded by max_body. */
static int
verify_raw(const char *path, const char *ts, const char *sig, size_t max_body)
{
	const char *name =
	    path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
	struct closesig_msg m = { now, ts, strlen(ts), sig, strlen(sig), NULL,
		0, 0 };
	enum closesig_reason r;
	size_t n;
	char *buf;

	if ((buf = readfile(path == NULL ? "-" : path, max_body, &n)) == NULL) {
		if (errno != EFBIG)
			cli_fatal("%s", name);
		nrejected++;
		nreason[CLOSESIG_TOO_LONG]++;
		if (!quiet)
			cli_warnx("%s: rejected: %s", name,
			    closesig_reason_name(CLOSESIG_TOO_LONG));
		return CLI_EXIT_REJECTS;
	}
	nread++;
	m.body = buf;
	m.bodyn = n;
	r = check(&m);
	if (r != CLOSESIG_OK) {
		judged(name, 0, r, now, have_now ? "--now" : "clock", ts,
		    strlen(ts), sig, strlen(sig), buf, n, NULL, 0, 0);
		free(buf);
		return CLI_EXIT_REJECTS;
	}
	emit(buf, n, 1);
	free(buf);
	return CLI_EXIT_OK;
}

/*
 * --summary: "N read, N verified, N rejected (REASON N, ...)", the reasons
 * in the order of closehook-verify(1).
 */
static void
print_summary(void)
{
	char buf[1024];
	size_t n, k;
	int first = 1;

	n = (size_t)snprintf(buf, sizeof(buf),
	    "%lu read, %lu verified, %lu "
	    "rejected",
	    nread, nverified, nrejected);
	for (k = 0; k < CLOSESIG_COUNT && n < sizeof(buf) - 64; k++) {
		if (nreason[k] == 0)
			continue;
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s %lu",
		    first ? " (" : ", ", closesig_reason_name(k), nreason[k]);
		first = 0;
	}
	if (!first)
		snprintf(buf + n, sizeof(buf) - n, ")");
	cli_warnx("%s", buf);
}

int
main(int argc, char *argv[])
{
	enum {
		O_SECRET = 256,
		O_MAXAGE,
		O_NOW,
		O_REJECTS,
		O_METRICS,
		O_MAXLINE,
		O_FAILFAST,
		O_TS,
		O_SIG,
		O_EXPLAIN,
		O_SUMMARY,
		O_NOSUMMARY,
		O_VERSION
	};
	static const struct option longopts[] = {
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "max-age", required_argument, NULL, O_MAXAGE },
		{ "now", required_argument, NULL, O_NOW },
		{ "rejects", required_argument, NULL, O_REJECTS },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "fail-fast", no_argument, NULL, O_FAILFAST },
		{ "timestamp", required_argument, NULL, O_TS },
		{ "signature", required_argument, NULL, O_SIG },
		{ "explain", no_argument, NULL, O_EXPLAIN },
		{ "summary", no_argument, NULL, O_SUMMARY },
		{ "no-summary", no_argument, NULL, O_NOSUMMARY },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *rejpath = NULL, *raw_ts = NULL, *raw_sig = NULL;
	const char *metpath = NULL;
	size_t max_line = LR_DEFAULT_MAX_LINE;
	struct recloop loop = { 0 };
	struct prepbufs prepbufs[2] = { 0 };
	int ch, i, rc = CLI_EXIT_OK, ioerr = 0, nsecret = 0;

	cli_init("closehook-verify");
	cli_std_fds(CLI_STDOUT_DATA);
	cli_no_core_dumps();
	/* getopt's own messages name the program as STYLE.md wants. */
	argv[0] = (char *)cli_prog;
	keys = xmalloc(sizeof(struct keyring));
	keyring_init(keys);
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	/* Key files are loaded after the options: --explain changes how. */
	secret = xcalloc((size_t)argc, sizeof(*secret));
	while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SECRET:
			secret[nsecret++] = optarg;
			break;
		case O_MAXAGE:
			max_age = cli_opt_seconds(
			    "max-age", optarg, 0, 100LL * 365 * 86400);
			break;
		case O_EXPLAIN:
			explain = 1;
			break;
		case O_SUMMARY:
			summary = 1;
			break;
		case O_NOSUMMARY:
			summary = 0;
			break;
		case O_NOW:
			now = cli_opt_time("now", optarg);
			have_now = 1;
			break;
		case O_REJECTS:
			rejpath = optarg;
			break;
		case O_METRICS:
			metpath = optarg;
			break;
		case O_MAXLINE:
			max_line = cli_opt_size(
			    "max-line", optarg, 1, (uint64_t)1 << 32);
			break;
		case O_FAILFAST:
			fail_fast = 1;
			break;
		case O_TS:
			raw_ts = optarg;
			break;
		case O_SIG:
			raw_sig = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			help();
			break;
		case O_VERSION:
			cli_version();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((raw_ts == NULL) != (raw_sig == NULL)) {
		cli_warnx("--timestamp and --signature go together");
		usage();
	}
	if (raw_ts != NULL &&
	    (argc > 1 || rejpath != NULL || metpath != NULL)) {
		cli_warnx("raw mode takes at most one FILE, no --rejects and "
			  "no --metrics");
		usage();
	}
	keys->with_text = explain;
	for (i = 0; i < nsecret; i++)
		if (keyring_load_file(keys, secret[i]) != 0)
			exit(CLI_EXIT_FATAL);
	free(secret);
	secret = NULL;
	if (summary < 0)
		summary = isatty(STDERR_FILENO);
	if (keyring_load_env(keys) != 0)
		exit(CLI_EXIT_FATAL);
	if (keys->n == 0)
		cli_fatalx("no keys: give --secret-file, $CLOSEHOOK_SECRET or "
			   "$CLOSEHOOK_SECRET_FILE");
	if (!have_now)
		now = cli_now();
	out_init(&out, STDOUT_FILENO, "stdout");

	if (raw_ts != NULL) {
		rc = verify_raw(
		    argc > 0 ? argv[0] : NULL, raw_ts, raw_sig, max_line);
		goto done;
	}
	if (rejpath != NULL) {
		if (out_append_open(&rej, rejpath, 0600) != 0)
			cli_fatal("%s", rejpath);
		have_rej = 1;
	}
	setup_metrics(metpath);
	loop.out = &out;
	loop.side = have_rej ? &rej : NULL;
	loop.max_line = max_line;
	loop.line = on_line;
	loop.too_long = on_too_long;
	loop.idle = on_idle;
	loop.prep = prep_line;
	loop.prepped = on_prepped;
	loop.prep2 = prep_two;
	loop.prep_ctx = &prepbufs[0];
	loop.prep_ctx1 = &prepbufs[1];
	if (argc == 0)
		ioerr |= recloop_run(&loop, NULL) < 0;
	for (i = 0; i < argc && out.err == 0; i++) {
		ioerr |= recloop_run(&loop, argv[i]) < 0;
		if (fail_fast && nrejected > 0)
			break;
	}
	free(body.p);
	for (i = 0; i < 4; i++)
		free(prepbufs[i / 2].b[i % 2].p);
	if (nrejected > 0)
		rc = CLI_EXIT_REJECTS;
	if (ioerr)
		rc = CLI_EXIT_FATAL;
	if (have_rej && out_close(&rej) != 0) {
		cli_warn("%s", rejpath);
		rc = CLI_EXIT_FATAL;
	}
	metrics_close(&met);
done:
	rc = out_close_stdout(&out, rc);
	if (summary)
		print_summary();
	keyring_free(keys);
	free(keys);
	while (nretired > 0) {
		keyring_free(retired[--nretired]);
		free(retired[nretired]);
	}
	free(retired);
	return rc;
}
