/*
 * closehook-subscribe - manage Close webhook subscriptions through the API
 * (GET/POST /webhook/, GET/PUT/DELETE /webhook/ID/) and watch their health.
 *
 * list writes one line per subscription, as Close sent it.  create
 * subscribes a URL to events and appends the signing key, which Close
 * shows only in the create answer, to a key file in closehook-verify's
 * format (`whsub_ID HEXKEY`), fsync'd, before anything else is written;
 * stdout gets the subscription without the key.  pause, resume and delete
 * act on one subscription.  check exits 1 when a subscription is not
 * active (Close pauses them silently after days of failed deliveries) and
 * can write Prometheus gauges for a textfile collector.
 *
 * Errors never look like success: an API that refuses the key or cannot be
 * reached is exit 2, never "no subscriptions".
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "atomicfile.h"
#include "cli.h"
#include "closeapi.h"
#include "closeevents.h"
#include "json.h"
#include "keyring.h"
#include "out.h"
#include "readfile.h"

static const char synopsis[] =
    "closehook-subscribe [--api-url URL] [--api-key-file FILE] [-n] list\n"
    "       closehook-subscribe [--api-url URL] [--api-key-file FILE] [-n] "
    "create\n"
    "\t--url URL --event OBJECT_TYPE:ACTION ... [--filter-file FILE]\n"
    "\t[--no-verify-ssl] --key-out FILE\n"
    "       closehook-subscribe [--api-url URL] [--api-key-file FILE] [-n]\n"
    "\tpause | resume | delete ID\n"
    "       closehook-subscribe [--api-url URL] [--api-key-file FILE] "
    "check\n"
    "\t[--metrics FILE] [--secret-file FILE ...]\n";

#define ID_MAX 128
#define EVENTS_MAX 64
#define FILTER_MAX (1024 * 1024)
#define PAGES_MAX 1000
#define STATUSES_MAX 16

enum cmd {
	C_NONE,
	C_LIST,
	C_CREATE,
	C_PAUSE,
	C_RESUME,
	C_DELETE,
	C_CHECK
};

static struct closeapi *api;
static struct out out;
static volatile sig_atomic_t stop;
static int dry_run;
static const char *api_url = CLOSEAPI_DEFAULT_URL;
static const char *metrics_path; /* check --metrics */
static const char **secret_files; /* check --secret-file */
static size_t nsecret;
static enum cmd cmd;
static const char *unlink_on_fail; /* a key file create made, still empty */

/* A growable byte buffer for request bodies. */
struct buf {
	char *p;
	size_t n, cap;
};

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
	    "Manage Close webhook subscriptions and watch their health.\n"
	    "\n"
	    "Commands:\n"
	    "  list                 one JSON line per subscription\n"
	    "  create               subscribe --url to each --event; the "
	    "signing key is\n"
	    "                       appended to --key-out, never written to "
	    "stdout\n"
	    "  pause ID, resume ID  set a subscription's status\n"
	    "  delete ID            delete a subscription\n"
	    "  check                exit 0 when every subscription is active, "
	    "1 when\n"
	    "                       one is paused (saying which and why) or, "
	    "with\n"
	    "                       --secret-file, has no key; 2 on errors\n"
	    "\n"
	    "Options:\n"
	    "  --api-url URL        API base (default " CLOSEAPI_DEFAULT_URL
	    ")\n"
	    "  --api-key-file FILE  read the API key from FILE (else "
	    "$CLOSE_API_KEY)\n"
	    "  -n, --dry-run        print the request that would be sent, send "
	    "nothing\n"
	    "  --url URL            create: where Close is to POST the events\n"
	    "  --event TYPE:ACTION  create: an object_type:action to subscribe "
	    "to\n"
	    "                       (repeatable), e.g. opportunity:updated\n"
	    "  --filter-file FILE   create: extra_filter JSON, one filter for "
	    "every\n"
	    "                       event or an object of them keyed "
	    "TYPE:ACTION\n"
	    "  --no-verify-ssl      create: Close does not check the URL's "
	    "certificate\n"
	    "  --key-out FILE       create: append \"whsub_ID HEXKEY\" to FILE "
	    "(0600)\n"
	    "  --metrics FILE       check: Prometheus gauges written to FILE\n"
	    "  --secret-file FILE   check: name the subscriptions no key of "
	    "FILE applies to\n"
	    "                       (repeatable)\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n");
	exit(cli_close_out());
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* -- buffers ------------------------------------------------------------- */

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	char *np;
	size_t c;

	if (b->n + n + 1 > b->cap) {
		c = b->cap ? b->cap : 1024;
		while (c < b->n + n + 1)
			c *= 2;
		np = xrealloc(b->p, c);
		b->p = np;
		b->cap = c;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void
buf_lit(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* A JSON string with quotes. */
static void
buf_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);
	char *esc;

	esc = xmalloc(6 * n + 1);
	n = json_escape(s, n, esc);
	buf_add(b, "\"", 1);
	buf_add(b, esc, n);
	buf_add(b, "\"", 1);
	free(esc);
}

