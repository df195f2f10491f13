/*
 * test-closeapi.c - the Close API client: query encoding, Close's error
 * text, page parsing, and requests against a scripted HTTP server in a
 * child process (auth header, retries of 503/500 for GET only, 429 with
 * Retry-After, 401 at once, malformed JSON retried).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "closeapi.h"
#include "tap.h"

/* One scripted answer per connection (the client reuses connections, so
 * every answer closes its connection to keep the script in step). */
static const char *script[16];
static int nscript;

static void
serve(int ls, int logfd)
{
	char buf[8192], out[1024];
	int i, c;
	ssize_t n;

	for (i = 0; i < nscript; i++) {
		if ((c = accept(ls, NULL, NULL)) < 0)
			_exit(1);
		n = read(c, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			/* Log the request line and Authorization header. */
			char *auth = strstr(buf, "Authorization: ");
			char *eol = strchr(buf, '\r');
			int l = snprintf(out, sizeof(out), "%.*s|%.*s\n",
			    (int)(eol ? eol - buf : 0), buf,
			    auth ? (int)strcspn(auth, "\r") : 0,
			    auth ? auth : "");
			if (write(logfd, out, (size_t)l) < 0)
				_exit(1);
		}
		if (write(c, script[i], strlen(script[i])) < 0)
			_exit(1);
		close(c);
	}
	_exit(0);
}

static const char *
answer(const char *status, const char *extra, const char *body)
{
	static char bufs[16][1024];
	static int k;
	char *b = bufs[k++ % 16];

	snprintf(b, 1024, "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
	    "Connection: close\r\n%sContent-Length: %zu\r\n\r\n%s", status,
	    extra, strlen(body), body);
	return b;
}

/* Start a server for the script; returns the child's pid, sets port. */
static pid_t
start(int *port, int logfd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(ls, 16) != 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) != 0)
		abort();
	*port = ntohs(sa.sin_port);
	if ((pid = fork()) == 0)
		serve(ls, logfd);
	close(ls);
	return pid;
}

static struct closeapi *
client(int port, char *url, size_t urln)
{
	struct closeapi_opts o;
	char err[256];
	struct closeapi *c;

	snprintf(url, urln, "http://127.0.0.1:%d/api/v1/", port);
	memset(&o, 0, sizeof(o));
	o.base_url = url;
	o.backoff_base_ms = 10;
	o.max_attempts = 3;
	c = closeapi_new(&o, err, sizeof(err));
	if (c == NULL)
		printf("# %s\n", err);
	return c;
}

