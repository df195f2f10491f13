/*
 * natsq.c - closehook's NATS JetStream connection; see natsq.h.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nats/nats.h>
#include <sodium.h>

#include "cli.h"
#include "natsq.h"
#include "readfile.h"

#define DEFAULT_PORT 4222
#define DEFAULT_REPLICAS 3
#define DEFAULT_WAIT_MS 5000
#define CONNECT_MS 2000
/* Between two tries of the server list: a killed server is passed over fast. */
#define RECONNECT_MS 250
/* What a user file may hold: two short lines. */
#define USERFILE_MAX 4096
/* kvStore_Create failed, yet the key reads as absent: a replica that lags. */
#define KV_TRIES 5
/* Publishes in flight, by message: buckets of a chained hash. */
#define PUB_BUCKETS 4096
/* Looks and creates natsq_stream tries, 0.2 s apart. */
#define STREAM_TRIES 10
/* How long natsq_stream waits for a stream it created to have a leader. */
#define LEADER_WAIT_MS 5000

struct pubent {
	natsMsg *m;
	void *arg;
	struct pubent *next;
};

struct natsq {
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	kvStore *kv;
	char name[NATSQ_NAMEMAX];
	char subject[NATSQ_NAMEMAX + sizeof(NATSQ_SUBJECT)];
	char durable[NATSQ_NAMEMAX];
	int replicas;
	int replicas_set; /* --nats-replicas given */
	int64_t wait_ms;
	char errbuf[480];
	int transient; /* the last failure may pass: see natsq_transient */
	/* The publisher: its own context, whose options carry the callback. */
	jsCtx *pjs;
	natsq_pub_fn *pubcb;
	int64_t pub_wait_ms;
	pthread_mutex_t pmu;
	int pmu_init;
	struct pubent *pub[PUB_BUCKETS];
};

static _Thread_local char puberr[256];

/*
 * The library's text for its last error in this thread when that error is
 * s (a call that failed without setting a text would otherwise report an
 * older one), else the text of s, with
 * a leading capital lowered when a lowercase letter follows ("No server
 * available" -> "no server available"; "SSL" stays).
 */
static void
lib_error(natsStatus s, char *buf, size_t cap)
{
	natsStatus ls;
	const char *t = nats_GetLastError(&ls), *p;

	if (t == NULL || *t == '\0' || ls != s)
		t = natsStatus_GetText(s);
	/* Its texts may begin with where in its sources: "(js.c:1622): ". */
	if (t[0] == '(' && (p = strstr(t, "): ")) != NULL &&
	    memchr(t, ' ', (size_t)(p - t)) == NULL)
		t = p + 3;
	snprintf(buf, cap, "%s", t);
	if (isupper((unsigned char)buf[0]) && islower((unsigned char)buf[1]))
		buf[0] = (char)tolower((unsigned char)buf[0]);
}

/*
 * The library's asynchronous errors: a permissions violation reaches the
 * error handler alone, and the request that caused it only times out.
 * Kept (for any connection of the process: the handler may run after its
 * connection is gone, so it touches no struct natsq) for fail().
 */
static pthread_mutex_t aemu = PTHREAD_MUTEX_INITIALIZER;
static char asyncerr[256];
static uint64_t asyncerr_ns;

static void
on_async_err(
    natsConnection *nc, natsSubscription *sub, natsStatus err, void *arg)
{
	const char *t = NULL;

	(void)sub;
	(void)arg;
	if (err != NATS_NOT_PERMITTED)
		return;
	(void)natsConnection_GetLastError(nc, &t);
	pthread_mutex_lock(&aemu);
	snprintf(asyncerr, sizeof(asyncerr), "%s",
	    t != NULL && *t != '\0' ? t : "permissions violation");
	asyncerr_ns = cli_mono_ns();
	pthread_mutex_unlock(&aemu);
}

/* A permissions violation within the last ms: its text into buf, 1. */
static int
denied(char *buf, size_t cap, uint64_t ms)
{
	int r = 0;

	pthread_mutex_lock(&aemu);
	if (asyncerr_ns != 0 && cli_mono_ns() - asyncerr_ns <= ms * 1000000) {
		snprintf(buf, cap, "%s", asyncerr);
		r = 1;
	}
	pthread_mutex_unlock(&aemu);
	return r;
}