/* JSON bytes, with literal CR and LF (whitespace in valid JSON) as spaces,
 * so that a pretty-printed value fits one line. */
static void
buf_json(struct buf *b, const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++)
		if (p[i] == '\n' || p[i] == '\r') {
			buf_add(b, p + start, i - start);
			buf_add(b, " ", 1);
			start = i + 1;
		}
	buf_add(b, p + start, n - start);
}

static void
emit_json(const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++)
		if (p[i] == '\n' || p[i] == '\r') {
			out_write(&out, p + start, i - start);
			out_putc(&out, ' ');
			start = i + 1;
		}
	out_write(&out, p + start, n - start);
}

/* A string member of obj, decoded and made printable, into dst (cap > 0);
 * "" when absent or not a string. */
static const char *
member_text(struct json_span obj, const char *key, char *dst, size_t cap)
{
	struct json_span v;
	char *tmp;
	size_t n, i;

	dst[0] = '\0';
	if (!json_object_get(obj, key, strlen(key), &v) ||
	    v.type != JSON_STRING)
		return dst;
	tmp = xmalloc(v.n);
	n = json_str_unescape(v, tmp);
	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = (unsigned char)tmp[i] < 0x20 || tmp[i] == 0x7f
		    ? '?'
		    : tmp[i];
	dst[n] = '\0';
	free(tmp);
	return dst;
}

/* -- metrics --------------------------------------------------------------- */

struct tally {
	char status[STATUSES_MAX][32];
	unsigned count[STATUSES_MAX];
	size_t n;
	unsigned total, inactive;
	unsigned keyless; /* --secret-file: subscriptions no key applies to */
	char (*ids)[ID_MAX + 1]; /* --secret-file: the subscriptions seen */
	size_t nids;
};

/* check --secret-file: the keys the receiver and the followers read. */
static struct keyring *ckeys;

/* A status as a Prometheus label value: [a-z0-9_] or "other". */
static void
tally_add(struct tally *t, const char *status)
{
	const char *s;
	size_t i;

	for (s = status; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
			*s == '_'))
			break;
	if (*s != '\0' || *status == '\0' || strlen(status) >= 32)
		status = "other";
	for (i = 0; i < t->n; i++)
		if (strcmp(t->status[i], status) == 0)
			break;
	if (i == t->n) {
		if (t->n == STATUSES_MAX)
			i = t->n - 1; /* folded into the last kind */
		else
			snprintf(t->status[t->n++], 32, "%s", status);
	}
	t->count[i]++;
	t->total++;
}

static void
write_metrics(const struct tally *t, int success)
{
	struct buf b = { NULL, 0, 0 };
	char line[256];
	size_t i;
	int seen_active = 0, seen_paused = 0;

	if (metrics_path == NULL)
		return;
	if (success) {
		buf_lit(&b,
		    "# HELP closehook_subscribe_subscriptions Close webhook "
		    "subscriptions by status.\n"
		    "# TYPE closehook_subscribe_subscriptions gauge\n");
		for (i = 0; i < t->n; i++) {
			seen_active |= strcmp(t->status[i], "active") == 0;
			seen_paused |= strcmp(t->status[i], "paused") == 0;
		}
		if (!seen_active)
			buf_lit(&b,
			    "closehook_subscribe_subscriptions"
			    "{status=\"active\"} 0\n");
		if (!seen_paused)
			buf_lit(&b,
			    "closehook_subscribe_subscriptions"
			    "{status=\"paused\"} 0\n");
		for (i = 0; i < t->n; i++) {
			snprintf(line, sizeof(line),
			    "closehook_subscribe_subscriptions"
			    "{status=\"%s\"} %u\n",
			    t->status[i], t->count[i]);
			buf_lit(&b, line);
		}
	}
	if (success && ckeys != NULL) {
		snprintf(line, sizeof(line),
		    "# HELP closehook_subscribe_keyless_subscriptions "
		    "Subscriptions no key of --secret-file applies to.\n"
		    "# TYPE closehook_subscribe_keyless_subscriptions gauge\n"
		    "closehook_subscribe_keyless_subscriptions %u\n",
		    t->keyless);
		buf_lit(&b, line);
	}
	snprintf(line, sizeof(line),
	    "# HELP closehook_subscribe_check_success 1 when the last "
	    "check read every subscription, else 0.\n"
	    "# TYPE closehook_subscribe_check_success gauge\n"
	    "closehook_subscribe_check_success %d\n",
	    success);
	buf_lit(&b, line);
	snprintf(line, sizeof(line),
	    "# HELP closehook_subscribe_check_timestamp_seconds When the "
	    "last check ran.\n"
	    "# TYPE closehook_subscribe_check_timestamp_seconds gauge\n"
	    "closehook_subscribe_check_timestamp_seconds %lld\n",
	    (long long)time(NULL));
	buf_lit(&b, line);
	if (atomicfile_write_nosync(metrics_path, b.p, b.n) != 0)
		cli_warn("%s: cannot write the metrics", metrics_path);
	free(b.p);
}

