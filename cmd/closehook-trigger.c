/*
 * closehook-trigger - realistic sample Close webhook events, signed as
 * Close signs them: the counterpart of `stripe trigger`.
 *
 * For each EVENT (OBJECT_TYPE:ACTION, as Close names them) it makes
 * --count events in the image of Close's (common/closegen), applies the
 * --set overrides, serialises each payload as Close does (Python's
 * json.dumps with its defaults, common/jtree) and then writes it as a
 * signed capture (DESIGN.md section 2, what closehook-receive would have
 * written), writes it as an event record, or POSTs it to --url with
 * Close's headers and prints the answer's status.
 *
 * The signing key is the first of --secret-file (else of $CLOSEHOOK_SECRET
 * or $CLOSEHOOK_SECRET_FILE, as verify reads them), or a new one printed
 * once on stderr: the only place closehook prints a key, on purpose, for
 * a key that exists nowhere else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "capture.h"
#include "cli.h"
#include "closeevents.h"
#include "closegen.h"
#include "hmac.h"
#include "json.h"
#include "jtree.h"
#include "keyring.h"
#include "out.h"

static const char synopsis[] =
    "closehook-trigger [--secret-file FILE] [--count N] [--seed N]\n"
    "\t[--format capture|event] [--set PATH=JSON]... [--url URL] EVENT...\n";

/* With --seed, the clock starts here (2025-11-24T16:00:00Z), so that a
 * seed names one output for ever. */
#define SEED_EPOCH_MS 1764000000000LL
/* Each event moves the clock on by at most this much (closegen). */
#define STEP_MAX_MS 3000
#define SUB_MAX (KEYRING_SUB_MAX + 1)
#define CONNECT_TIMEOUT_MS 10000L
#define TOTAL_TIMEOUT_MS 30000L
#define RESPONSE_MAX (1024 * 1024)
#define USER_AGENT "closehook-trigger/" CLOSEHOOK_VERSION

enum format {
	F_CAPTURE,
	F_EVENT
};

/* One EVENT operand. */
struct event {
	size_t type; /* index in closeevents[] */
	const char *action;
};

/* One --set PATH=JSON. */
struct setop {
	const char *text; /* PATH as given, for messages */
	struct json_path path;
	struct jt *val;
};

static struct out out;
static struct hmac_key key;
static int have_key;
static char sub[SUB_MAX];
static struct setop *sets;
static size_t nsets;
static CURL *easy;
static char curl_err[CURL_ERROR_SIZE];
static size_t resp_bytes;

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
	    "Make realistic Close webhook events, signed as Close signs "
	    "them.\n"
	    "\n"
	    "  --secret-file FILE   sign with the first key of FILE (HEXKEY "
	    "or\n"
	    "                       SUBSCRIPTION_ID HEXKEY); else "
	    "$CLOSEHOOK_SECRET[_FILE],\n"
	    "                       else a new key, printed once\n"
	    "  --count N            N events of each EVENT (default 1)\n"
	    "  --seed N             the same events for the same N (default: "
	    "random)\n"
	    "  --format FORMAT      capture (signed captures, the default) or "
	    "event\n"
	    "  --set PATH=JSON      set a field of each payload, e.g.\n"
	    "                       event.data.status_label='\"Won\"' "
	    "(repeatable)\n"
	    "  --url URL            POST each event to URL as Close does; "
	    "print its status\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n"
	    "\n"
	    "EVENT is OBJECT_TYPE:ACTION as Close names it, e.g. "
	    "opportunity:updated.\n");
	exit(cli_close_out());
}

/* -- EVENT operands and --set ------------------------------------------- */

/*
 * OBJECT_TYPE:ACTION from the table; anything else is exit 2 with the
 * names Close knows (a name without a colon lists its type's events).
 */
static void
parse_event(char *s, struct event *e)
{
	char *colon = strchr(s, ':');
	long i;

	if (colon == NULL)
		closeevents_unknown(s, NULL);
	*colon = '\0';
	e->action = colon + 1;
	if ((i = closeevents_find(s, strlen(s))) < 0 ||
	    !closeevents_has((size_t)i, e->action, strlen(e->action)))
		closeevents_unknown(s, e->action);
	e->type = (size_t)i;
}