static int fail(struct natsq *q, natsStatus s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int natsq_connected(const struct natsq *);

/*
 * A failure that an election or a reconnect ends: no answer in time, no
 * responder (no leader yet), no connection.
 */
static int
is_transient(const struct natsq *q, natsStatus s)
{
	return s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS ||
	    s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ||
	    !natsq_connected(q);
}

/* "nats: WHAT: the library's reason"; always -1. */
static int
fail(struct natsq *q, natsStatus s, const char *fmt, ...)
{
	char what[200], why[256];
	va_list ap;
	int refused;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	lib_error(s, why, sizeof(why));
	/* No answer, since the server refused the request: say so, and do
	 * not wait for that to pass. */
	refused = (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS) &&
	    denied(why, sizeof(why), 2 * (uint64_t)q->wait_ms + 1000);
	snprintf(q->errbuf, sizeof(q->errbuf), "nats: %s: %.256s", what, why);
	/* The server's "JetStream system temporarily unavailable" (no
	 * quorum, no meta leader yet) reaches here as a plain error. */
	q->transient = !refused &&
	    (is_transient(q, s) ||
		strstr(why, "temporarily unavailable") != NULL);
	return -1;
}

const char *
natsq_error(const struct natsq *q)
{
	return q->errbuf;
}

int
natsq_getopt(int ch, const char *arg, struct natsq_opts *o)
{
	switch (ch) {
	case NATSQ_O_CREDS:
		o->creds = arg;
		return 1;
	case NATSQ_O_USERFILE:
		o->userfile = arg;
		return 1;
	case NATSQ_O_REPLICAS:
		o->replicas = (int)cli_opt_int("nats-replicas", arg, 1, 5);
		return 1;
	default:
		return 0;
	}
}

int
natsq_opts_given(const struct natsq_opts *o)
{
	return o->creds != NULL || o->userfile != NULL || o->replicas > 0;
}

const char *
natsq_opts_misuse(const struct natsq_opts *o)
{
	return o->creds != NULL && o->userfile != NULL
	    ? "give --nats-creds or --nats-user-file, not both"
	    : NULL;
}

int
natsq_transient(const struct natsq *q)
{
	return q->transient;
}

/* ---- URLs ---- */

int
natsq_is_url(const char *spec)
{
	return strncmp(spec, "nats://", 7) == 0 ||
	    strncmp(spec, "tls://", 6) == 0;
}

int
natsq_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return i >= 1 && i < NATSQ_NAMEMAX;
}

/* One HOST[:PORT] of the list, p[0..n), into u->srv[u->nsrv]. */
static int
parse_server(struct natsq_url *u, const char *p, size_t n, const char **why)
{
	const char *hs, *he, *q, *end = p + n;
	long port = DEFAULT_PORT;
	int v6 = 0;

	if (n == 0) {
		*why = "empty server in the list";
		return -1;
	}
	if (u->nsrv == NATSQ_MAXSRV) {
		*why = "more than 16 servers";
		return -1;
	}
	if (*p == '[') {
		hs = p + 1;
		if ((he = memchr(hs, ']', (size_t)(end - hs))) == NULL) {
			*why = "unclosed [ in host";
			return -1;
		}
		q = he + 1;
		v6 = 1;
	} else {
		hs = p;
		he = memchr(p, ':', n);
		if (he == NULL)
			he = end;
		q = he;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof(u->host0)) {
		*why = "bad host";
		return -1;
	}
	for (const char *c = hs; c < he; c++)
		if (!isalnum((unsigned char)*c) && *c != '.' && *c != '-' &&
		    *c != '_' && !(v6 && *c == ':')) {
			*why = "bad host";
			return -1;
		}
	if (q < end) {
		if (*q != ':' || q + 1 == end || end - (q + 1) > 5) {
			*why = "bad port";
			return -1;
		}
		port = 0;
		for (q++; q < end; q++) {
			if (!isdigit((unsigned char)*q)) {
				*why = "bad port";
				return -1;
			}
			port = port * 10 + (*q - '0');
		}
		if (port < 1 || port > 65535) {
			*why = "bad port";
			return -1;
		}
	}
	snprintf(u->srv[u->nsrv], NATSQ_SRVMAX, "%s://%s%.*s%s:%ld",
	    u->tls ? "tls" : "nats", v6 ? "[" : "", (int)(he - hs), hs,
	    v6 ? "]" : "", port);
	if (u->nsrv == 0) {
		memcpy(u->host0, hs, (size_t)(he - hs));
		u->host0[he - hs] = '\0';
	}
	u->nsrv++;
	return 0;
}

int
natsq_url_parse(const char *spec, struct natsq_url *u, const char **why)
{
	const char *p, *slash, *comma;

	memset(u, 0, sizeof(*u));
	if (strncmp(spec, "nats://", 7) == 0)
		p = spec + 7;
	else if (strncmp(spec, "tls://", 6) == 0) {
		p = spec + 6;
		u->tls = 1;
	} else {
		*why = "not a nats:// or tls:// URL";
		return -1;
	}
	if (strstr(p, "://") != NULL) {
		*why = "a scheme before a later server: give it once, before "
		       "the first (nats://HOST:PORT,HOST:PORT/NAME)";
		return -1;
	}
	if ((slash = strchr(p, '/')) == NULL) {
		*why = "no /NAME after the servers";
		return -1;
	}
	if (memchr(p, '@', (size_t)(slash - p)) != NULL) {
		*why = "no user or password in the URL: use --nats-creds or "
		       "--nats-user-file";
		return -1;
	}
	while (p < slash) {
		comma = memchr(p, ',', (size_t)(slash - p));
		if (comma == NULL)
			comma = slash;
		if (parse_server(u, p, (size_t)(comma - p), why) != 0)
			return -1;
		p = comma < slash ? comma + 1 : slash;
		if (comma < slash && p == slash) {
			*why = "empty server in the list";
			return -1;
		}
	}
	if (u->nsrv == 0) {
		*why = "no server";
		return -1;
	}
	if (!natsq_name_ok(slash + 1)) {
		*why = "the name after / must be 1 to 64 letters, digits, - "
		       "or _";
		return -1;
	}
	strcpy(u->name, slash + 1);
	return 0;
}