/* -- API calls ------------------------------------------------------------- */

static noreturn void
bail(int code)
{
	static const struct tally none;

	if (code == CLI_EXIT_FATAL && cmd == C_CHECK)
		write_metrics(&none, 0);
	if (unlink_on_fail != NULL) {
		struct stat sb;

		if (stat(unlink_on_fail, &sb) == 0 && sb.st_size == 0)
			unlink(unlink_on_fail);
	}
	closeapi_free(api);
	exit(code);
}

/*
 * One request, or under --dry-run its description on stdout.  Returns 0
 * with *r set, 1 under --dry-run; every failure ends the program: 404 for
 * a subscription (id set) with exit 1, everything else with exit 2.
 */
static int
call(const char *method, const char *path, const struct buf *body,
    struct closeapi_resp *r, const char *id)
{
	size_t bl = strlen(api_url);

	if (dry_run) {
		while (bl > 0 && api_url[bl - 1] == '/')
			bl--;
		out_write(&out, method, strlen(method));
		out_putc(&out, ' ');
		out_write(&out, api_url, bl);
		out_write(&out, path, strlen(path));
		out_putc(&out, '\n');
		if (body != NULL) {
			out_write(&out, body->p, body->n);
			out_putc(&out, '\n');
		}
		return 1;
	}
	switch (closeapi_request(
	    api, method, path, body ? body->p : NULL, body ? body->n : 0, r)) {
	case CLOSEAPI_OK:
		return 0;
	case CLOSEAPI_AUTH:
		if (r->status == 403)
			cli_warnx("the API key may not manage webhook "
				  "subscriptions (HTTP 403; an admin's key is "
				  "needed): %s",
			    r->error);
		else
			cli_warnx("the API refused the key (HTTP %ld): %s",
			    r->status, r->error);
		break;
	case CLOSEAPI_HTTP:
		if (r->status == 404 && id != NULL) {
			cli_warnx("no such subscription: %s", id);
			bail(CLI_EXIT_REJECTS);
		}
		cli_warnx("the API answered HTTP %ld: %s", r->status,
		    r->error[0] ? r->error : "(no error text)");
		break;
	case CLOSEAPI_FAILED:
		/* Reached, and a 2xx that is not JSON: not Close's API. */
		if (r->status >= 200 && r->status < 300)
			cli_warnx("the answer (HTTP %ld) is not the API's: %s "
				  "(a proxy's page, or a wrong --api-url?)",
			    r->status, r->error);
		else
			cli_warnx("the API could not be reached: %s", r->error);
		break;
	case CLOSEAPI_STOPPED:
		cli_warnx("interrupted");
		break;
	}
	bail(CLI_EXIT_FATAL);
}