static void
test_requests(void)
{
	struct closeapi_resp r;
	struct closeapi *c;
	char url[128], log[4096];
	int port, pfd[2], st;
	ssize_t n;
	pid_t pid;

	setenv("CLOSE_API_KEY", "k_secret", 1);
	nscript = 0;
	script[nscript++] = answer("503 Service Unavailable", "", "{}");
	script[nscript++] = answer("429 Too Many Requests",
	    "Retry-After: 0\r\nRateLimit: limit=5, remaining=0, reset=0\r\n",
	    "{}");
	script[nscript++] = answer("200 OK", "", "{\"data\": [],");
	script[nscript++] = answer("200 OK",
	    "RateLimit: limit=100, remaining=99, reset=1.5\r\n",
	    "{\"data\":[],\"cursor_next\":null}");
	script[nscript++] = answer("500 Internal Server Error", "",
	    "{\"error\":\"boom\"}");
	script[nscript++] = answer("400 Bad Request", "",
	    "{\"error\":\"Bad filter\",\"field-errors\":{\"x\":\"no\"}}");
	script[nscript++] = answer("401 Unauthorized", "",
	    "{\"error\":\"The API key is invalid.\"}");
	if (pipe(pfd) != 0)
		abort();
	pid = start(&port, pfd[1]);
	close(pfd[1]);
	c = client(port, url, sizeof(url));
	ok(c != NULL, "a client from $CLOSE_API_KEY");
	if (c == NULL)
		return;
	is_int(closeapi_request(c, "GET", "/event/?_limit=50", NULL, 0, &r),
	    CLOSEAPI_OK, "503, 429 and malformed JSON are retried to a 200");
	is_int(r.status, 200, "the final status");
	ok(closeapi_ratelimit(c)->remaining == 99 &&
	    closeapi_ratelimit(c)->reset == 1.5, "RateLimit is read");
	is_int(closeapi_stats(c)->rate_limited, 1, "one 429 counted");
	is_int(closeapi_stats(c)->retries, 2, "two transient failures retried");
	is_int(closeapi_request(c, "POST", "/webhook/", "{}", 2, &r),
	    CLOSEAPI_HTTP, "a POST is not retried on 500");
	is_int(r.status, 500, "... and its status is kept");
	is_int(closeapi_request(c, "GET", "/event/", NULL, 0, &r),
	    CLOSEAPI_HTTP, "400 is final");
	is_str(r.error, "Bad filter; x: no", "400: Close's error text");
	is_int(closeapi_request(c, "DELETE", "/webhook/whsub_1/", NULL, 0, &r),
	    CLOSEAPI_AUTH, "401 stops at once");
	closeapi_free(c);
	waitpid(pid, &st, 0);
	n = read(pfd[0], log, sizeof(log) - 1);
	log[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	ok(strstr(log, "GET /api/v1/event/?_limit=50 HTTP/1.1|Authorization: "
	    "Basic a19zZWNyZXQ6") != NULL, "HTTP Basic, key as user name, "
	    "empty password");
	ok(strstr(log, "POST /api/v1/webhook/ HTTP") != NULL &&
	    strstr(log, "DELETE /api/v1/webhook/whsub_1/ HTTP") != NULL,
	    "POST and DELETE reach their paths");
	unsetenv("CLOSE_API_KEY");
}

int
main(void)
{
	char q[128] = "", t[256];
	struct closeapi_page pg;
	const char *why;
	struct closeapi_opts o;
	char err[256];

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	is_int(closeapi_query_add(q, sizeof(q), "object_type", "activity.note"),
	    0, "add a parameter");
	is_int(closeapi_query_add(q, sizeof(q), "date_updated__gte",
	    "2026-11-01T00:00:00+00:00"), 0, "add another");
	is_str(q, "object_type=activity.note&date_updated__gte="
	    "2026-11-01T00%3A00%3A00%2B00%3A00", "percent-encoded, & between");
	is_int(closeapi_query_add(q, sizeof(q), "_cursor", "a very long "
	    "cursor that will not fit in the buffer given, not at all, no way"), -1, "too long: refused");
	is_str(q, "object_type=activity.note&date_updated__gte="
	    "2026-11-01T00%3A00%3A00%2B00%3A00", "... and dst unchanged");

	closeapi_error_text("{\"error\": \"Too many subscriptions\"}", 35, t,
	    sizeof(t));
	is_str(t, "Too many subscriptions", "error text: \"error\"");
	closeapi_error_text("{\"errors\": [\"a\", \"b\"], \"field-errors\": "
	    "{\"url\": \"bad\"}}", 54, t, sizeof(t));
	is_str(t, "a; b; url: bad", "error text: errors and field-errors");
	closeapi_error_text("<html>\nBad Gateway</html>", 25, t, sizeof(t));
	is_str(t, "<html> Bad Gateway</html>", "error text: a non-JSON body");

	ok(closeapi_page_parse("{\"data\":[{}],\"cursor_next\":\"x\"}", 31, &pg,
	    &why) == 0 && pg.cursor_next.type == JSON_STRING &&
	    pg.data.type == JSON_ARRAY, "a page with a cursor");
	ok(closeapi_page_parse("{\"data\":[],\"cursor_next\":null}", 30, &pg,
	    &why) == 0 && pg.cursor_next.type == JSON_NULL, "the last page");
	ok(closeapi_page_parse("{\"data\":[1]}", 12, &pg, &why) == -1,
	    "elements must be objects");
	ok(closeapi_page_parse("{\"data\":{}}", 11, &pg, &why) == -1,
	    "data must be an array");
	ok(closeapi_page_parse("{\"data\":[],\"cursor_next\":5}", 27, &pg,
	    &why) == -1, "cursor_next must be a string or null");
	ok(closeapi_page_parse("{\"data\":[", 9, &pg, &why) == -1,
	    "truncated JSON");

	unsetenv("CLOSE_API_KEY");
	memset(&o, 0, sizeof(o));
	ok(closeapi_new(&o, err, sizeof(err)) == NULL &&
	    strstr(err, "CLOSE_API_KEY") != NULL, "no key: a clear error");
	o.key_file = "/nonexistent/key";
	ok(closeapi_new(&o, err, sizeof(err)) == NULL &&
	    strstr(err, "/nonexistent/key") != NULL, "missing key file");

	test_requests();
	curl_global_cleanup();
	return tap_done();
}