const char *
natsq_url_servers(const struct natsq_url *u, char *buf, size_t cap)
{
	size_t at = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < u->nsrv && at < cap; i++) {
		const char *s = strstr(u->srv[i], "://") + 3;
		int w = snprintf(buf + at, cap - at, "%s%s", i ? "," : "", s);

		if (w < 0)
			break;
		at += (size_t)w;
	}
	return buf;
}

/* ---- connecting ---- */

/*
 * The library reads a .creds file itself, when it connects; look at it
 * first, so that a missing file is named as the other secret files are
 * and a loose mode draws the same warning.  -1 after a message.
 */
static int
check_creds(const char *path)
{
	int fd;

	if ((fd = cli_secret_open("--nats-creds", path)) < 0)
		return -1;
	/* The library reads the file itself: only the mode is ours. */
	readfile_check_mode(fd, path);
	close(fd);
	return 0;
}

/*
 * --nats-user-file: the user on the first line, the password on the
 * second, read into locked memory and given to the library (which keeps
 * its own copy for reconnects).  -1 after a message.
 */
static int
set_userfile(natsOptions *no, const char *path)
{
	char *text, *user, *pw, *nl;
	size_t n;
	int rc = -1;

	if ((text = readfile_secret(
		 "--nats-user-file", path, USERFILE_MAX, &n)) == NULL)
		return -1;
	user = text;
	if ((nl = strchr(user, '\n')) == NULL) {
		cli_warnx("%s: want two lines, the user and the password",
		    cli_secret_name("--nats-user-file", path));
		goto out;
	}
	*nl = '\0';
	pw = nl + 1;
	pw[strcspn(pw, "\n")] = '\0';
	user[strcspn(user, "\r")] = '\0';
	pw[strcspn(pw, "\r")] = '\0';
	if (user[0] == '\0' || pw[0] == '\0') {
		cli_warnx("%s: want two lines, the user and the password",
		    cli_secret_name("--nats-user-file", path));
		goto out;
	}
	if (natsOptions_SetUserInfo(no, user, pw) != NATS_OK) {
		cli_warnx("nats: out of memory");
		goto out;
	}
	rc = 0;
out:
	readfile_secret_free(text);
	return rc;
}

struct natsq *
natsq_connect(const struct natsq_url *u, const struct natsq_opts *o, char *err,
    size_t errlen)
{
	const char *srv[NATSQ_MAXSRV];
	natsOptions *no = NULL;
	struct natsq *q;
	natsStatus s;
	jsOptions jo;
	char list[NATSQ_MAXSRV * NATSQ_SRVMAX], why[256];
	int i;

	err[0] = '\0';
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "nats: out of memory");
		return NULL;
	}
	strcpy(q->name, u->name);
	snprintf(
	    q->subject, sizeof(q->subject), "%s%s", u->name, NATSQ_SUBJECT);
	q->replicas = o->replicas > 0 ? o->replicas : DEFAULT_REPLICAS;
	q->replicas_set = o->replicas > 0;
	q->wait_ms = o->wait_ms > 0 ? o->wait_ms : DEFAULT_WAIT_MS;
	for (i = 0; i < u->nsrv; i++)
		srv[i] = u->srv[i];
	/*
	 * Reconnects never stop: a server that goes away is passed over for
	 * another, and requests made meanwhile fail after their own wait.
	 */
	if ((s = natsOptions_Create(&no)) != NATS_OK ||
	    (s = natsOptions_SetServers(no, srv, u->nsrv)) != NATS_OK ||
	    (s = natsOptions_SetName(no, cli_prog)) != NATS_OK ||
	    (s = natsOptions_SetTimeout(no, CONNECT_MS)) != NATS_OK ||
	    (s = natsOptions_SetAllowReconnect(no, true)) != NATS_OK ||
	    (s = natsOptions_SetMaxReconnect(no, -1)) != NATS_OK ||
	    (s = natsOptions_SetReconnectWait(no, RECONNECT_MS)) != NATS_OK ||
	    (s = natsOptions_SetErrorHandler(no, on_async_err, NULL)) !=
		NATS_OK)
		goto libfail;
	/*
	 * TLS: the system's trusted CAs (or $SSL_CERT_FILE), and the
	 * certificate must name the first host of the URL; the library
	 * checks names only when told which.
	 */
	if (u->tls &&
	    ((s = natsOptions_SetSecure(no, true)) != NATS_OK ||
		(s = natsOptions_SetExpectedHostname(no, u->host0)) != NATS_OK))
		goto libfail;
	if (natsq_opts_misuse(o) != NULL) {
		snprintf(err, errlen, "%s", natsq_opts_misuse(o));
		goto out;
	}
	if (o->creds != NULL) {
		if (check_creds(o->creds) != 0)
			goto out;
		if ((s = natsOptions_SetUserCredentialsFromFiles(
			 no, o->creds, NULL)) != NATS_OK)
			goto libfail;
	}
	if (o->userfile != NULL && set_userfile(no, o->userfile) != 0)
		goto out;
	s = natsConnection_Connect(&q->nc, no);
	if (s != NATS_OK) {
		lib_error(s, why, sizeof(why));
		snprintf(err, errlen, "nats: cannot connect to %s: %s",
		    natsq_url_servers(u, list, sizeof(list)), why);
		goto out;
	}
	natsOptions_Destroy(no);
	jsOptions_Init(&jo);
	jo.Wait = q->wait_ms;
	if ((s = natsConnection_JetStream(&q->js, q->nc, &jo)) != NATS_OK) {
		fail(q, s, "JetStream");
		snprintf(err, errlen, "%s", q->errbuf);
		natsq_close(q);
		return NULL;
	}
	return q;
