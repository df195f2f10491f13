/*
 * test-har.c - HAR archives: POST entries only, startedDateTime as UTC
 * microseconds, the path of request.url, headers without pseudo-headers,
 * postData in text and base64, and each bad entry reported with its line
 * while the walk goes on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "har.h"
#include "tap.h"

static char got[8192];

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
add(const char *fmt, ...)
{
	size_t n = strlen(got);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(got + n, sizeof(got) - n, fmt, ap);
	va_end(ap);
}

/* Every entry of a document as text: one line each, then the outcome. */
static const char *
walk(const char *doc)
{
	struct har h;
	struct har_entry e;
	size_t i;
	int rc;

	got[0] = '\0';
	if (har_open(&h, doc, strlen(doc)) != 0) {
		add("open error %lu: %s", h.errline, h.err);
		har_free(&h);
		return got;
	}
	while ((rc = har_next(&h, &e)) != 0) {
		if (rc < 0) {
			add("error %lu: %s\n", h.errline, h.err);
			continue;
		}
		add("%lu #%zu %s %.*s", e.line, e.index, e.received_at,
		    (int)e.pathn, e.path);
		for (i = 0; i < e.nh; i++)
			add(" [%.*s=%.*s]", (int)e.h[i].namen, e.h[i].name,
			    (int)e.h[i].valn, e.h[i].val);
		add(" <%.*s>\n", (int)e.bodyn, e.body);
	}
	add("skipped %lu", h.nskipped);
	har_free(&h);
	return got;
}

/* An entry with the given method, startedDateTime, url and request tail. */
#define ENTRY(m, t, u, rest) \
	"{\"startedDateTime\": \"" t "\", \"request\": {\"method\": \"" m \
	"\", \"url\": \"" u "\"" rest "}}"

static void
entries(void)
{
	const char *doc =
	    "{\"log\": {\"version\": \"1.2\", \"entries\": [\n" ENTRY("GET",
		"2026-11-26T16:54:00.000Z", "https://h/",
		"") ",\n" ENTRY("POST", "2026-11-26T17:54:45.123+01:00",
		"https://abc.ngrok.io/close?x=1#frag",
		", \"headers\": [{\"name\": \":authority\", \"value\": \"h\"},"
		" {\"name\": \"Close-Sig-Hash\", \"value\": \" e6cf \"},"
		" {\"name\": \"close-sig-timestamp\", \"value\": \"15\"},"
		" {\"name\": \"X-Caf\", \"value\": \"caf\\u00e9\"}],"
		" \"postData\": {\"mimeType\": \"application/json\","
		" \"text\": \"{\\\"a\\\": \\\"\\\\u00e9\\\"}\"}") ",\n" ENTRY("POST",
		"2026-11-26T16:54:45Z", "http://h:8080", "") ",\n" ENTRY("POST",
		"2026-11-26T16:54:45.1234567Z", "http://h?q=1",
		", \"postData\": {\"text\": \"aGk=\", \"encoding\": "
		"\"base64\"}") ",\n" ENTRY("POST", "2026-11-26 16:54:45.5",
		"/origin/form",
		", \"headers\": null, \"postData\": {\"text\": \"aGk\","
		" \"encoding\": \"base64\"}") ",\n" ENTRY("OPTIONS", "x", "y",
		"") "\n]}}";

	is_str(walk(doc),
	    "3 #1 2026-11-26T16:54:45.123000Z /close?x=1 "
	    "[Close-Sig-Hash= e6cf ] [close-sig-timestamp=15] "
	    "[X-Caf=caf\xc3\xa9] <{\"a\": \"\\u00e9\"}>\n"
	    "4 #2 2026-11-26T16:54:45.000000Z / <>\n"
	    "5 #3 2026-11-26T16:54:45.123456Z /?q=1 <hi>\n"
	    "6 #4 2026-11-26T16:54:45.500000Z /origin/form <hi>\n"
	    "skipped 2",
	    "POST entries: dates in UTC with microseconds, paths, headers, "
	    "text and base64 bodies; others skipped and counted");
}