static void
parse_set(const char *arg, struct setop *op)
{
	const char *eq = strchr(arg, '=');
	char expr[1024];
	struct json_span v;
	struct json_error je;

	if (eq == NULL || eq == arg)
		cli_fatalx("invalid value for --set: %.40s (PATH=JSON, e.g. "
			   "event.data.status_label='\"Won\"')",
		    arg);
	if ((size_t)(eq - arg) + 2 > sizeof(expr))
		cli_fatalx("--set: PATH too long: %.40s...", arg);
	/* PATH is a jq simple path without its leading dot. */
	snprintf(expr, sizeof(expr), "%s%.*s",
	    arg[0] == '.' || arg[0] == '[' ? "" : ".", (int)(eq - arg), arg);
	op->text = strndup(arg, (size_t)(eq - arg));
	if (op->text == NULL)
		cli_fatalx("out of memory");
	if (json_path_compile(expr, &op->path) != 0 || op->path.nsteps == 0)
		cli_fatalx("--set %.60s: not a PATH (keys and [N] indexes "
			   "joined by dots, e.g. event.data.\"custom.cf_x\")",
		    op->text);
	if (json_parse(eq + 1, strlen(eq + 1), &v, &je) != 0)
		cli_fatalx("--set %.60s: invalid JSON at byte %zu: %s%s",
		    op->text, je.off, je.msg,
		    eq[1] != '"' && eq[1] != '{' && eq[1] != '[' &&
			    eq[1] != '-' && !(eq[1] >= '0' && eq[1] <= '9')
			? " (a string takes its quotes: PATH='\"text\"')"
			: "");
	op->val = jt_from_json(v);
}

/*
 * When an update's data changes, previous_data must still differ from it
 * in each changed field (Close sends only fields that changed): a field
 * the override made equal to its previous value gets, as previous value,
 * the one the generator had made.
 */
static void
keep_previous(struct jt *pl, const struct jt *old)
{
	struct jt *ev = jt_get(pl, "event"), *data, *prev, *ch, *nv, *pv;
	const struct jt *ov, *k;
	size_t i;

	data = jt_get(ev, "data");
	prev = jt_get(ev, "previous_data");
	ch = jt_get(ev, "changed_fields");
	if (data == NULL || prev == NULL || ch == NULL ||
	    prev->kind != JT_OBJ || ch->kind != JT_ARR)
		return;
	for (i = 0; i < ch->len; i++) {
		k = ch->elem[i];
		if (k->kind != JT_STR)
			continue;
		nv = jt_getn(data, k->s, k->n);
		pv = jt_getn(prev, k->s, k->n);
		if (nv == NULL || pv == NULL || !jt_equal(nv, pv))
			continue;
		ov = old != NULL ? jt_getn(old, k->s, k->n) : NULL;
		if (ov != NULL && !jt_equal(ov, nv))
			jt_setn(prev, k->s, k->n, jt_copy(ov));
		else
			jt_setn(prev, k->s, k->n,
			    nv->kind == JT_NULL ? jt_str("") : jt_null());
	}
}

static const char *
kind_name(enum jt_kind k)
{
	static const char *const names[] = { "null", "boolean", "boolean",
		"number", "string", "array", "object" };

	return names[k];
}

/* Whether a path step is the key k (step keys are not NUL-terminated). */
static int
step_is(const struct json_path_step *st, const char *k)
{
	return !st->is_index && st->keylen == strlen(k) &&
	    memcmp(st->key, k, st->keylen) == 0;
}

/* Set op's value at op's path in pl, making objects and arrays on the way
 * as jq's setpath does (null becomes one; arrays are padded with null). */
static void
apply_set(struct jt *pl, const struct setop *op)
{
	const struct json_path_step *st;
	struct jt *cur = pl, *next, *old = NULL, *ev;
	size_t i;

	if (op->path.nsteps >= 2 && step_is(&op->path.step[0], "event") &&
	    step_is(&op->path.step[1], "data") &&
	    (ev = jt_get(pl, "event")) != NULL && jt_get(ev, "data") != NULL)
		old = jt_copy(jt_get(ev, "data"));
	for (i = 0; i < op->path.nsteps; i++) {
		st = &op->path.step[i];
		if (cur->kind == JT_NULL)
			cur->kind = st->is_index ? JT_ARR : JT_OBJ;
		if (st->is_index ? cur->kind != JT_ARR : cur->kind != JT_OBJ)
			cli_fatalx("--set %.60s: cannot index %s %s with %s",
			    op->text, cur->kind == JT_ARR ? "an" : "a",
			    kind_name(cur->kind),
			    st->is_index ? "a number" : "a key");
		if (i == op->path.nsteps - 1)
			next = jt_copy(op->val);
		else
			next = NULL;
		if (st->is_index) {
			while (cur->len <= st->index)
				jt_push(cur, jt_null());
			if (next != NULL) {
				jt_free(cur->elem[st->index]);
				cur->elem[st->index] = next;
			}
			cur = cur->elem[st->index];
		} else {
			if (next != NULL)
				jt_setn(cur, st->key, st->keylen, next);
			else if (jt_getn(cur, st->key, st->keylen) == NULL)
				jt_setn(cur, st->key, st->keylen, jt_null());
			cur = jt_getn(cur, st->key, st->keylen);
		}
	}
	if (old != NULL) {
		keep_previous(pl, old);
		jt_free(old);
	}
}