libfail:
	lib_error(s, why, sizeof(why));
	snprintf(err, errlen, "nats: %s", why);
out:
	natsOptions_Destroy(no);
	natsq_close(q);
	return NULL;
}

int
natsq_connected(const struct natsq *q)
{
	return q->nc != NULL &&
	    natsConnection_Status(q->nc) == NATS_CONN_STATUS_CONNECTED;
}

void
natsq_close(struct natsq *q)
{
	int i;

	if (q == NULL)
		return;
	if (q->nc != NULL)
		natsConnection_FlushTimeout(q->nc, 1000);
	/* A bound consumer survives its subscription: nothing is deleted. */
	natsSubscription_Destroy(q->sub);
	kvStore_Destroy(q->kv);
	jsCtx_Destroy(q->pjs);
	jsCtx_Destroy(q->js);
	if (q->nc != NULL)
		natsConnection_Close(q->nc);
	natsConnection_Destroy(q->nc);
	for (i = 0; i < PUB_BUCKETS; i++)
		while (q->pub[i] != NULL) {
			struct pubent *e = q->pub[i];

			q->pub[i] = e->next;
			free(e);
		}
	if (q->pmu_init)
		pthread_mutex_destroy(&q->pmu);
	free(q);
}

void
natsq_finish(void)
{
	nats_CloseAndWait(2000);
}

/* ---- the spool stream ---- */

/* What to add to a refusal to place replicas. */
static const char *
placement_hint(jsErrCode jerr)
{
	switch ((int)jerr) {
	case JSStreamReplicasNotSupportedErr:
	case JSInsufficientResourcesErr:
	case JSClusterNoPeersErr:
		return " (N replicas need a cluster of at least N servers with "
		       "JetStream; --nats-replicas 1 for a single server)";
	default:
		return "";
	}
}

/*
 * A stream just created has no leader for a moment, and publishes to it
 * fail or wait: wait (up to LEADER_WAIT_MS) until one is elected, so the
 * first requests find it.  Nothing is lost when it is not (the publishes
 * fail, and are answered 503).
 */
static void
stream_led(struct natsq *q)
{
	uint64_t until = cli_mono_ns() + LEADER_WAIT_MS * 1000000ull;
	jsStreamInfo *si = NULL;
	int led;

	do {
		led = js_GetStreamInfo(&si, q->js, q->name, NULL, NULL) ==
			NATS_OK &&
		    (si->Cluster == NULL ||
			(si->Cluster->Leader != NULL &&
			    si->Cluster->Leader[0] != '\0'));
		jsStreamInfo_Destroy(si);
		si = NULL;
		if (led)
			return;
		usleep(50000);
	} while (cli_mono_ns() < until);
}