static void
bad_entries(void)
{
	const char *doc =
	    "{\"log\": {\"entries\": [\n"
	    "1,\n"
	    "{\"request\": 2},\n"
	    "{\"request\": {\"method\": 3}},\n" ENTRY("POST", "yesterday", "/",
		"") ",\n" ENTRY("POST", "9999-12-31T23:00:00-05:00", "/",
		"") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z", "no url",
		"") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z", "/",
		", \"headers\": {}") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z",
		"/", ", \"headers\": [{\"name\": \"a\"}]") ",\n" ENTRY("POST",
		"2026-11-26T16:54:45Z", "/",
		", \"headers\": [{\"name\": \"\", \"value\": "
		"\"v\"}]") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z", "/",
		", \"postData\": {\"text\": \"x\", \"encoding\": "
		"\"gzip\"}") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z", "/",
		", \"postData\": {\"text\": \"!!\", "
		"\"encoding\": \"base64\"}") ",\n" ENTRY("POST",
		"2026-11-26T16:54:45Z", "/",
		", \"bodySize\": 230") ",\n" ENTRY("POST",
		"2026-11-26T16:54:45Z", "/",
		", \"bodySize\": 5, \"postData\": {\"text\": "
		"\"\"}") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z", "/",
		", \"postData\": {\"params\": [{\"name\": "
		"\"a\"}]}") ",\n" ENTRY("POST", "2026-11-26T16:54:45Z", "/",
		", \"postData\": {\"text\": 7}") ",\n" ENTRY("POS"
							     "T",
		"2026-11-26T16:54:45Z", "/ok",
		", \"bodySize\": 0, \"postData\": {\"params\": "
		"[]}") "\n"
		       "]}}";

	is_str(walk(doc),
	    "error 2: entry 0 is not an object\n"
	    "error 3: entry 1: no request object\n"
	    "error 4: entry 2: request.method is not a string\n"
	    "error 5: entry 3: startedDateTime is not an ISO 8601 date-time\n"
	    "error 6: entry 4: startedDateTime is not an ISO 8601 date-time\n"
	    "error 7: entry 5: request.url is not a URL\n"
	    "error 8: entry 6: request.headers is not an array\n"
	    "error 9: entry 7: request.headers[0] is not a {name, value} "
	    "object of strings\n"
	    "error 10: entry 8: request.headers[0] has an empty name\n"
	    "error 11: entry 9: unsupported postData.encoding (only base64)\n"
	    "error 12: entry 10: postData.text is not valid base64\n"
	    "error 13: entry 11: no postData.text, but the request had a "
	    "body of 230 bytes (bodySize or Content-Length): the exporter "
	    "left it out\n"
	    "error 14: entry 12: no postData.text, but the request had a "
	    "body of 5 bytes (bodySize or Content-Length): the exporter "
	    "left it out\n"
	    "error 15: entry 13: postData holds form params, not the body's "
	    "text\n"
	    "error 16: entry 14: postData.text is not a string\n"
	    "17 #15 2026-11-26T16:54:45.000000Z /ok <>\n"
	    "skipped 0",
	    "each bad entry is reported with its line and index, and the "
	    "walk goes on");
}

static void
documents(void)
{
	is_str(walk("{\"log\": {\"entries\": [\n{]}}"),
	    "open error 2: not valid JSON: expected string key",
	    "not JSON: the line of the error");
	is_str(walk("[]"), "open error 1: not a HAR archive: no log object",
	    "no log object");
	is_str(walk("{\n\"log\": {\"entries\":\n {}}}"),
	    "open error 3: not a HAR archive: log.entries is not an array",
	    "entries not an array");
	is_str(walk("{\"log\": {\"entries\": []}}"), "skipped 0",
	    "no entries: nothing");
}

static void
many_headers(void)
{
	char *doc = malloc(64 * 1024);
	size_t n, i;

	n = (size_t)sprintf(doc,
	    "{\"log\": {\"entries\": [{\"startedDateTime\": "
	    "\"2026-11-26T16:54:45Z\", \"request\": {\"method\": \"POST\", "
	    "\"url\": \"/\", \"headers\": [");
	for (i = 0; i < HAR_MAX_HEADERS; i++)
		n += (size_t)sprintf(doc + n,
		    "%s{\"name\": \"x\", \"value\": \"%zu\"}", i ? ", " : "",
		    i);
	strcpy(doc + n, "]}}]}}");
	ok(strstr(walk(doc), "[x=255] <>") != NULL, "%d headers pass",
	    HAR_MAX_HEADERS);
	strcpy(doc + n, ", {\"name\": \":path\", \"value\": \"/\"}]}}]}}");
	ok(strstr(walk(doc), "[x=255] <>") != NULL,
	    "a pseudo-header does not count");
	strcpy(doc + n, ", {\"name\": \"y\", \"value\": \"\"}]}}]}}");
	is_str(walk(doc),
	    "error 1: entry 0: more than 256 request headers\nskipped 0",
	    "one more is refused");
	free(doc);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	entries();
	bad_entries();
	documents();
	many_headers();
	return tap_done();
}