/* -- keys ---------------------------------------------------------------- */

/*
 * The first key of the key file (path NULL: of $CLOSEHOOK_SECRET and
 * $CLOSEHOOK_SECRET_FILE, as verify and receive read them; 0 when neither
 * is set); a key bound to a subscription names the payloads'
 * subscription_id, so that closehook-verify and closehook-receive, which
 * use a bound key only for its subscription, accept them.
 */
static int
load_key(const char *path)
{
	struct keyring ring;

	keyring_init(&ring);
	if ((path != NULL ? keyring_load_file(&ring, path)
			  : keyring_load_env(&ring)) != 0)
		exit(CLI_EXIT_FATAL);
	if (ring.n == 0) {
		keyring_free(&ring);
		return 0;
	}
	if (ring.v[0].sublen > 0)
		memcpy(sub, ring.v[0].sub, ring.v[0].sublen + 1);
	/* The first key's schedule moves to key; the ring frees the rest
	 * (EVP_MD_CTX_free of NULL does nothing). */
	key = ring.v[0].hk;
	memset(&ring.v[0].hk, 0, sizeof(ring.v[0].hk));
	keyring_free(&ring);
	have_key = 1;
	return 1;
}

/* A new 32-byte key, shown once on stderr: nobody else has it. */
static void
new_key(void)
{
	unsigned char *k = sodium_malloc(32);
	char *hex = sodium_malloc(65);

	if (k == NULL || hex == NULL)
		cli_fatalx("out of memory");
	randombytes_buf(k, 32);
	sodium_bin2hex(hex, 65, k, 32);
	if (hmac_key_init(&key, k, 32) != 0)
		cli_fatalx("out of memory");
	cli_warnx("signing key (not saved): %s", hex);
	sodium_free(hex);
	sodium_free(k);
	have_key = 1;
}

/* -- output -------------------------------------------------------------- */

/* close-sig-hash of body at ts, lowercase hex, NUL-terminated. */
static void
sign(const char *ts, const char *body, size_t n, char hex[2 * HMAC_LEN + 1])
{
	unsigned char mac[HMAC_LEN];

	hmac_close_sig(&key, ts, strlen(ts), body, n, mac);
	hmac_hex_encode(mac, HMAC_LEN, hex);
	hex[2 * HMAC_LEN] = '\0';
	sodium_memzero(mac, sizeof(mac));
}

static void
emit_capture(const char *body, size_t n, int64_t at_ms, unsigned us)
{
	char ts[32], hex[2 * HMAC_LEN + 1], when[64], *line;
	struct capture_hdr h[4];
	struct capture_meta m = { 0 };
	struct tm tm;
	time_t sec = (time_t)(at_ms / 1000);
	size_t len;

	snprintf(ts, sizeof(ts), "%lld", (long long)(at_ms / 1000));
	sign(ts, body, n, hex);
	gmtime_r(&sec, &tm);
	len = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + len, sizeof(when) - len, ".%06uZ",
	    (unsigned)(at_ms % 1000) * 1000 + us % 1000);
	m.received_at = when;
	m.method = "POST";
	h[0] = (struct capture_hdr){ "close-sig-hash", 14, hex, strlen(hex) };
	h[1] =
	    (struct capture_hdr){ "close-sig-timestamp", 19, ts, strlen(ts) };
	h[2] =
	    (struct capture_hdr){ "content-type", 12, "application/json", 16 };
	h[3] = (struct capture_hdr){ "user-agent", 10, USER_AGENT,
		strlen(USER_AGENT) };
	line = xmalloc(capture_write_bound(&m, h, 4, body, n));
	len = capture_write(line, &m, h, 4, body, n);
	out_write(&out, line, len);
	free(line);
}