int
natsq_stream(struct natsq *q)
{
	const char *subj[1] = { q->subject };
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	jsErrCode jerr = 0;
	natsStatus s;
	int i, has, tries;

	/*
	 * Another process may create it at the same moment (two receivers
	 * started together): its create or ours then times out or names it
	 * taken, and a look again finds it.
	 */
	for (tries = 0; tries < STREAM_TRIES; tries++) {
		if (tries > 0)
			usleep(200000);
		jerr = 0;
		s = js_GetStreamInfo(&si, q->js, q->name, NULL, &jerr);
		if (s == NATS_OK) {
			has = 0;
			for (i = 0; i < si->Config->SubjectsLen; i++)
				has |= strcmp(si->Config->Subjects[i],
					   q->subject) == 0;
			if (!has) {
				jsStreamInfo_Destroy(si);
				snprintf(q->errbuf, sizeof(q->errbuf),
				    "nats: stream %s exists without the "
				    "subject %s",
				    q->name, q->subject);
				return -1;
			}
			if (q->replicas_set &&
			    si->Config->Replicas != q->replicas)
				cli_warnx("nats: stream %s has %d replica%s, "
					  "not %d: kept as it is",
				    q->name, (int)si->Config->Replicas,
				    si->Config->Replicas == 1 ? "" : "s",
				    q->replicas);
			jsStreamInfo_Destroy(si);
			return 0;
		}
		if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
			fail(q, s, "stream %s", q->name);
			if (q->transient)
				continue;
			return -1;
		}
		jsStreamConfig_Init(&sc);
		sc.Name = q->name;
		sc.Subjects = subj;
		sc.SubjectsLen = 1;
		sc.Storage = js_FileStorage;
		sc.Replicas = q->replicas;
		jerr = 0;
		s = js_AddStream(&si, q->js, &sc, NULL, &jerr);
		if (s == NATS_OK) {
			jsStreamInfo_Destroy(si);
			stream_led(q);
			return 0;
		}
		/* Created by another process meanwhile: look again. */
		if (jerr != JSStreamNameExistErr && !is_transient(q, s))
			break;
	}
	fail(q, s, "cannot create stream %s with %d replica%s", q->name,
	    q->replicas, q->replicas == 1 ? "" : "s");
	strncat(q->errbuf, placement_hint(jerr),
	    sizeof(q->errbuf) - strlen(q->errbuf) - 1);
	return -1;
}

/* ---- consumers ---- */

int
natsq_consume(struct natsq *q, const struct natsq_consumer *c, int *created)
{
	jsConsumerInfo *ci = NULL, *ci2 = NULL;
	jsConsumerConfig cc;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	int64_t wait_ns = c->ack_wait_ms * 1000000;

	*created = 0;
	s = js_GetConsumerInfo(&ci, q->js, q->name, c->durable, NULL, &jerr);
	if (s != NATS_OK && s != NATS_NOT_FOUND &&
	    jerr != JSConsumerNotFoundErr)
		return fail(
		    q, s, "consumer %s of stream %s", c->durable, q->name);
	if (s != NATS_OK) {
		jsConsumerConfig_Init(&cc);
		cc.Durable = c->durable;
		cc.AckPolicy = js_AckExplicit;
		cc.AckWait = wait_ns;
		cc.FilterSubject = q->subject;
		cc.DeliverPolicy = c->start == NATSQ_START_NEW ? js_DeliverNew
		    : c->start == NATSQ_START_TIME ? js_DeliverByStartTime
						   : js_DeliverAll;
		if (c->start == NATSQ_START_TIME)
			cc.OptStartTime = c->start_ns;
		jerr = 0;
		s = js_AddConsumer(&ci, q->js, q->name, &cc, NULL, &jerr);
		if (s == NATS_OK)
			*created = 1;
		else {
			/* Another follower created it meanwhile: take it. */
			s = js_GetConsumerInfo(
			    &ci, q->js, q->name, c->durable, NULL, NULL);
			if (s != NATS_OK)
				return fail(q, s, "cannot create consumer %s",
				    c->durable);
		}
	}
	if (!*created && c->ack_wait_set && ci->Config->AckWait != wait_ns) {
		cc = *ci->Config;
		cc.AckWait = wait_ns;
		s = js_UpdateConsumer(&ci2, q->js, q->name, &cc, NULL, &jerr);
		jsConsumerInfo_Destroy(ci2);
		if (s != NATS_OK) {
			jsConsumerInfo_Destroy(ci);
			return fail(q, s,
			    "cannot change the ack wait of "
			    "consumer %s",
			    c->durable);
		}
	}
	jsConsumerInfo_Destroy(ci);
	snprintf(q->durable, sizeof(q->durable), "%s", c->durable);
	jsSubOptions_Init(&so);
	so.Stream = q->name;
	so.Consumer = c->durable;
	s = js_PullSubscribe(
	    &q->sub, q->js, q->subject, c->durable, NULL, &so, &jerr);
	if (s != NATS_OK)
		return fail(q, s, "consumer %s", c->durable);
	return 0;
}

int
natsq_fetch(struct natsq *q, struct natsq_batch *b, int max, int64_t wait_ms)
{
	natsMsgList list = { 0 };
	jsFetchRequest fr;
	uint64_t t0 = cli_mono_ns();
	int64_t took;
	natsStatus s;

	b->m = NULL;
	b->n = 0;
	/*
	 * One request for up to max messages that does not wait for all of
	 * them: the server (2.9) answers at once with what is ready, or, when
	 * nothing is, with the first messages stored within wait_ms.  So a
	 * lone capture is written as soon as it is stored and a flood comes
	 * by the batch.  (natsSubscription_Fetch waits until its batch is
	 * full or the time is up.)
	 */
	jsFetchRequest_Init(&fr);
	fr.Batch = max;
	fr.NoWait = true;
	fr.Expires = (wait_ms > 0 ? wait_ms : 1) * 1000000;
	s = natsSubscription_FetchRequest(&list, q->sub, &fr);
	if (s == NATS_NOT_FOUND || s == NATS_TIMEOUT) {
		/*
		 * The server also refuses at once when messages are pending
		 * but held for other requests (408 "Requests Pending"): wait
		 * a little rather than ask again and again.
		 */
		took = (int64_t)((cli_mono_ns() - t0) / 1000000);
		if (took < wait_ms / 2)
			usleep(
			    (useconds_t)(wait_ms < 100 ? wait_ms : 100) * 1000);
		return 0;
	}
	if (s != NATS_OK)
		return fail(q, s, "fetch from %s", q->name);
	b->m = (void **)list.Msgs;
	b->n = list.Count;
	return b->n;
}

