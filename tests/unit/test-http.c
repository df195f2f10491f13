/*
 * test-http.c - common/http.c: header-line checks, a transfer set up and
 * torn down without a network (a refused connection on a closed port),
 * and transfers to a one-request server run here: a handle used again
 * with another method or URL, and the proxy from the environment; URL
 * origins and dot segments.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "tap.h"

/*
 * Drive the transfer in flight while serving it on the listening socket
 * ls: accept, read the request head and the body it announces, answer 204
 * and close.  The request line goes to line; returns the finished
 * transfer, or NULL.
 */
static struct http_xfer *
serve(struct http *h, int ls, char *line, size_t cap)
{
	struct curl_waitfd w;
	struct http_xfer *d = NULL;
	char buf[4096], *end, *cl;
	size_t n = 0, body;
	ssize_t got;
	int c = -1, i;

	line[0] = '\0';
	for (i = 0; i < 200; i++) {
		http_perform(h);
		if ((d = http_done(h)) != NULL)
			break;
		w.fd = c >= 0 ? c : ls;
		w.events = CURL_WAIT_POLLIN;
		if (http_wait(h, &w, 1, 50) < 0 || w.revents == 0)
			continue;
		if (c < 0) {
			c = accept(ls, NULL, NULL);
			continue;
		}
		if ((got = read(c, buf + n, sizeof(buf) - 1 - n)) <= 0) {
			close(c);
			c = -1;
			continue;
		}
		n += (size_t)got;
		buf[n] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(buf, "\r\nContent-Length:");
		body = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		if (n < (size_t)(end + 4 - buf) + body)
			continue;
		snprintf(line, cap, "%.*s", (int)strcspn(buf, "\r"), buf);
		(void)write(c,
		    "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 47);
		close(c);
		c = -1;
		n = 0;
	}
	if (c >= 0)
		close(c);
	return d;
}

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

	/* The caller's proxy settings must not take part. */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
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

	/* A handle used again keeps nothing of the last use that differs. */
	{
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char url[64], other[64], proxied[64], line[256];
		int ls = socket(AF_INET, SOCK_STREAM, 0);

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok(ls >= 0 &&
			bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
			listen(ls, 4) == 0 &&
			getsockname(ls, (struct sockaddr *)&sa, &sl) == 0,
		    "a server socket");
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/t",
		    ntohs(sa.sin_port));
		snprintf(other, sizeof(other), "http://127.0.0.1:%d/u",
		    ntohs(sa.sin_port));
		ok(http_init(&h, &o) == 0, "init again");
		x = http_xfer_get(&h);
		http_xfer_start(&h, x, "PUT", url, NULL, "{}", 2);
		d = serve(&h, ls, line, sizeof(line));
		is_str(line, "PUT /t HTTP/1.1", "PUT");
		is_int(d != NULL ? d->status : -1, 204, "answered 204");
		http_xfer_put(&h, x);
		x = http_xfer_get(&h);
		http_xfer_start(&h, x, "POST", url, NULL, "{}", 2);
		serve(&h, ls, line, sizeof(line));
		is_str(line, "POST /t HTTP/1.1", "the same handle, now POST");
		http_xfer_put(&h, x);
		x = http_xfer_get(&h);
		http_xfer_start(&h, x, "GET", other, NULL, NULL, 0);
		serve(&h, ls, line, sizeof(line));
		is_str(line, "GET /u HTTP/1.1", "then GET, another URL");
		http_xfer_put(&h, x);
		x = http_xfer_get(&h);
		http_xfer_start(&h, x, "POST", url, NULL, "{}", 2);
		serve(&h, ls, line, sizeof(line));
		is_str(line, "POST /t HTTP/1.1", "back to the first URL");
		http_xfer_put(&h, x);
		http_free(&h);

		/* The proxy variables are read by http_init. */
		setenv("http_proxy", url, 1);
		ok(http_init(&h, &o) == 0, "init with http_proxy");
		snprintf(proxied, sizeof(proxied), "http://192.0.2.1:9/p");
		x = http_xfer_get(&h);
		http_xfer_start(&h, x, "GET", proxied, NULL, NULL, 0);
		serve(&h, ls, line, sizeof(line));
		is_str(line, "GET http://192.0.2.1:9/p HTTP/1.1",
		    "http_proxy: the request goes to the proxy");
		http_xfer_put(&h, x);
		http_free(&h);
		unsetenv("http_proxy");
		close(ls);
	}

	/* Origins: scheme, host and port, normalised. */
	{
		static const struct {
			const char *url, *origin;
		} good[] = {
			{ "http://example.com/x?y#z", "http://example.com:80" },
			{ "HTTPS://Example.COM", "https://example.com:443" },
			{ "https://example.com:8443/",
			    "https://example.com:8443" },
			{ "http://u:p@h.example/", "http://h.example:80" },
			{ "http://[::1]:8080/x", "http://[::1]:8080" },
			{ "http://127.0.0.1:80/", "http://127.0.0.1:80" },
		};
		static const char *const bad[] = { "notaurl", "example.com/x",
			"file:///etc/passwd", "ftp://example.com/", "http://",
			"gopher://example.com/", "" };
		static const char *const not_origin[] = {
			"http://example.com/x",
			"http://example.com/?q",
			"http://example.com/#f",
			"http://u:p@example.com/",
			"http://u@example.com",
		};
		char org[HTTP_ORIGIN_MAX];
		const char *why;
		size_t k;

		for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
			org[0] = '\0';
			ok(http_origin(good[k].url, 0, org, &why) == 0,
			    "%s is an http(s) URL", good[k].url);
			is_str(org, good[k].origin, "its origin");
		}
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			ok(http_origin(bad[k], 0, org, &why) != 0,
			    "'%s' is refused", bad[k]);
		http_origin("file:///x", 0, org, &why);
		is_str(why, "not an http or https URL", "saying why");
		ok(http_origin("https://example.com", 1, org, &why) == 0 &&
			http_origin(
			    "https://example.com:8443/", 1, org, &why) == 0,
		    "an origin is an origin");
		for (k = 0; k < sizeof(not_origin) / sizeof(not_origin[0]); k++)
			ok(http_origin(not_origin[k], 1, org, &why) != 0,
			    "%s is not an origin", not_origin[k]);

		ok(http_dot_segment("http://h/a/../b"), "a .. segment");
		ok(http_dot_segment("http://h/a/./b"), "a . segment");
		ok(http_dot_segment("http://h/a/.."),
		    "a .. segment at the end");
		ok(http_dot_segment("http://h/%2e%2E/b"),
		    "an encoded .. segment");
		ok(http_dot_segment("http://h/.%2e?x"),
		    "half encoded, then a query");
		ok(!http_dot_segment("http://h/a..b/.c/..d/"),
		    "dots inside segments are no dot segments");
		ok(!http_dot_segment("http://h/a?x=/../"),
		    "the query is not the path");
		ok(!http_dot_segment("http://h/a#/../"), "nor is the fragment");
		ok(!http_dot_segment("http://h.example"), "no path at all");
		ok(!http_dot_segment("http://h/a%2F..%2Fb"),
		    "an encoded slash makes no segment");
	}
	curl_global_cleanup();
	return tap_done();
}