static size_t
on_response(char *p, size_t size, size_t nmemb, void *user)
{
	(void)p;
	(void)user;
	resp_bytes += size * nmemb;
	/* A bigger answer aborts the transfer: nothing reads it. */
	return resp_bytes > RESPONSE_MAX ? 0 : size * nmemb;
}

static void
setup_curl(const char *url)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
	    (easy = curl_easy_init()) == NULL)
		cli_fatalx("cannot initialise libcurl");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_response);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	if (curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") !=
		CURLE_OK ||
	    curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
		cli_fatalx("invalid value for --url: libcurl refuses it");
}

/* One line for stdout: the event and what the endpoint answered. */
static void
report(const char *id, const char *name, long status, const char *error)
{
	char *esc;
	size_t n;

	out_write(&out, "{\"event_id\":\"", 13);
	out_write(&out, id, strlen(id));
	out_write(&out, "\",\"event\":\"", 11);
	out_write(&out, name, strlen(name));
	if (error != NULL) {
		esc = xmalloc(6 * strlen(error) + 1);
		n = json_escape(error, strlen(error), esc);
		out_write(&out, "\",\"status\":0,\"error\":\"", 22);
		out_write(&out, esc, n);
		out_write(&out, "\"}\n", 3);
		free(esc);
	} else {
		char num[32];

		n = (size_t)snprintf(
		    num, sizeof(num), "\",\"status\":%ld}\n", status);
		out_write(&out, num, n);
	}
	out_flush(&out);
}

static void
add_header(struct curl_slist **hl, const char *line)
{
	struct curl_slist *t = curl_slist_append(*hl, line);

	if (t == NULL)
		cli_fatalx("out of memory");
	*hl = t;
}

/* Why a transfer failed, for stdout and stderr. */
static const char *
failure(CURLcode rc)
{
	if (resp_bytes > RESPONSE_MAX)
		return "response too large";
	return curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc);
}

/*
 * POST one body as Close does: the signature over a timestamp taken now,
 * JSON, no Expect: 100-continue.  Returns 0 when the answer was a 2xx.
 */