const char *
natsq_data(const struct natsq_batch *b, int i, size_t *n)
{
	natsMsg *m = b->m[i];

	*n = (size_t)natsMsg_GetDataLength(m);
	return natsMsg_GetData(m);
}

uint64_t
natsq_delivered(const struct natsq_batch *b, int i)
{
	jsMsgMetaData *md = NULL;
	uint64_t n = 0;

	if (natsMsg_GetMetaData(&md, b->m[i]) == NATS_OK) {
		n = md->NumDelivered;
		jsMsgMetaData_Destroy(md);
	}
	return n;
}

int
natsq_ack(struct natsq *q, struct natsq_batch *b, int i)
{
	natsStatus s = natsMsg_Ack(b->m[i], NULL);

	return s == NATS_OK ? 0 : fail(q, s, "acknowledge");
}

int
natsq_nak(struct natsq *q, struct natsq_batch *b, int i)
{
	natsStatus s = natsMsg_Nak(b->m[i], NULL);

	return s == NATS_OK ? 0 : fail(q, s, "give back");
}

void
natsq_batch_free(struct natsq_batch *b)
{
	natsMsgList list;

	if (b->m == NULL)
		return;
	list.Msgs = (natsMsg **)b->m;
	list.Count = b->n;
	natsMsgList_Destroy(&list);
	b->m = NULL;
	b->n = 0;
}

int
natsq_sync(struct natsq *q, int64_t ms)
{
	natsStatus s = natsConnection_FlushTimeout(q->nc, ms);

	return s == NATS_OK ? 0 : fail(q, s, "flush");
}

int
natsq_consumer_state(struct natsq *q, struct natsq_cstate *st)
{
	jsConsumerInfo *ci = NULL;
	jsStreamInfo *si = NULL;
	natsStatus s;

	s = js_GetConsumerInfo(&ci, q->js, q->name, q->durable, NULL, NULL);
	if (s != NATS_OK)
		return fail(q, s, "consumer state");
	st->pending = ci->NumPending;
	st->ack_pending = (uint64_t)ci->NumAckPending;
	st->redelivered = (uint64_t)ci->NumRedelivered;
	st->waiting = (uint64_t)ci->NumWaiting;
	st->delivered_seq = ci->Delivered.Stream;
	jsConsumerInfo_Destroy(ci);
	/* After: what the consumer has seen cannot pass what is stored. */
	s = js_GetStreamInfo(&si, q->js, q->name, NULL, NULL);
	if (s != NATS_OK)
		return fail(q, s, "stream state");
	st->stream_last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return 0;
}

/* ---- the key-value bucket ---- */

int
natsq_kv(struct natsq *q, int64_t ttl_ms)
{
	jsStreamInfo *si = NULL;
	char stream[NATSQ_NAMEMAX + 3];
	kvConfig kc;
	natsStatus s;

	s = js_KeyValue(&q->kv, q->js, q->name);
	if (s == NATS_OK) {
		/* A bucket's TTL is its stream's MaxAge. */
		snprintf(stream, sizeof(stream), "KV_%s", q->name);
		if (js_GetStreamInfo(&si, q->js, stream, NULL, NULL) ==
			NATS_OK &&
		    si->Config->MaxAge != ttl_ms * 1000000)
			cli_warnx("nats: bucket %s keeps keys for %llds, "
				  "not --ttl %llds: kept as it is",
			    q->name,
			    (long long)(si->Config->MaxAge / 1000000000),
			    (long long)(ttl_ms / 1000));
		jsStreamInfo_Destroy(si);
		return 0;
	}
	if (s != NATS_NOT_FOUND)
		return fail(q, s, "bucket %s", q->name);
	kvConfig_Init(&kc);
	kc.Bucket = q->name;
	kc.History = 1;
	kc.TTL = ttl_ms * 1000000;
	kc.StorageType = js_FileStorage;
	kc.Replicas = q->replicas;
	s = js_CreateKeyValue(&q->kv, q->js, &kc);
	if (s != NATS_OK) {
		fail(q, s, "cannot create bucket %s with %d replica%s", q->name,
		    q->replicas, q->replicas == 1 ? "" : "s");
		/* The library keeps the server's error code to itself. */
		if (strstr(q->errbuf, "replicas") != NULL ||
		    strstr(q->errbuf, "insufficient resources") != NULL)
			strncat(q->errbuf,
			    placement_hint(JSInsufficientResourcesErr),
			    sizeof(q->errbuf) - strlen(q->errbuf) - 1);
		return -1;
	}
	return 0;
}