static int
valid_id(const char *s)
{
	const char *p;

	if (*s == '\0' || strlen(s) > ID_MAX)
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/*
 * Every subscription, page by page (Close's lists answer {"data": [...],
 * "has_more": bool} and take _skip), each handed to fn while its page is
 * in memory.
 */
static void
each_subscription(void (*fn)(struct json_span, void *), void *arg)
{
	struct closeapi_resp r;
	struct json_span root, data, more, e;
	struct json_iter it;
	char path[64];
	size_t skip = 0, inpage, pages;

	for (pages = 0; pages < PAGES_MAX; pages++) {
		if (skip == 0)
			snprintf(path, sizeof(path), "/webhook/");
		else
			snprintf(
			    path, sizeof(path), "/webhook/?_skip=%zu", skip);
		if (call("GET", path, NULL, &r, NULL) != 0)
			return;
		if (json_parse(r.body, r.n, &root, NULL) != 0 ||
		    root.type != JSON_OBJECT ||
		    !json_object_get(root, "data", 4, &data) ||
		    data.type != JSON_ARRAY) {
			cli_warnx("the API's answer is not a list of "
				  "subscriptions");
			bail(CLI_EXIT_FATAL);
		}
		inpage = 0;
		json_iter_init(&it, data);
		while (json_iter_elem(&it, &e)) {
			if (e.type != JSON_OBJECT) {
				cli_warnx("the API's list holds a %s, not a "
					  "subscription",
				    json_type_name(e.type));
				bail(CLI_EXIT_FATAL);
			}
			fn(e, arg);
			inpage++;
		}
		skip += inpage;
		if (inpage == 0 ||
		    !json_object_get(root, "has_more", 8, &more) ||
		    more.type != JSON_TRUE)
			return;
	}
	cli_warnx("the API's list did not end after %d pages", PAGES_MAX);
	bail(CLI_EXIT_FATAL);
}

/* -- list and check -------------------------------------------------------- */

static void
list_one(struct json_span sub, void *arg)
{
	(void)arg;
	emit_json(sub.p, sub.n);
	out_putc(&out, '\n');
}

static void
check_one(struct json_span sub, void *arg)
{
	struct tally *t = arg;
	char id[ID_MAX + 1], status[64], reason[128], url[512];

	member_text(sub, "id", id, sizeof(id));
	member_text(sub, "status", status, sizeof(status));
	member_text(sub, "pause_reason", reason, sizeof(reason));
	member_text(sub, "url", url, sizeof(url));
	tally_add(t, status[0] ? status : "unknown");
	if (ckeys != NULL) {
		t->ids = xrealloc(t->ids, (t->nids + 1) * sizeof(*t->ids));
		memcpy(t->ids[t->nids++], id, sizeof(id));
		if (keyring_next(ckeys, 0, id, strlen(id)) == ckeys->n) {
			t->keyless++;
			cli_warnx(
			    "%s has no key in the key files: its "
			    "deliveries are refused (401) and Close pauses "
			    "it after days of failures",
			    id[0] ? id : "(no id)");
		}
	}
	if (strcmp(status, "active") == 0)
		return;
	t->inactive++;
	cli_warnx("%s is %s (%s): %s", id[0] ? id : "(no id)",
	    status[0] ? status : "of unknown status",
	    reason[0] ? reason : "no pause_reason given",
	    url[0] ? url : "(no url)");
}

static int
run_check(void)
{
	struct tally t;

	size_t i, j;

	memset(&t, 0, sizeof(t));
	each_subscription(check_one, &t);
	write_metrics(&t, 1);
	/* Keys for subscriptions Close no longer has. */
	for (i = 0; ckeys != NULL && i < ckeys->n; i++) {
		const struct keyring_entry *e = &ckeys->v[i];

		if (e->sublen == 0)
			continue;
		for (j = 0; j < t.nids && strcmp(t.ids[j], e->sub) != 0; j++)
			;
		if (j == t.nids)
			cli_warnx(
			    "key %s is bound to %s, which Close does not "
			    "have (deleted?): remove its line once nothing "
			    "it signed remains to be checked",
			    e->fp, e->sub);
	}
	free(t.ids);
	if (t.inactive > 0)
		cli_warnx(
		    "%u of %u subscriptions are not active; after "
		    "fixing the cause, resume each with: closehook-subscribe "
		    "resume ID",
		    t.inactive, t.total);
	if (t.keyless > 0)
		cli_warnx(
		    "%u of %u subscriptions have no key in the key files: "
		    "add each one's key (Close shows it only at create; "
		    "without it, make a new subscription)",
		    t.keyless, t.total);
	return t.inactive > 0 || t.keyless > 0 ? CLI_EXIT_REJECTS : CLI_EXIT_OK;
}

/* -- create ---------------------------------------------------------------- */

static const char *const filter_types[] = {
	"equals",
	"not_equals",
	"contains",
	"is_null",
	"non_null",
	"and",
	"or",
	"not",
	"field_accessor",
};

/*
 * Check an extra_filter's shape against Close's grammar: {"type": T, ...}
 * with "value" for equals/not_equals/contains, nothing for
 * is_null/non_null, a non-empty "filters" array for and/or, a "filter"
 * for not, and "field" (a string) plus "filter" for field_accessor.
 * Returns NULL, or a static reason with the place in where (cap bytes).
 */
static const char *
check_filter(struct json_span f, char *where, size_t cap)
{
	struct json_span t, v, e;
	struct json_iter it;
	size_t i, len = strlen(where), k;

	if (f.type != JSON_OBJECT)
		return "a filter must be an object";
	if (!json_object_get(f, "type", 4, &t) || t.type != JSON_STRING)
		return "a filter needs a \"type\" string";
	for (i = 0; i < sizeof(filter_types) / sizeof(filter_types[0]); i++)
		if (json_str_eq(t, filter_types[i], strlen(filter_types[i])))
			break;
	switch (i) {
	case 0:
	case 1:
	case 2:
		if (!json_object_get(f, "value", 5, &v))
			return "this filter type needs a \"value\"";
		return NULL;
	case 3:
	case 4:
		return NULL;
	case 5:
	case 6:
		if (!json_object_get(f, "filters", 7, &v) ||
		    v.type != JSON_ARRAY)
			return "\"and\" and \"or\" need a \"filters\" array";
		json_iter_init(&it, v);
		for (k = 0; json_iter_elem(&it, &e); k++) {
			const char *why;

			snprintf(where + len, cap - len, ".filters[%zu]", k);
			if ((why = check_filter(e, where, cap)) != NULL)
				return why;
			where[len] = '\0';
		}
		if (k == 0)
			return "\"filters\" is empty";
		return NULL;
	case 7:
	case 8:
		if (i == 8 &&
		    (!json_object_get(f, "field", 5, &v) ||
			v.type != JSON_STRING || v.n <= 2))
			return "\"field_accessor\" needs a \"field\" string";
		if (!json_object_get(f, "filter", 6, &v))
			return "this filter type needs a \"filter\"";
		snprintf(where + len, cap - len, ".filter");
		{
			const char *why = check_filter(v, where, cap);

			if (why != NULL)
				return why;
		}
		where[len] = '\0';
		return NULL;
	}
	return "unknown filter type (Close knows equals, not_equals, "
	       "contains, is_null, non_null, and, or, not, field_accessor)";
}

struct event {
	char *type, *action;
	struct json_span filter; /* JSON_NONE: none */
};

static void
load_filters(const char *path, struct event *ev, size_t nev, char **keep)
{
	struct json_span root, k, v;
	struct json_iter it;
	struct json_error je;
	char where[512], name[256];
	const char *why;
	size_t n, i, kn;

	*keep = readfile_must(path, FILTER_MAX, &n);
	if (json_parse(*keep, n, &root, &je) != 0)
		cli_fatalx(
		    "%s: invalid JSON at byte %zu: %s", path, je.off, je.msg);
	if (root.type != JSON_OBJECT)
		cli_fatalx("%s: not a filter object", path);
	if (json_object_get(root, "type", 4, &v)) {
		/* One filter for every event. */
		where[0] = '\0';
		if ((why = check_filter(root, where, sizeof(where))) != NULL)
			cli_fatalx("%s: %s%s%s", path, why,
			    where[0] ? " at " : "", where);
		for (i = 0; i < nev; i++)
			ev[i].filter = root;
		return;
	}
	/* An object of filters keyed TYPE:ACTION. */
	json_iter_init(&it, root);
	while (json_iter_member(&it, &k, &v)) {
		if (k.n > sizeof(name))
			cli_fatalx("%s: a key longer than %zu bytes", path,
			    sizeof(name));
		kn = json_str_unescape(k, name);
		for (i = 0; i < nev; i++)
			if (strlen(ev[i].type) + 1 + strlen(ev[i].action) ==
				kn &&
			    strncmp(name, ev[i].type, strlen(ev[i].type)) ==
				0 &&
			    name[strlen(ev[i].type)] == ':' &&
			    strncmp(name + strlen(ev[i].type) + 1, ev[i].action,
				strlen(ev[i].action)) == 0)
				break;
		if (i == nev)
			cli_fatalx(
			    "%s: \"%.*s\" is not an --event of this "
			    "command (keys are OBJECT_TYPE:ACTION, or the file "
			    "is one filter with a \"type\")",
			    path, (int)(kn > 60 ? 60 : kn), name);
		snprintf(where, sizeof(where), "[\"%.*s\"]",
		    (int)(kn > 60 ? 60 : kn), name);
		if ((why = check_filter(v, where, sizeof(where))) != NULL)
			cli_fatalx("%s: %s at %s", path, why, where);
		ev[i].filter = v;
	}
}

static void
parse_event(const char *s, struct event *e)
{
	const char *colon = strchr(s, ':'), *p;

	if (colon == NULL || colon == s || colon[1] == '\0' ||
	    strchr(colon + 1, ':') != NULL)
		cli_fatalx("invalid value for --event: %.40s "
			   "(OBJECT_TYPE:ACTION, e.g. opportunity:updated)",
		    s);
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
			*p == '-' || *p == ':'))
			cli_fatalx("invalid value for --event: %.40s", s);
	e->type = xstrndup(s, (size_t)(colon - s));
	e->action = xstrdup(colon + 1);
	closeevents_check(e->type, e->action);
	e->filter.type = JSON_NONE;
}

