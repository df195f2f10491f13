/*
 * test-http.c - common/http.c: header-line checks, and a transfer set up
 * and torn down without a network (a refused connection on a closed
 * port).
 */
#include <string.h>

#include "http.h"
#include "tap.h"

static int
hc(const char *s)
{
	const char *why = NULL;

	return http_header_check(s, strlen(s), &why);
}

int
main(void)
{
	struct http_opts o = { 1000, 2000, NULL, 0, 1024, 4 };
	struct http h;
	struct http_xfer *x, *d;
	int i;

	is_int(hc("X-Foo: bar"), 0, "plain header");
	is_int(hc("X-Foo:"), 0, "empty value");
	is_int(hc("Authorization: Bearer abc.def"), 0, "bearer");
	is_int(hc("X-Foo"), -1, "no colon");
	is_int(hc(": bar"), -1, "no name");
	is_int(hc("X Foo: bar"), -1, "space in name");
	is_int(hc("X-Foo: a\r\nX-Evil: 1"), -1, "CRLF injection");
	is_int(hc("X-Foo: a\nb"), -1, "LF in value");
	is_int(http_header_check("X-A: \0b", 7, &(const char *){ NULL }), -1,
	    "NUL in value");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ok(http_init(&h, &o) == 0, "init");
	x = http_xfer_get(&h);
	ok(x != NULL, "a transfer from the pool");
	/* Port 1 on loopback refuses: a network error, no status. */
	ok(http_xfer_start(&h, x, "POST", "http://127.0.0.1:1/", NULL, "{}",
	    2) == 0, "start");
	is_int(h.inflight, 1, "one in flight");
	d = NULL;
	for (i = 0; i < 100 && d == NULL; i++) {
		http_perform(&h);
		d = http_done(&h);
		if (d == NULL)
			http_wait(&h, NULL, 0, 50);
	}
	ok(d == x, "the transfer finished");
	is_int(x->status, 0, "no status");
	ok(x->result != CURLE_OK && x->errbuf[0] != '\0', "an error message");
	is_int(http_is_timeout(x), 0, "not a timeout");
	is_int(h.inflight, 0, "none in flight");
	http_xfer_put(&h, x);
	ok(http_xfer_get(&h) == x, "the pool hands it out again");
	http_xfer_put(&h, x);
	x = http_xfer_get(&h);
	ok(http_xfer_start(&h, x, "POST", "ftp://127.0.0.1/", NULL, "", 0) ==
	    0, "start ftp");
	for (i = 0, d = NULL; i < 100 && d == NULL; i++) {
		http_perform(&h);
		if ((d = http_done(&h)) == NULL)
			http_wait(&h, NULL, 0, 50);
	}
	is_int(d != NULL ? (int)d->result : -1, CURLE_UNSUPPORTED_PROTOCOL,
	    "only http and https");
	http_xfer_put(&h, x);
	http_free(&h);
	curl_global_cleanup();
	return tap_done();
}