/*
 * No server connected: a request would only wait for its timeout in the
 * library's reconnect buffer.  1 with the reason set, else 0.
 */
static int
kv_offline(struct natsq *q)
{
	if (natsq_connected(q))
		return 0;
	snprintf(q->errbuf, sizeof(q->errbuf),
	    "nats: bucket %s: no server reachable", q->name);
	return 1;
}

/*
 * A key's last value, read from the bucket stream's leader (the stream API's
 * message get), not with kvStore_Get: the library creates buckets that
 * allow direct gets, which any replica answers, and a replica behind the
 * leader (back from a pause, catching up) answers for a key written an
 * instant ago that it is absent, so a check passed a key already recorded;
 * a replica that hangs stalls every direct get sent its way.
 */
int
natsq_kv_get(struct natsq *q, const char *key, char *val, size_t cap,
    uint64_t *rev, int64_t *written_ns)
{
	char stream[NATSQ_NAMEMAX + 3], subj[NATSQ_NAMEMAX + 512];
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	const char *op = NULL;
	natsStatus s;
	size_t n;

	if (kv_offline(q))
		return -1;
	snprintf(stream, sizeof(stream), "KV_%s", q->name);
	if ((size_t)snprintf(subj, sizeof(subj), "$KV.%s.%s", q->name, key) >=
	    sizeof(subj)) {
		snprintf(q->errbuf, sizeof(q->errbuf),
		    "nats: bucket %s: key too long", q->name);
		q->transient = 0;
		return -1;
	}
	s = js_GetLastMsg(&m, q->js, stream, subj, NULL, &jerr);
	if (s == NATS_NOT_FOUND)
		return 1;
	if (s != NATS_OK)
		return fail(q, s, "get from bucket %s", q->name);
	/* A deleted or purged key is a marker without a value. */
	if (natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK &&
	    op != NULL &&
	    (strcmp(op, "DEL") == 0 || strcmp(op, "PURGE") == 0)) {
		natsMsg_Destroy(m);
		return 1;
	}
	n = (size_t)natsMsg_GetDataLength(m);
	if (n >= cap)
		n = cap - 1;
	memcpy(val, natsMsg_GetData(m), n);
	val[n] = '\0';
	*rev = natsMsg_GetSequence(m);
	*written_ns = natsMsg_GetTime(m);
	natsMsg_Destroy(m);
	return 0;
}

int
natsq_kv_create(
    struct natsq *q, const char *key, const char *val, size_t n, uint64_t *rev)
{
	char cur[64], why[sizeof(q->errbuf)];
	uint64_t crev;
	int64_t at;
	natsStatus s;
	int r, i;

	/*
	 * kvStore_Create fails when the key exists, and for any other
	 * reason; a read tells them apart.  The read may come from a
	 * replica that has not applied the write yet: try again.
	 */
	if (kv_offline(q))
		return -1;
	for (i = 0; i < KV_TRIES; i++) {
		s = kvStore_Create(rev, q->kv, key, val, (int)n);
		if (s == NATS_OK)
			return 0;
		fail(q, s, "create in bucket %s", q->name);
		memcpy(why, q->errbuf, sizeof(why));
		r = natsq_kv_get(q, key, cur, sizeof(cur), &crev, &at);
		if (r <= 0)
			return r < 0 ? -1 : 1;
		usleep(10000u << i);
	}
	memcpy(q->errbuf, why, sizeof(why));
	return -1;
}

int
natsq_kv_update(struct natsq *q, const char *key, const char *val, size_t n,
    uint64_t last, uint64_t *newrev)
{
	char cur[64], why[sizeof(q->errbuf)];
	uint64_t rev;
	int64_t at;
	natsStatus s;
	int r;

	if (kv_offline(q))
		return -1;
	s = kvStore_Update(newrev, q->kv, key, val, (int)n, last);
	if (s == NATS_OK)
		return 0;
	fail(q, s, "update in bucket %s", q->name);
	memcpy(why, q->errbuf, sizeof(why));
	r = natsq_kv_get(q, key, cur, sizeof(cur), &rev, &at);
	if (r < 0)
		return -1;
	if (r == 1 || rev != last)
		return 1;
	memcpy(q->errbuf, why, sizeof(why));
	return -1;
}

int
natsq_kv_put(struct natsq *q, const char *key, const char *val, size_t n)
{
	natsStatus s;

	if (kv_offline(q))
		return -1;
	s = kvStore_Put(NULL, q->kv, key, val, (int)n);
	return s == NATS_OK ? 0 : fail(q, s, "put in bucket %s", q->name);
}

/* ---- publishing ---- */

static size_t
pub_slot(const natsMsg *m)
{
	uintptr_t x = (uintptr_t)m;

	return (size_t)((x >> 4) ^ (x >> 16)) % PUB_BUCKETS;
}