/* Open --key-out for appending before the subscription exists, so that a
 * file that cannot be written stops the run while nothing is lost. */
static int
open_key_out(const char *path, int *created)
{
	int fd;

	*created = 0;
	/* Read and write: append_key looks at the last byte. */
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == EACCES)
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path,
		    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
		    0600);
		*created = fd >= 0;
	}
	if (fd < 0)
		cli_fatal("%s: cannot open the key file (no subscription "
			  "was created)",
		    path);
	readfile_check_mode(fd, path);
	return fd;
}

static int
write_key(int fd, const char *line, size_t n)
{
	struct stat sb;
	size_t done = 0;
	ssize_t w;
	char last;

	/* A file that does not end in a newline gets one first. */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
	    pread(fd, &last, 1, sb.st_size - 1) == 1 && last != '\n' &&
	    write(fd, "\n", 1) != 1)
		return -1;
	while (done < n) {
		if ((w = write(fd, line + done, n - done)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	/* A pipe or a device may not sync; a regular file must. */
	if (fsync(fd) != 0 &&
	    ((errno != EINVAL && errno != EROFS) ||
		(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))))
		return -1;
	return 0;
}

/* Append line to the key file, make it durable, close it; 0, or -1 with
 * errno set. */
static int
append_key(int fd, const char *path, int created, const char *line, size_t n)
{
	int e;

	if (write_key(fd, line, n) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	if (close(fd) != 0)
		return -1;
	if (created)
		atomicfile_sync_dir(path);
	return 0;
}

static int
run_create(const char *url, struct event *ev, size_t nev, int verify_ssl,
    const char *key_out)
{
	struct closeapi_resp r;
	struct buf body = { NULL, 0, 0 };
	struct json_span root, idv, keyv, k, v;
	struct json_iter it;
	char id[ID_MAX + 1], *key = NULL, *line = NULL;
	size_t i, kn, ln;
	int fd = -1, created = 0, first = 1, e;

	buf_lit(&body, "{\"url\":");
	buf_str(&body, url);
	buf_lit(&body, ",\"events\":[");
	for (i = 0; i < nev; i++) {
		buf_lit(&body, i ? ",{\"object_type\":" : "{\"object_type\":");
		buf_str(&body, ev[i].type);
		buf_lit(&body, ",\"action\":");
		buf_str(&body, ev[i].action);
		if (ev[i].filter.type != JSON_NONE) {
			buf_lit(&body, ",\"extra_filter\":");
			buf_json(&body, ev[i].filter.p, ev[i].filter.n);
		}
		buf_lit(&body, "}");
	}
	buf_lit(&body,
	    verify_ssl ? "],\"verify_ssl\":true}" : "],\"verify_ssl\":false}");

	if (!dry_run) {
		fd = open_key_out(key_out, &created);
		if (created)
			unlink_on_fail = key_out;
	}
	if (call("POST", "/webhook/", &body, &r, NULL) != 0) {
		free(body.p);
		return CLI_EXIT_OK;
	}
	free(body.p);
	unlink_on_fail = NULL;

	if (json_parse(r.body, r.n, &root, NULL) != 0 ||
	    root.type != JSON_OBJECT || !json_object_get(root, "id", 2, &idv) ||
	    idv.type != JSON_STRING || idv.n - 2 > ID_MAX ||
	    !json_str_plain(idv)) {
		cli_warnx(
		    "the API answered %ld to the create, but with no "
		    "subscription id: check with closehook-subscribe list and "
		    "delete any subscription to %s that has no key",
		    r.status, url);
		bail(CLI_EXIT_FATAL);
	}
	memcpy(id, idv.p + 1, idv.n - 2);
	id[idv.n - 2] = '\0';
	if (!valid_id(id)) {
		cli_warnx("the API created a subscription with an unexpected "
			  "id: %.60s",
		    id);
		bail(CLI_EXIT_FATAL);
	}
	if (!json_object_get(root, "signature_key", 13, &keyv) ||
	    keyv.type != JSON_STRING || !json_str_plain(keyv) ||
	    keyv.n - 2 < 2 * 16 || keyv.n - 2 > 2 * 128 ||
	    (keyv.n - 2) % 2 != 0 || !keyring_is_hex(keyv.p + 1, keyv.n - 2)) {
		cli_warnx("SUBSCRIPTION %s WAS CREATED, BUT THE ANSWER CARRIES "
			  "NO USABLE signature_key: delete it with "
			  "`closehook-subscribe delete %s`",
		    id, id);
		bail(CLI_EXIT_FATAL);
	}
	kn = keyv.n - 2;
	ln = strlen(id) + 1 + kn + 1;
	if ((line = sodium_malloc(ln)) == NULL)
		cli_fatalx("out of memory");
	key = line + strlen(id) + 1;
	memcpy(line, id, strlen(id));
	line[strlen(id)] = ' ';
	memcpy(key, keyv.p + 1, kn);
	key[kn] = '\n';

	/* The key first: Close never shows it again. */
	if (append_key(fd, key_out, created, line, ln) != 0) {
		e = errno;
		sodium_free(line);
		sodium_memzero((void *)(uintptr_t)keyv.p, keyv.n);
		cli_warnx("SUBSCRIPTION %s WAS CREATED, BUT ITS SIGNING KEY "
			  "COULD NOT BE WRITTEN to %s: %s",
		    id, key_out, strerror(e));
		cli_warnx(
		    "Close shows the key only once: delete the "
		    "subscription with `closehook-subscribe delete %s` and "
		    "create it again",
		    id);
		bail(CLI_EXIT_FATAL);
	}
	sodium_free(line);
	cli_warnx("%s's key appended to %s: closehook-receive and "
		  "closehook-verify reading it take it at its first "
		  "delivery (under systemd's LoadCredential=, restart "
		  "them)",
	    id, key_out);

	/* The subscription, without its key. */
	out_putc(&out, '{');
	json_iter_init(&it, root);
	while (json_iter_member(&it, &k, &v)) {
		if (json_str_eq(k, "signature_key", 13))
			continue;
		if (!first)
			out_putc(&out, ',');
		first = 0;
		out_write(&out, k.p, k.n);
		out_putc(&out, ':');
		emit_json(v.p, v.n);
	}
	out_write(&out, "}\n", 2);
	/* The answer stays in the client's buffer: wipe the key there. */
	sodium_memzero((void *)(uintptr_t)keyv.p, keyv.n);
	return CLI_EXIT_OK;
}

/* -- pause, resume, delete ------------------------------------------------- */

static int
run_one(enum cmd c, const char *id)
{
	struct closeapi_resp r;
	struct buf body = { NULL, 0, 0 };
	struct json_span root;
	char path[ID_MAX + 32];

	snprintf(path, sizeof(path), "/webhook/%s/", id);
	if (c == C_DELETE) {
		call("DELETE", path, NULL, &r, id);
		return CLI_EXIT_OK;
	}
	buf_lit(&body,
	    c == C_PAUSE ? "{\"status\":\"paused\"}"
			 : "{\"status\":\"active\"}");
	if (call("PUT", path, &body, &r, id) == 0) {
		if (json_parse(r.body, r.n, &root, NULL) != 0 ||
		    root.type != JSON_OBJECT) {
			cli_warnx("the API's answer is not a subscription");
			free(body.p);
			return CLI_EXIT_FATAL;
		}
		emit_json(root.p, root.n);
		out_putc(&out, '\n');
	}
	free(body.p);
	return CLI_EXIT_OK;
}

int
main(int argc, char **argv)
{
	enum {
		O_URL = 256,
		O_KEYFILE,
		O_HOOKURL,
		O_EVENT,
		O_FILTER,
		O_NOVERIFY,
		O_KEYOUT,
		O_METRICS,
		O_SECRET,
		O_VERSION
	};
	static const struct option longopts[] = {
		{ "api-url", required_argument, NULL, O_URL },
		{ "api-key-file", required_argument, NULL, O_KEYFILE },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "url", required_argument, NULL, O_HOOKURL },
		{ "event", required_argument, NULL, O_EVENT },
		{ "filter-file", required_argument, NULL, O_FILTER },
		{ "no-verify-ssl", no_argument, NULL, O_NOVERIFY },
		{ "key-out", required_argument, NULL, O_KEYOUT },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	static const struct {
		const char *name;
		enum cmd c;
	} cmds[] = {
		{ "list", C_LIST },
		{ "create", C_CREATE },
		{ "pause", C_PAUSE },
		{ "resume", C_RESUME },
		{ "delete", C_DELETE },
		{ "check", C_CHECK },
	};
	struct closeapi_opts ao;
	struct sigaction sa;
	struct event ev[EVENTS_MAX];
	const char *hook_url = NULL, *filter_file = NULL, *key_out = NULL;
	const char *id = NULL, *only = NULL, *s, *cmdname;
	char err[512], *filters = NULL;
	size_t nev = 0, i;
	int c, rc = 0, verify_ssl = 1;

	cli_init("closehook-subscribe");
	cli_std_fds(CLI_STDOUT_OPTIONAL);
	cli_no_core_dumps();
	memset(&ao, 0, sizeof(ao));
	while ((c = getopt_long(argc, argv, "hn", longopts, NULL)) != -1) {
		switch (c) {
		case O_URL:
			api_url = ao.base_url = optarg;
			break;
		case O_KEYFILE:
			ao.key_file = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case O_HOOKURL:
			hook_url = optarg;
			only = only ? only : "--url";
			break;
		case O_EVENT:
			if (nev == EVENTS_MAX)
				cli_fatalx(
				    "more than %d --event options", EVENTS_MAX);
			parse_event(optarg, &ev[nev++]);
			only = only ? only : "--event";
			break;
		case O_FILTER:
			filter_file = optarg;
			only = only ? only : "--filter-file";
			break;
		case O_NOVERIFY:
			verify_ssl = 0;
			only = only ? only : "--no-verify-ssl";
			break;
		case O_KEYOUT:
			key_out = optarg;
			only = only ? only : "--key-out";
			break;
		case O_METRICS:
			metrics_path = optarg;
			break;
		case O_SECRET:
			secret_files = xrealloc(secret_files,
			    (nsecret + 1) * sizeof(*secret_files));
			secret_files[nsecret++] = optarg;
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
	if (optind == argc)
		usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[optind], cmds[i].name) == 0)
			cmd = cmds[i].c;
	if (cmd == C_NONE) {
		cli_warnx("unknown command: %.40s", argv[optind]);
		usage();
	}
	cmdname = argv[optind++];
	if (cmd == C_PAUSE || cmd == C_RESUME || cmd == C_DELETE) {
		if (optind == argc) {
			cli_warnx("%s needs a subscription id", cmdname);
			usage();
		}
		id = argv[optind++];
		if (!valid_id(id))
			cli_fatalx("invalid subscription id: %.40s", id);
	}
	if (optind != argc) {
		cli_warnx(
		    "%s takes no more arguments: %.40s", cmdname, argv[optind]);
		usage();
	}
	if (cmd != C_CREATE && only != NULL)
		cli_fatalx("%s is an option of create", only);
	if (cmd != C_CHECK && metrics_path != NULL)
		cli_fatalx("--metrics is an option of check");
	if (cmd != C_CHECK && nsecret > 0)
		cli_fatalx("--secret-file is an option of check");
	if (cmd == C_CHECK && dry_run)
		cli_fatalx("check takes no --dry-run");
	if (cmd == C_CREATE) {
		if (hook_url == NULL || nev == 0 || key_out == NULL)
			cli_fatalx("create needs --url, at least one --event "
				   "and --key-out");
		if (strncmp(hook_url, "https://", 8) != 0 &&
		    strncmp(hook_url, "http://", 7) != 0)
			cli_fatalx("invalid value for --url: %.40s (an http or "
				   "https URL)",
			    hook_url);
		for (s = hook_url; *s != '\0'; s++)
			if ((unsigned char)*s <= ' ' || *s == 0x7f)
				cli_fatalx(
				    "invalid value for --url: %.40s "
				    "(white space or control characters)",
				    hook_url);
		if (filter_file != NULL)
			load_filters(filter_file, ev, nev, &filters);
	}
	/* check and delete write nothing to stdout, the rest their data. */
	if (cli_stdout_closed() &&
	    (dry_run || (cmd != C_CHECK && cmd != C_DELETE)))
		cli_fatalx("stdout is closed");
	if ((s = getenv("CLOSEHOOK_HTTP_TIMEOUT")) != NULL && *s != '\0' &&
	    cli_duration(s, 1, 3600000, &ao.timeout_ms) != 0)
		cli_fatalx("invalid $CLOSEHOOK_HTTP_TIMEOUT");
	if ((s = getenv("CLOSEHOOK_BACKOFF")) != NULL && *s != '\0' &&
	    cli_duration(s, 1, 600000, &ao.backoff_base_ms) != 0)
		cli_fatalx("invalid $CLOSEHOOK_BACKOFF");

	/* Set up: no key and no connection for a dry run. */
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	if (nsecret > 0) {
		ckeys = xmalloc(sizeof(*ckeys));
		keyring_init(ckeys);
		for (i = 0; i < nsecret; i++)
			if (keyring_load_file(ckeys, secret_files[i]) != 0)
				exit(CLI_EXIT_FATAL);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		cli_fatalx("cannot initialise libcurl");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ao.stop = &stop;
	if (!dry_run && (api = closeapi_new(&ao, err, sizeof(err))) == NULL) {
		cli_warnx("%s", err);
		bail(CLI_EXIT_FATAL);
	}
	out_init(&out, 1, "stdout");

	switch (cmd) {
	case C_LIST:
		each_subscription(list_one, NULL);
		break;
	case C_CHECK:
		rc = run_check();
		break;
	case C_CREATE:
		rc = run_create(hook_url, ev, nev, verify_ssl, key_out);
		break;
	default:
		rc = run_one(cmd, id);
		break;
	}

	if (out_close_stdout(&out, CLI_EXIT_OK) != CLI_EXIT_OK)
		exit(CLI_EXIT_FATAL);
	closeapi_free(api);
	curl_global_cleanup();
	free(filters);
	for (i = 0; i < nev; i++) {
		free(ev[i].type);
		free(ev[i].action);
	}
	return rc;
}