static int
post(const char *id, const char *name, const char *body, size_t n)
{
	char ts[32], hex[2 * HMAC_LEN + 1], line[128];
	struct curl_slist *hl = NULL;
	CURLcode rc;
	long status = 0;

	snprintf(ts, sizeof(ts), "%lld", (long long)cli_now());
	sign(ts, body, n, hex);
	snprintf(line, sizeof(line), "close-sig-hash: %s", hex);
	add_header(&hl, line);
	snprintf(line, sizeof(line), "close-sig-timestamp: %s", ts);
	add_header(&hl, line);
	add_header(&hl, "Content-Type: application/json");
	add_header(&hl, "User-Agent: " USER_AGENT);
	add_header(&hl, "Expect:");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	curl_err[0] = '\0';
	resp_bytes = 0;
	rc = curl_easy_perform(easy);
	curl_slist_free_all(hl);
	if (rc != CURLE_OK) {
		cli_warnx("%s: %s", id, failure(rc));
		report(id, name, 0, failure(rc));
		return -1;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	report(id, name, status, NULL);
	if (status < 200 || status > 299) {
		cli_warnx("%s: HTTP %ld", id, status);
		return -1;
	}
	return 0;
}

/*
 * Make one event, apply the overrides, serialise it as Close does, and
 * write it or send it.  Returns -1 when --url did not get a 2xx.
 */
static int
one_event(struct closegen *g, const struct event *e, const char *url,
    enum format format, struct jt_buf *body)
{
	struct jt *pl, *id;
	char name[128];
	int64_t t_ms;
	uint64_t x;
	size_t i;
	int rc = 0;

	pl = closegen_event(g, e->type, e->action, sub, &t_ms);
	/* Drawn whatever the output, so that a seed makes the same events
	 * as captures, as records and over HTTP. */
	x = closegen_rand(g);
	for (i = 0; i < nsets; i++)
		apply_set(pl, &sets[i]);
	body->n = 0;
	jt_dump(body, pl);
	if (url != NULL) {
		id = jt_get(jt_get(pl, "event"), "id");
		snprintf(name, sizeof(name), "%s:%s", closeevents[e->type].type,
		    e->action);
		rc = post(id != NULL && id->kind == JT_STR ? id->s : "", name,
		    body->p, body->n);
	} else if (format == F_CAPTURE) {
		/* Close delivers a moment after the event. */
		emit_capture(body->p, body->n, t_ms + 50 + (int64_t)(x % 1450),
		    (unsigned)(x >> 32));
	} else {
		out_write(&out, body->p, body->n);
		out_putc(&out, '\n');
	}
	jt_free(pl);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum {
		O_SECRET = 256,
		O_COUNT,
		O_SEED,
		O_FORMAT,
		O_SET,
		O_URL,
		O_VERSION
	};
	static const struct option longopts[] = {
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "count", required_argument, NULL, O_COUNT },
		{ "seed", required_argument, NULL, O_SEED },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "set", required_argument, NULL, O_SET },
		{ "url", required_argument, NULL, O_URL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *secret = NULL, *url = NULL;
	enum format format = F_CAPTURE;
	int have_format = 0, have_seed = 0, ch, i, rc = CLI_EXIT_OK;
	int64_t count = 1, seed = 0, r, start;
	struct event *ev;
	struct closegen *g;
	struct jt_buf body = { 0 };
	uint64_t useed;
	size_t j, nev;

	cli_init("closehook-trigger");
	cli_std_fds(CLI_STDOUT_DATA);
	argv[0] = (char *)cli_prog;
	cli_no_core_dumps(); /* it may hold a production key */
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SECRET:
			if (secret != NULL) {
				cli_warnx("--secret-file given twice");
				usage();
			}
			secret = optarg;
			break;
		case O_COUNT:
			count = cli_opt_int("count", optarg, 1, 100000000);
			break;
		case O_SEED:
			seed = cli_opt_int("seed", optarg, 0, INT64_MAX);
			have_seed = 1;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "capture") == 0)
				format = F_CAPTURE;
			else if (strcmp(optarg, "event") == 0)
				format = F_EVENT;
			else
				cli_fatalx("invalid value for --format: %.40s "
					   "(capture or event)",
				    optarg);
			have_format = 1;
			break;
		case O_SET:
			sets = xrealloc(sets, (nsets + 1) * sizeof(*sets));
			parse_set(optarg, &sets[nsets++]);
			break;
		case O_URL:
			if (strncasecmp(optarg, "http://", 7) != 0 &&
			    strncasecmp(optarg, "https://", 8) != 0)
				cli_fatalx("invalid value for --url: not an "
					   "http or https URL");
			url = optarg;
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
	if (argc == 0) {
		cli_warnx("no EVENT given");
		usage();
	}
	if (url != NULL && have_format) {
		cli_warnx("--format and --url exclude each other: with --url, "
			  "stdout has one status line per event");
		usage();
	}
	ev = xcalloc((size_t)argc, sizeof(*ev));
	for (i = 0; i < argc; i++)
		parse_event(argv[i], &ev[i]);
	nev = (size_t)argc;

	/* Set up: the key, the clock, the generator, the connection. */
	if (secret != NULL)
		(void)load_key(secret);
	else if (url != NULL || format == F_CAPTURE) {
		if (!load_key(NULL))
			new_key();
	}
	if (have_seed) {
		useed = (uint64_t)seed;
		start = SEED_EPOCH_MS;
	} else {
		randombytes_buf(&useed, sizeof(useed));
		/* Each event moves the clock on by STEP_MAX_MS at most, so
		 * none is later than now. */
		start = cli_now() * 1000 - (int64_t)nev * count * STEP_MAX_MS -
		    2000;
	}
	g = closegen_new(useed, start);
	if (sub[0] == '\0')
		closegen_id(g, "whsub_", 22, sub);
	if (url != NULL)
		setup_curl(url);
	out_init(&out, STDOUT_FILENO, "stdout");

	/* Rounds of one event per EVENT, so that lead:created lead:updated
	 * makes lifecycles of one lead each. */
	for (r = 0; r < count && out.err == 0; r++)
		for (j = 0; j < nev && out.err == 0; j++)
			if (one_event(g, &ev[j], url, format, &body) != 0)
				rc = CLI_EXIT_REJECTS;

	jt_buf_free(&body);
	closegen_free(g);
	for (j = 0; j < nsets; j++) {
		jt_free(sets[j].val);
		free((char *)sets[j].text);
	}
	free(sets);
	free(ev);
	if (easy != NULL) {
		curl_easy_cleanup(easy);
		curl_global_cleanup();
	}
	if (have_key)
		hmac_key_free(&key);
	return out_close_stdout(&out, rc);
}