static int
pub_put(struct natsq *q, natsMsg *m, void *arg)
{
	struct pubent *e;
	size_t h = pub_slot(m);

	if ((e = malloc(sizeof(*e))) == NULL)
		return -1;
	e->m = m;
	e->arg = arg;
	pthread_mutex_lock(&q->pmu);
	e->next = q->pub[h];
	q->pub[h] = e;
	pthread_mutex_unlock(&q->pmu);
	return 0;
}

/* Take m's entry out; returns its arg. */
static void *
pub_take(struct natsq *q, natsMsg *m)
{
	struct pubent **pp, *e;
	size_t h = pub_slot(m);
	void *arg = NULL;

	pthread_mutex_lock(&q->pmu);
	for (pp = &q->pub[h]; (e = *pp) != NULL; pp = &e->next)
		if (e->m == m) {
			*pp = e->next;
			arg = e->arg;
			free(e);
			break;
		}
	pthread_mutex_unlock(&q->pmu);
	return arg;
}

/* The library's callback for every asynchronous publish. */
static void
on_pub_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *cl)
{
	struct natsq *q = cl;
	void *arg = pub_take(q, m);
	char why[256];

	natsMsg_Destroy(m);
	if (pa != NULL) {
		q->pubcb(arg, 1, pa->Sequence, pa->Duplicate, NULL);
		return;
	}
	snprintf(why, sizeof(why), "%s",
	    pae != NULL && pae->ErrText != NULL && pae->ErrText[0] != '\0'
		? pae->ErrText
		: natsStatus_GetText(pae != NULL ? pae->Err : NATS_ERR));
	if (isupper((unsigned char)why[0]) && islower((unsigned char)why[1]))
		why[0] = (char)tolower((unsigned char)why[0]);
	q->pubcb(arg, 0, 0, 0, why);
}

int
natsq_pub_start(
    struct natsq *q, natsq_pub_fn *cb, int max_inflight, int64_t max_wait_ms)
{
	jsOptions jo;
	natsStatus s;

	if (pthread_mutex_init(&q->pmu, NULL) != 0) {
		snprintf(q->errbuf, sizeof(q->errbuf), "nats: out of memory");
		return -1;
	}
	q->pmu_init = 1;
	q->pubcb = cb;
	q->pub_wait_ms = max_wait_ms;
	jsOptions_Init(&jo);
	jo.Wait = q->wait_ms;
	jo.PublishAsync.MaxPending = max_inflight;
	jo.PublishAsync.StallWait = max_wait_ms;
	jo.PublishAsync.AckHandler = on_pub_ack;
	jo.PublishAsync.AckHandlerClosure = q;
	if ((s = natsConnection_JetStream(&q->pjs, q->nc, &jo)) != NATS_OK)
		return fail(q, s, "JetStream");
	return 0;
}

void
natsq_msgid(
    const char *body, size_t bodyn, const char *ts, size_t tsn, char *id)
{
	static const char hex[] = "0123456789abcdef";
	crypto_generichash_state st;
	unsigned char h[16];
	size_t i;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)ts, tsn);
	crypto_generichash_update(&st, (const unsigned char *)"", 1);
	crypto_generichash_update(&st, (const unsigned char *)body, bodyn);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(id, "ch1-", 4);
	for (i = 0; i < sizeof(h); i++) {
		id[4 + 2 * i] = hex[h[i] >> 4];
		id[5 + 2 * i] = hex[h[i] & 15];
	}
	id[NATSQ_MSGID_LEN] = '\0';
}

const char *
natsq_pub_error(void)
{
	return puberr;
}

int
natsq_publish(
    struct natsq *q, const char *p, size_t n, const char *id, void *arg)
{
	natsMsg *m = NULL;
	jsPubOptions po;
	natsStatus s;
	char why[200];

	if ((s = natsMsg_Create(&m, q->subject, NULL, p, (int)n)) != NATS_OK) {
		lib_error(s, why, sizeof(why));
		snprintf(puberr, sizeof(puberr), "nats: publish: %s", why);
		return -1;
	}
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.ExpectStream = q->name;
	po.MaxWait = q->pub_wait_ms;
	/* The answer may come before js_PublishMsgAsync returns. */
	if (pub_put(q, m, arg) != 0) {
		natsMsg_Destroy(m);
		snprintf(puberr, sizeof(puberr), "nats: out of memory");
		return -1;
	}
	s = js_PublishMsgAsync(q->pjs, &m, &po);
	if (s != NATS_OK) {
		/* Not sent: the library gave the message back. */
		pub_take(q, m);
		natsMsg_Destroy(m);
		lib_error(s, why, sizeof(why));
		snprintf(puberr, sizeof(puberr), "nats: publish: %s", why);
		return -1;
	}
	return 0;
}

int
natsq_pub_drain(struct natsq *q, int64_t ms)
{
	jsPubOptions po;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MaxWait = ms;
	s = js_PublishAsyncComplete(q->pjs, &po);
	return s == NATS_OK ? 0 : fail(q, s, "publishes still unacknowledged");
}
