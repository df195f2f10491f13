/*
 * closehook-receive - the front door: accept Close's webhook POSTs, make
 * each one durable, then answer 2xx.
 *
 * Each POST to --path becomes one capture (DESIGN.md section 2).  With
 * --spool it is appended to the spool and fdatasync'd before the 2xx; the
 * captures of concurrent requests share one fdatasync (group commit):
 * the HTTP thread suspends each finished request and queues its capture,
 * and one committer thread writes whatever has queued, syncs once, and
 * resumes every request of the batch.  Captures also go to stdout (after
 * the spool), written and flushed before the answer; when stdout stops
 * draining, new requests get 503 and Retry-After instead of memory.  With
 * keys, a request whose signature does not verify gets 401 and is not
 * captured.  A request whose framing two readers could take differently
 * (RFC 9112: two Content-Lengths, two Hosts, a transfer coding other than
 * chunked) gets 400 or 501 before its body is read.  Nothing is
 * acknowledged that is not written.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "capture.h"
#include "cli.h"
#include "closesig.h"
#include "httpframe.h"
#include "isotime.h"
#include "json.h"
#include "keyring.h"
#include "metrics.h"
#include "natsq.h"
#include "netaddr.h"
#include "out.h"
#include "readfile.h"

static const char synopsis[] =
    "closehook-receive [-q] [-l ADDR:PORT] [--path PATH] [--spool FILE | URL]\n"
    "\t[--secret-file FILE]... [--max-age DURATION] [--rejects FILE]\n"
    "\t[--max-body BYTES] [--max-buffered BYTES]\n"
    "\t[--max-buffered-per-ip BYTES] [--max-connections N]\n"
    "\t[--max-connections-per-ip N] [--timeout DURATION]\n"
    "\t[--header-timeout DURATION] [--tls-cert FILE --tls-key FILE]\n"
    "\t[--nats-creds FILE | --nats-user-file FILE] [--nats-replicas N]\n";

/* Captures waiting for the spool or stdout, in bytes, before 503s. */
#define BACKLOG_MAX ((size_t)64 * 1024 * 1024)
/* How long a batch waits for stdout to take its captures. */
#define STDOUT_WAIT_MS 1000
/* What a 503 asks the sender to wait, in seconds. */
#define RETRY_AFTER "5"
/* Body bytes allocated before they arrive, at most. */
#define BODY_PREALLOC (256 * 1024)
/*
 * A stream spool: how long a publish may wait for the stream's
 * acknowledgement (a leader election takes a few seconds; Close waits
 * longer than this for an answer), and how many may await one at once.
 */
#define NATS_PUB_WAIT_MS 5000
#define NATS_INFLIGHT 4096
/* Headers kept per request (MHD's connection memory bounds them too). */
#define HDR_MAX 128
#define PEM_MAX (1024 * 1024) /* a certificate chain or a key */

/* Options. */
/*
 * The keys: *keys_cur, read under keys_lock by the request threads and
 * swapped under it when the key files are read again (the old ring is
 * wiped once no check uses it): on SIGHUP, and when a request is refused
 * for its key while a key file has changed, at most once a second
 * (RELOAD_GAP_NS), so a key `closehook-subscribe create` just appended
 * is taken at the first delivery signed with it.  reload_mu orders the
 * reloads.  Whether receive checks at all is decided at start (have_keys).
 */
static struct keyring *keys_cur;
/* Writer first: a reload is not held off by checks that keep overlapping. */
static pthread_rwlock_t keys_lock =
    PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static pthread_mutex_t reload_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t reload_last; /* under reload_mu: a reject's last reload */
#define RELOAD_GAP_NS 1000000000ull
struct req;
struct capture_hdr;
static enum closesig_reason key_check(
    const struct req *, const struct capture_hdr *, const struct capture_hdr *);
static int keys_reload_changed(void);
static const char **key_paths; /* the --secret-file operands, in order */
static size_t nkey_paths;
static int have_keys;
static int64_t max_age = 300;
static const char *spool_path, *rej_path;
/* --spool nats://...: the stream, and its connection once made. */
static const char *nats_spec;
static struct natsq_opts nats_opt;
static struct natsq *nq;
static const char *path = "/";
static uint64_t max_body = 16 * 1024 * 1024;
/*
 * Request bodies held in memory at once, in all (--max-buffered): each
 * body reserves its announced length before any of it is read, a chunked
 * one as it grows.  buffered is the sum reserved.
 */
static uint64_t max_buffered = (uint64_t)64 * 1024 * 1024;
static atomic_size_t buffered;
/* MHD's per-connection memory pool (see MHD_start_daemon below). */
#define CONN_MEMORY (16 * 1024)
static int64_t max_conns = 512;
static int64_t timeout_s = 10;
static int64_t hdr_timeout_ms = 5000;
static int64_t max_per_ip = 64;
static int quiet;

/*
 * One connection, from its accept to its close (libmicrohttpd's socket
 * context).  While a request line and headers are due on it, it sits in
 * the due list: from the accept, and again from each answer on a kept-alive
 * connection, until a request's headers are complete.  Every entry's
 * deadline is its start plus the same --header-timeout, so appending keeps
 * the list in deadline order and the door thread looks at its head only.
 * door_lock guards the list and its links.
 */
struct conn {
	struct conn *prev, *next;
	uint64_t due; /* monotonic ns */
	int fd;
	int listed;
	int linger; /* answered with request bytes maybe unread */
};

/*
 * Closed connections whose client may still be sending a body we answered
 * early: the door thread reads and drops what comes, so that the close
 * does not reset the connection under the answer.  At most LINGER_MAX at
 * once (more are closed at once, as libmicrohttpd does), each until the
 * client closes, LINGER_IDLE_NS without data, or as long as a body may
 * take (four times --timeout).  door_lock guards the table; only the door
 * thread closes its descriptors.
 */
#define LINGER_MAX 64
#define LINGER_IDLE_NS (2 * 1000000000ull)
struct lingering {
	int fd;
	uint64_t idle_until, until;
};
static struct lingering lingering[LINGER_MAX];
static int nlinger;
/* Descriptors kept for the spool, the rejects file, pipes, epoll... */
#define FD_RESERVE 64

static pthread_mutex_t door_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *due_head, *due_tail;
static int door_wake[2] = { -1, -1 }; /* a pipe that wakes the door thread */
static pthread_t door;
static atomic_int door_stop;

/*
 * The state of one request, from its request line to its answer: RS_NEW
 * until its headers are complete, then RS_BODY while its body arrives,
 * RS_QUEUED while the committer has it, RS_ANSWERED once an answer is
 * queued (or the connection is dropped).  RS_DEFER instead of RS_BODY: the
 * answer was decided at the headers of a request without a body, and
 * waits for the request's end (see early()).
 */
enum rstate {
	RS_NEW,
	RS_BODY,
	RS_DEFER,
	RS_QUEUED,
	RS_ANSWERED
};

struct req {
	struct req *next; /* committer queue */
	struct MHD_Connection *conn;
	uint64_t t0; /* monotonic ns at the headers */
	struct timespec rt; /* wall clock at the headers */
	enum rstate state;
	int too_big; /* past --max-body */
	int over; /* past --max-buffered: dropped, 503 at its end */
	uint64_t clen; /* the announced length, or UINT64_MAX (chunked) */
	size_t held; /* bytes of --max-buffered reserved */
	unsigned status; /* answer decided by committer */
	char *body;
	size_t n, cap;
	char *line; /* the capture line */
	size_t linen;
	uint64_t so_end; /* stdout offset after the line */
	int stored; /* the spool (file or stream) has it, durably */
	char msgid[NATSQ_MSGID_LEN + 1]; /* a stream spool: Nats-Msg-Id */
	uint64_t pub_t0; /* monotonic ns at its publish */
	struct pubwait *pw; /* the batch it is published with */
	int nobody; /* framed without a body */
	unsigned dcode; /* RS_DEFER: the answer, */
	struct MHD_Response *dresp; /* its response (NULL: the code's), */
	int dmetrics; /* or /metrics, rendered when sent */
	int internal; /* /healthz or /metrics: not counted as a request */
	int head_refused; /* refused by its signature headers, */
	enum closesig_reason head_why; /* why: read for --rejects */
	unsigned char ip[16]; /* the client's address, for its share of */
	unsigned iplen; /* --max-buffered (4 or 16 bytes; 0: none) */
	size_t targetn;
	char target[]; /* the request target as sent, NUL-terminated */
};

/* The committer's queue and state; lock protects the first group. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct req *qhead, **qtail = &qhead;
static int stopping_committer;
static int reopen_spool;
/* Committer threads: concurrent fdatasyncs share the disk's flushes. */
#define NCOMMITTERS 2
static pthread_t committers[NCOMMITTERS];
/*
 * wlock orders spool writes and guards spool_end, spool_good and
 * spool_failed; spool_rw guards the descriptors' life (committers hold it
 * for reading, a reopen for writing).
 */
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t spool_rw = PTHREAD_RWLOCK_INITIALIZER;
/* slock guards stdout's buffer (so_*). */
static pthread_mutex_t slock = PTHREAD_MUTEX_INITIALIZER;
static atomic_size_t so_pending; /* bytes in stdout's buffer */

static atomic_size_t backlog; /* queued + stdout pending bytes */
static atomic_int stdout_stalled; /* stdout did not drain in time */
static atomic_int stopping; /* SIGTERM: no new requests */
static atomic_int fatal; /* stdout failed without a spool */
static atomic_long inflight; /* requests not yet completed */
static atomic_int rej_reopen; /* SIGHUP generation for rejects */
/* The spool fails: from a failed write or sync to the next good batch. */
static atomic_int spool_failing;
/*
 * When it last failed: /healthz says 503 for SPOOL_HEALTH_NS after it, so
 * that a load balancer that stopped sending for it tries again (only a
 * request finds the spool good again).
 */
static _Atomic uint64_t spool_fail_ns;
#define SPOOL_HEALTH_NS (10 * 1000000000ull)

/*
 * The spool, one descriptor (open file description) per committer: Linux
 * reports a writeback error to each description once, so no committer's
 * fdatasync returns 0 because the other one consumed the error.
 */
static int spool_fd[NCOMMITTERS] = { -1, -1 };
static off_t spool_end; /* end of the last whole line written */
static off_t spool_good; /* end of what a sync made durable: the 2xx line */
static int spool_failed; /* a write or sync failed: reopen before any 2xx */
/*
 * An outage of the spool (failures since the last acknowledged batch, or
 * publish) is reported once, and at most one a SPOOL_WARN_NS: a disk on
 * the edge of full fails and recovers with every other batch.  Its end is
 * reported when its start was.  The lock that guards the spool guards it.
 */
#define SPOOL_WARN_NS (10 * 1000000000ull)
struct outage {
	int down; /* failed since the last success */
	int said; /* this outage was reported */
	uint64_t said_ns; /* when an outage was last reported */
};
static struct outage spool_outage; /* under wlock or spool_rw for writing */
static char spool_why[PATH_MAX + 128]; /* why spool_open() failed */
static int so_on; /* stdout takes captures */
static int so_pipe; /* stdout is non-blocking */
static char *so_buf;
static size_t so_len, so_off;
static uint64_t so_total, so_flushed; /* bytes ever queued / written */
static struct out rej_out; /* --rejects, once open */
static int rej_open;
static int rej_gen;

/* Metrics. */
static const unsigned codes[] = { 200, 400, 401, 404, 405, 408, 413, 431, 500,
	501, 503, 505 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))
static atomic_ulong m_req[NCODES];
static atomic_ulong m_bytes;
static atomic_ulong m_captures;
static atomic_ulong m_capbytes;
static atomic_ulong m_rejects[CLOSESIG_COUNT];
static atomic_ulong m_rejects_unkept; /* refused, not in --rejects */
/* What --rejects keeps of requests anyone can send. */
#define KEEP_BODY_MAX (256 * 1024)
#define KEEP_FILE_MAX ((off_t)1 << 30)
static atomic_ulong m_batches;
static atomic_ulong m_hdr_timeouts;
static atomic_ulong m_fsync_us;
static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
static atomic_ulong m_lat[NBUCKETS + 1];
static atomic_ulong m_lat_us;
/* A stream spool: publish acknowledgements' latency, failures. */
static atomic_ulong m_plat[NBUCKETS + 1];
static atomic_ulong m_plat_us;
static atomic_ulong m_pubfail;
/*
 * The registry /metrics renders (in the HTTP thread only), and the values
 * it takes from the atomics above just before each rendering.
 */
static struct metrics met;
static char code_text[NCODES][8];
static uint64_t mlat_count[NBUCKETS + 1];
static struct metrics_hist mlat = { buckets, NBUCKETS, mlat_count, 0 };
static uint64_t mplat_count[NBUCKETS + 1];
static struct metrics_hist mplat = { buckets, NBUCKETS, mplat_count, 0 };
static double m_fsync_s, m_inflight;
static size_t m_backlog, m_buffered;
static int m_stalled, m_nats_up, m_spool_failing;

static void nats_failed(const char *why);

static struct MHD_Response *r_ok, *r_401, *r_404, *r_405, *r_405get, *r_408,
    *r_413, *r_500, *r_501, *r_503, *r_503close, *r_505, *r_health, *r_400,
    *r_nats_down, *r_spool_down;

static void
usage(void)
{
	cli_usage(synopsis);
}

static void
help(void)
{
	printf("usage: %s", synopsis);
	printf("\n"
	       "Accept Close webhook POSTs, make each durable, answer 2xx, "
	       "write captures.\n"
	       "\n"
	       "  -l, --listen ADDR:PORT      address to listen on (default "
	       "127.0.0.1:8080;\n"
	       "                              [::1]:8080 for IPv6; port 0 "
	       "picks a free one)\n"
	       "  --path PATH                 the path Close posts to "
	       "(default /)\n"
	       "  --spool FILE                append each capture and "
	       "fdatasync before the 2xx\n"
	       "  --spool nats://HOST:PORT[,...]/STREAM\n"
	       "                              publish each capture to a "
	       "JetStream stream; 2xx\n"
	       "                              once a quorum stored it\n"
	       "  --nats-creds FILE           NATS credentials (.creds file)\n"
	       "  --nats-user-file FILE       NATS user and password, a line "
	       "each\n"
	       "  --nats-replicas N           replicas of a stream created "
	       "here (default 3)\n"
	       "  --secret-file FILE          verify at the door with these "
	       "keys (401 if bad)\n"
	       "  --max-age DURATION          replay window with keys "
	       "(default 5m; 0: off)\n"
	       "  --rejects FILE              append each 401 request as an "
	       "NDJSON line\n"
	       "  --max-body BYTES            largest body accepted (default "
	       "16M; else 413)\n"
	       "  --max-buffered BYTES        bodies in memory at once, in all "
	       "(default 64M)\n"
	       "  --max-buffered-per-ip BYTES of them from one address "
	       "(default: a quarter,\n"
	       "                              at least --max-body; 0: no "
	       "cap)\n"
	       "  --max-connections N         connections at once (default "
	       "512)\n"
	       "  --max-connections-per-ip N  from one address (default 64; "
	       "0: no cap)\n"
	       "  --timeout DURATION          idle limit per connection "
	       "(default 10s)\n"
	       "  --header-timeout DURATION   request line and headers within "
	       "this (default 5s)\n"
	       "  --tls-cert FILE             serve HTTPS with this PEM "
	       "certificate chain\n"
	       "  --tls-key FILE              and this PEM private key\n"
	       "  -q, --quiet                 no stderr line per rejected "
	       "request\n"
	       "  -h, --help                  show this help\n"
	       "      --version               show the version\n"
	       "\n"
	       "Keys also come from $CLOSEHOOK_SECRET and "
	       "$CLOSEHOOK_SECRET_FILE.\n");
	exit(cli_close_out());
}

/* Metrics helpers. */

/* Count a duration of s seconds into a histogram of atomics. */
static void
lat_add(atomic_ulong *count, atomic_ulong *sum_us, double s)
{
	size_t i;

	for (i = 0; i < NBUCKETS && s > buckets[i]; i++)
		;
	atomic_fetch_add_explicit(&count[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    sum_us, (unsigned long)(s * 1e6), memory_order_relaxed);
}

static void
count_answer(struct req *r, unsigned code)
{
	size_t i;

	/* The monitoring's own requests are not traffic. */
	if (r != NULL && r->internal)
		return;

	for (i = 0; i < NCODES; i++)
		if (codes[i] == code) {
			atomic_fetch_add_explicit(
			    &m_req[i], 1, memory_order_relaxed);
			break;
		}
	if (r != NULL)
		lat_add(
		    m_lat, &m_lat_us, (double)(cli_mono_ns() - r->t0) / 1e9);
}

static struct MHD_Response *
response_for(unsigned code)
{
	switch (code) {
	case 200:
		return r_ok;
	case 400:
		return r_400;
	case 401:
		return r_401;
	case 404:
		return r_404;
	case 408:
		return r_408;
	case 413:
		return r_413;
	case 501:
		return r_501;
	case 505:
		return r_505;
	case 503:
		return atomic_load(&stopping) ? r_503close : r_503;
	default:
		return r_500;
	}
}

/*
 * Bodies already refused by their headers, read only to be kept
 * (--rejects), come out of a pool of their own, so that anyone
 * sending them cannot take --max-buffered from Close's deliveries.
 */
#define KEEP_BUFFERED_MAX ((size_t)4 << 20)
static atomic_size_t refused_buffered;

/*
 * One client address holds at most a quarter of --max-buffered (and never
 * less than --max-body): a sender that announces large bodies and trickles
 * them, with signature headers that only look right, cannot take all of
 * it from Close's deliveries.  The bytes each address holds are kept in an
 * open-addressed table (linear probing, backward-shift deletion) of
 * addresses holding some, at most --max-connections of them; only the
 * HTTP thread reserves and frees, so it needs no lock.
 */
struct ipheld {
	unsigned char addr[16];
	unsigned len; /* 0: a free slot */
	uint64_t held;
};
static struct ipheld *iptab;
static size_t iptab_mask; /* slots - 1, a power of 2 minus 1 */
/* --max-buffered-per-ip; UINT64_MAX until iptab_init: not given. */
static uint64_t max_ip_buffered = UINT64_MAX;

static size_t
ip_slot(const unsigned char *a, unsigned len)
{
	uint32_t h = 2166136261u;
	unsigned i;

	for (i = 0; i < len; i++)
		h = (h ^ a[i]) * 16777619u;
	return h & iptab_mask;
}

/* The slot of address a, a new one when add; NULL when not there (full). */
static struct ipheld *
ip_find(const unsigned char *a, unsigned len, int add)
{
	size_t i = ip_slot(a, len), k;

	for (k = 0; k <= iptab_mask; k++, i = (i + 1) & iptab_mask) {
		if (iptab[i].len == 0) {
			if (!add)
				return NULL;
			memcpy(iptab[i].addr, a, len);
			iptab[i].len = len;
			iptab[i].held = 0;
			return &iptab[i];
		}
		if (iptab[i].len == len && memcmp(iptab[i].addr, a, len) == 0)
			return &iptab[i];
	}
	return NULL;
}

/* A bound of bodies that --max-body's largest body must fit, or exit 2. */
static void
holds_max_body(const char *opt, uint64_t v)
{
	if (v >= max_body)
		return;
	cli_warnx("--%s (%llu bytes) is less than --max-body (%llu bytes): "
		  "such a body could never be taken",
	    opt, (unsigned long long)v, (unsigned long long)max_body);
	usage();
}

/*
 * The cap per address (0 given: none but --max-buffered) and a table of
 * at least twice --max-connections slots, so it never fills.
 */
static void
iptab_init(void)
{
	size_t slots = 16;

	if (max_ip_buffered == UINT64_MAX)
		max_ip_buffered =
		    max_buffered / 4 > max_body ? max_buffered / 4 : max_body;
	else if (max_ip_buffered == 0)
		max_ip_buffered = max_buffered;
	while (slots < 2 * (size_t)max_conns)
		slots *= 2;
	iptab = xcalloc(slots, sizeof(*iptab));
	iptab_mask = slots - 1;
}

/* Empty e's slot, moving back the entries that probed past it. */
static void
ip_drop(struct ipheld *e)
{
	size_t i = (size_t)(e - iptab), j = i, home;

	for (;;) {
		j = (j + 1) & iptab_mask;
		if (iptab[j].len == 0)
			break;
		home = ip_slot(iptab[j].addr, iptab[j].len);
		/* j may move to i when its home is not within (i, j]. */
		if (((j - home) & iptab_mask) >= ((j - i) & iptab_mask)) {
			iptab[i] = iptab[j];
			i = j;
		}
	}
	iptab[i].len = 0;
}

/* The client's address, as libmicrohttpd has it, or NULL. */
static const struct sockaddr *
client_sockaddr(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci != NULL ? ci->client_addr : NULL;
}

/* Reserve n more bytes of --max-buffered for r's body; returns 0 or -1. */
static int
body_reserve(struct req *r, uint64_t n)
{
	struct ipheld *e = NULL;

	if (r->head_refused) {
		if (n > KEEP_BUFFERED_MAX - atomic_load(&refused_buffered))
			return -1;
		atomic_fetch_add(&refused_buffered, (size_t)n);
		r->held += (size_t)n;
		return 0;
	}
	/* Only the HTTP thread reserves; the check and the add agree. */
	if (n > max_buffered - atomic_load(&buffered))
		return -1;
	if (r->iplen > 0) {
		e = ip_find(r->ip, r->iplen, 0);
		if (n > max_ip_buffered - (e != NULL ? e->held : 0) ||
		    (e == NULL && (e = ip_find(r->ip, r->iplen, 1)) == NULL))
			return -1;
		e->held += n;
	}
	atomic_fetch_add(&buffered, (size_t)n);
	r->held += (size_t)n;
	return 0;
}

static void
body_free(struct req *r)
{
	struct ipheld *e;

	free(r->body);
	r->body = NULL;
	if (r->head_refused)
		atomic_fetch_sub(&refused_buffered, r->held);
	else {
		atomic_fetch_sub(&buffered, r->held);
		if (r->held > 0 && r->iplen > 0 &&
		    (e = ip_find(r->ip, r->iplen, 0)) != NULL) {
			e->held -= e->held < r->held ? e->held : r->held;
			if (e->held == 0)
				ip_drop(e);
		}
	}
	r->held = 0;
}

/* Queue the answer and free what the request no longer needs. */
static enum MHD_Result
answer(struct MHD_Connection *conn, struct req *r, unsigned code,
    struct MHD_Response *resp)
{
	if (r != NULL) {
		r->state = RS_ANSWERED;
		body_free(r);
		free(r->line);
		r->line = NULL;
	}
	count_answer(r, code);
	return MHD_queue_response(
	    conn, code, resp != NULL ? resp : response_for(code));
}

static void
metrics_update(void *arg)
{
	size_t i;

	for (i = 0; i <= NBUCKETS; i++) {
		mlat_count[i] = atomic_load(&m_lat[i]);
		mplat_count[i] = atomic_load(&m_plat[i]);
	}
	mlat.sum = (double)atomic_load(&m_lat_us) / 1e6;
	mplat.sum = (double)atomic_load(&m_plat_us) / 1e6;
	m_nats_up = nq != NULL && natsq_connected(nq);
	m_fsync_s = (double)atomic_load(&m_fsync_us) / 1e6;
	m_inflight = (double)atomic_load(&inflight);
	m_backlog = atomic_load(&backlog);
	m_buffered = atomic_load(&buffered);
	m_stalled = atomic_load(&stdout_stalled);
	m_spool_failing = atomic_load(&spool_failing);
}

static void
setup_metrics(void)
{
	static const struct metrics_def defs[] = {
		{ "closehook_receive_received_bytes_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_bytes,
		    "Request body bytes received.", NULL, NULL },
		{ "closehook_receive_captures_written_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_captures,
		    "Captures made durable and acknowledged.", NULL, NULL },
		{ "closehook_receive_capture_bytes_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_capbytes,
		    "Bytes of capture lines written.", NULL, NULL },
	};
	static const struct metrics_def defs2[] = {
		{ "closehook_receive_rejects_unkept_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_rejects_unkept,
		    "Refused requests not written to --rejects (a body "
		    "over 256 KiB or chunked, 4 MiB of them being read, or "
		    "the file at 1 GiB).",
		    NULL, NULL },
		{ "closehook_receive_header_timeouts_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_hdr_timeouts,
		    "Connections closed because a request line and headers "
		    "took longer than --header-timeout.",
		    NULL, NULL },
		{ "closehook_receive_inflight_requests", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_inflight,
		    "Requests being received or committed.", NULL, NULL },
		{ "closehook_receive_backlog_bytes", METRICS_GAUGE,
		    METRICS_SIZE, &m_backlog,
		    "Capture bytes not yet written to the spool or stdout.",
		    NULL, NULL },
		{ "closehook_receive_buffered_bytes", METRICS_GAUGE,
		    METRICS_SIZE, &m_buffered,
		    "Request body bytes held in memory (at most "
		    "--max-buffered).",
		    NULL, NULL },
		{ "closehook_receive_stdout_stalled", METRICS_GAUGE,
		    METRICS_INT, &m_stalled,
		    "1 while stdout does not drain (new requests get 503).",
		    NULL, NULL },
		{ "closehook_receive_spool_failing", METRICS_GAUGE, METRICS_INT,
		    &m_spool_failing,
		    "1 while the spool cannot be written or synced (requests "
		    "get 503).",
		    NULL, NULL },
		{ "closehook_receive_request_duration_seconds",
		    METRICS_HISTOGRAM, METRICS_HIST, &mlat,
		    "From the request's headers to its answer.", NULL, NULL },
	};
	/* The spool's own: a file's group commits, or a stream's publishes. */
	static const struct metrics_def file_defs[] = {
		{ "closehook_receive_fsync_batches_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_batches,
		    "Spool writes, each ended by one fdatasync (group commit).",
		    NULL, NULL },
		{ "closehook_receive_fsync_seconds_total", METRICS_COUNTER,
		    METRICS_DOUBLE, &m_fsync_s, "Time spent in fdatasync.",
		    NULL, NULL },
	};
	static const struct metrics_def nats_defs[] = {
		{ "closehook_receive_nats_connected", METRICS_GAUGE,
		    METRICS_INT, &m_nats_up,
		    "1 while a server of the stream's cluster is connected.",
		    NULL, NULL },
		{ "closehook_receive_publish_failures_total", METRICS_COUNTER,
		    METRICS_ATOMIC_ULONG, &m_pubfail,
		    "Captures the stream did not acknowledge (answered 503).",
		    NULL, NULL },
		{ "closehook_receive_publish_duration_seconds",
		    METRICS_HISTOGRAM, METRICS_HIST, &mplat,
		    "From a capture's publish to the stream's acknowledgement "
		    "(a quorum stored it).",
		    NULL, NULL },
	};
	struct metrics_def req = { "closehook_receive_requests_total",
		METRICS_COUNTER, METRICS_ATOMIC_ULONG, NULL,
		"HTTP requests answered, by status code.", "code", NULL };
	struct metrics_def rej = { "closehook_receive_rejects_total",
		METRICS_COUNTER, METRICS_ATOMIC_ULONG, NULL,
		"Requests refused at the door, by reason.", "reason", NULL };
	size_t i;
	int k;

	/* No file: the registry only renders the answers to /metrics. */
	metrics_init(&met, NULL);
	for (i = 0; i < NCODES; i++) {
		snprintf(code_text[i], sizeof(code_text[i]), "%u", codes[i]);
		req.p = &m_req[i];
		req.value = code_text[i];
		metrics_add(&met, &req, 1);
	}
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	for (k = 0; k < CLOSESIG_COUNT; k++) {
		if (k == CLOSESIG_MALFORMED || k == CLOSESIG_TOO_LONG)
			continue;
		rej.p = &m_rejects[k];
		rej.value = closesig_reason_name(k);
		metrics_add(&met, &rej, 1);
	}
	metrics_add(&met, defs2, sizeof(defs2) / sizeof(defs2[0]));
	if (nats_spec != NULL)
		metrics_add(
		    &met, nats_defs, sizeof(nats_defs) / sizeof(nats_defs[0]));
	else
		metrics_add(
		    &met, file_defs, sizeof(file_defs) / sizeof(file_defs[0]));
	metrics_add_start_time(&met, "closehook_receive_start_time_seconds");
	metrics_on_update(&met, metrics_update, NULL);
}

static enum MHD_Result
serve_metrics(struct MHD_Connection *conn, struct req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;
	char *buf = NULL;
	size_t cap = 0, n;

	if (metrics_render(&met, &buf, &cap, &n) != 0) {
		free(buf);
		return answer(conn, r, 500, NULL);
	}
	resp = MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(buf);
		return answer(conn, r, 500, NULL);
	}
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
	rc = answer(conn, r, 200, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Headers of one request, repeated names joined with ", " (RFC 9110). */
struct hdrs {
	struct capture_hdr h[HDR_MAX];
	size_t joff[HDR_MAX]; /* offset in join, or -1 */
	size_t n;
	char *join; /* storage of joined values */
	size_t joinn, joincap;
};

static enum MHD_Result
hdr_each(void *cls, enum MHD_ValueKind kind, const char *key, size_t keyn,
    const char *val, size_t valn)
{
	struct hdrs *hs = cls;
	struct capture_hdr *h;
	size_t i, need;
	char *nb;

	if (val == NULL)
		val = "", valn = 0;
	for (i = 0; i < hs->n; i++)
		if (hs->h[i].namen == keyn &&
		    strncasecmp(hs->h[i].name, key, keyn) == 0)
			break;
	if (i == hs->n) {
		if (hs->n == HDR_MAX)
			return MHD_YES;
		hs->joff[hs->n] = (size_t)-1;
		h = &hs->h[hs->n++];
		h->name = key;
		h->namen = keyn;
		h->val = val;
		h->valn = valn;
		return MHD_YES;
	}
	/* Join into storage; earlier joins may move, so keep offsets. */
	h = &hs->h[i];
	need = hs->joinn + h->valn + 2 + valn;
	if (need > hs->joincap) {
		size_t cap = need * 2 + 256, k;

		if ((nb = realloc(hs->join, cap)) == NULL)
			return MHD_YES;
		hs->join = nb;
		hs->joincap = cap;
		for (k = 0; k < hs->n; k++)
			if (hs->joff[k] != (size_t)-1)
				hs->h[k].val = nb + hs->joff[k];
	}
	nb = hs->join + hs->joinn;
	memmove(nb, h->val, h->valn);
	memcpy(nb + h->valn, ", ", 2);
	memcpy(nb + h->valn + 2, val, valn);
	h->val = nb;
	h->valn += 2 + valn;
	hs->joff[i] = hs->joinn;
	hs->joinn = need;
	return MHD_YES;
}

static const struct capture_hdr *
hdr_get(const struct hdrs *hs, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < hs->n; i++)
		if (hs->h[i].namen == n &&
		    strncasecmp(hs->h[i].name, name, n) == 0)
			return &hs->h[i];
	return NULL;
}

/*
 * A refused request not kept: said once a minute at most (a flood of them
 * is what the limits are for), counted always.
 */
static void
keep_skipped(const char *why)
{
	static uint64_t last;
	uint64_t now = cli_mono_ns();

	atomic_fetch_add(&m_rejects_unkept, 1);
	if (quiet || (last != 0 && now - last < 60000000000ull))
		return;
	last = now;
	cli_warnx("%s: a rejected request is not kept: %s", rej_path, why);
}

/*
 * Append a 401 request to --rejects (only the HTTP thread calls
 * this); reopened after SIGHUP.  The 401 stands whether or not the line is
 * kept.  It is written whole or not at all (see out.h), without a sync: a
 * sync here would stall every connection, and Close sends again anyway.
 */
static void
keep_reject(const char *reason, const char *line, size_t n)
{
	char head[96];
	int gen = atomic_load(&rej_reopen), hn;
	struct stat st;

	if (rej_path == NULL)
		return;
	if (!rej_open || gen != rej_gen) {
		struct out o;

		if (out_append_open(&o, rej_path, 0600) != 0) {
			cli_warn("%s", rej_path);
			return;
		}
		if (rej_open)
			out_close(&rej_out);
		rej_out = o;
		rej_open = 1;
		rej_gen = gen;
	}
	/* Bounded: refused requests come from anyone (a file moved away
	 * is a new one at the next commit). */
	if (fstat(rej_out.fd, &st) == 0 && st.st_size >= KEEP_FILE_MAX) {
		keep_skipped("the file has reached 1 GiB (move it away)");
		return;
	}
	hn = snprintf(
	    head, sizeof(head), "{\"reason\":\"%s\",\"capture\":", reason);
	out_write(&rej_out, head, (size_t)hn);
	out_write(&rej_out, line, n - 1); /* without its newline */
	out_write(&rej_out, "}\n", 2);
	if (out_commit(&rej_out, 0) != 0) {
		cli_warnx("%s: %s; a rejected request is not kept", rej_path,
		    strerror(rej_out.err));
		/* The error is sticky: open the file afresh next time. */
		out_close(&rej_out);
		rej_open = 0;
	}
}

/* The client's address as text into addr (empty when not known). */
static void
client_addr(struct MHD_Connection *conn, char addr[NETADDR_STRLEN])
{
	const struct sockaddr *sa = client_sockaddr(conn);

	addr[0] = '\0';
	if (sa != NULL)
		netaddr_format(sa, 0, addr);
}

/* A request refused for its signature: counted, and said unless -q. */
static void
refused(struct MHD_Connection *conn, enum closesig_reason why)
{
	char addr[NETADDR_STRLEN];

	atomic_fetch_add(&m_rejects[why], 1);
	if (quiet)
		return;
	client_addr(conn, addr);
	cli_warnx("%s: rejected: %s", addr, closesig_reason_name(why));
}

/* The body is complete: capture, verify, queue and suspend. */
static enum MHD_Result
finish_body(struct MHD_Connection *conn, struct req *r, const char *url,
    const char *method)
{
	static struct hdrs hs;
	const struct capture_hdr *ts, *sig;
	struct capture_meta m;
	struct isotime it;
	char when[64], frac[24], addr[NETADDR_STRLEN];
	enum closesig_reason why = CLOSESIG_OK;
	size_t bound;

	hs.n = 0;
	hs.joinn = 0;
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, hdr_each, &hs);
	snprintf(frac, sizeof(frac), "%06ld", (r->rt.tv_nsec / 1000) % 1000000);
	it.sec = r->rt.tv_sec;
	it.nsec = r->rt.tv_nsec;
	it.frac = frac;
	it.fracn = 6;
	when[isotime_format_utc(&it, when)] = '\0';
	client_addr(conn, addr);
	m.received_at = when;
	m.remote_addr = addr[0] != '\0' ? addr : NULL;
	m.method = method;
	/* The target as sent: the query too, nothing decoded. */
	m.path = r->target;
	m.pathn = r->targetn;
	if (r->body == NULL && (r->body = malloc(1)) == NULL)
		return answer(conn, r, 500, NULL);

	/*
	 * The signature first: a request that is refused is made into a
	 * capture line (up to six times its body, escaped) only when it is
	 * kept, and only when it is small.
	 */
	if (have_keys) {
		sig = hdr_get(&hs, "close-sig-hash");
		ts = hdr_get(&hs, "close-sig-timestamp");
		if (r->head_refused)
			why = r->head_why;
		else if (sig == NULL)
			why = CLOSESIG_MISSING_SIG;
		else if (ts == NULL)
			why = CLOSESIG_MISSING_TS;
		else if (closesig_for_key(why = key_check(r, ts, sig)) &&
		    keys_reload_changed())
			why = key_check(r, ts, sig);
		if (why != CLOSESIG_OK) {
			if (!r->head_refused) /* counted at its headers */
				refused(conn, why);
			if (rej_path != NULL && r->n <= KEEP_BODY_MAX) {
				bound = capture_write_bound(
				    &m, hs.h, hs.n, r->body, r->n);
				if ((r->line = malloc(bound)) != NULL) {
					r->linen = capture_write(r->line, &m,
					    hs.h, hs.n, r->body, r->n);
					keep_reject(closesig_reason_name(why),
					    r->line, r->linen);
				}
			} else if (rej_path != NULL)
				keep_skipped("its body is over 256 KiB");
			return answer(conn, r, 401, NULL);
		}
	}
	bound = capture_write_bound(&m, hs.h, hs.n, r->body, r->n);
	if ((r->line = malloc(bound)) == NULL)
		return answer(conn, r, 500, NULL);
	r->linen = capture_write(r->line, &m, hs.h, hs.n, r->body, r->n);
	if (nq != NULL) {
		/* No server to publish to: 503 now, not after the wait. */
		if (!natsq_connected(nq)) {
			nats_failed("no server reachable");
			return answer(conn, r, 503, r_nats_down);
		}
		/* Close's repeat of this delivery gets the same id. */
		ts = hdr_get(&hs, "close-sig-timestamp");
		natsq_msgid(r->body, r->n, ts != NULL ? ts->val : "",
		    ts != NULL ? ts->valn : 0, r->msgid);
	}
	body_free(r);

	/* Back-pressure: refuse rather than grow without bound. */
	if (atomic_load(&stdout_stalled) || atomic_load(&fatal) ||
	    atomic_load(&backlog) + r->linen > BACKLOG_MAX)
		return answer(conn, r, 503, NULL);
	atomic_fetch_add(&backlog, r->linen);
	r->state = RS_QUEUED;
	r->conn = conn;
	MHD_suspend_connection(conn);
	pthread_mutex_lock(&lock);
	r->next = NULL;
	*qtail = r;
	qtail = &r->next;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	return MHD_YES;
}

static int
is_method(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

/* Wake the door thread (the pipe is non-blocking: a full one wakes it). */
static void
door_poke(void)
{
	ssize_t w = write(door_wake[1], "", 1);

	(void)w;
}

/* The next request line and headers on c are due --header-timeout from now. */
static void
due_add(struct conn *c)
{
	int was_empty;

	pthread_mutex_lock(&door_lock);
	if (c->listed) {
		/* Move to the tail: the deadline starts again. */
		if (c->prev != NULL)
			c->prev->next = c->next;
		else
			due_head = c->next;
		if (c->next != NULL)
			c->next->prev = c->prev;
		else
			due_tail = c->prev;
	}
	was_empty = due_head == NULL;
	c->due = cli_mono_ns() + (uint64_t)hdr_timeout_ms * 1000000u;
	c->next = NULL;
	c->prev = due_tail;
	if (due_tail != NULL)
		due_tail->next = c;
	else
		due_head = c;
	due_tail = c;
	c->listed = 1;
	pthread_mutex_unlock(&door_lock);
	/* A later deadline than the head's needs no wake-up. */
	if (was_empty)
		door_poke();
}

/* door_lock held. */
static void
due_unlink(struct conn *c)
{
	if (!c->listed)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		due_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		due_tail = c->prev;
	c->prev = c->next = NULL;
	c->listed = 0;
}

static void
due_del(struct conn *c)
{
	pthread_mutex_lock(&door_lock);
	due_unlink(c);
	pthread_mutex_unlock(&door_lock);
}

static struct conn *
conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

/*
 * libmicrohttpd closes a connection once an early answer is sent, with the
 * request body still coming: the kernel then resets the connection, and a
 * client that sends its whole body before it reads (most do) gets a reset
 * instead of the answer.  Called before libmicrohttpd closes fd, this keeps
 * the socket open through a duplicate for the door thread to drain.
 */
static void
linger_add(int fd)
{
	uint64_t now = cli_mono_ns();
	int dfd;

	pthread_mutex_lock(&door_lock);
	if (nlinger < LINGER_MAX &&
	    (dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		/* The file description is libmicrohttpd's: non-blocking. */
		lingering[nlinger].fd = dfd;
		lingering[nlinger].idle_until = now + LINGER_IDLE_NS;
		lingering[nlinger].until =
		    now + (uint64_t)timeout_s * 4000000000u;
		nlinger++;
	}
	pthread_mutex_unlock(&door_lock);
	door_poke();
}

/*
 * A connection opens or closes.  Its descriptor is closed only after this
 * returns from MHD_CONNECTION_NOTIFY_CLOSED, and that takes door_lock, so
 * the door thread never shuts down a descriptor that was closed and
 * reused for another file.
 */
static void
on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if ((c = *socket_context) != NULL) {
			due_del(c);
			if (c->linger)
				linger_add(c->fd);
			free(c);
			*socket_context = NULL;
		}
		return;
	}
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return;
	/* A connection nobody would police is not served at all. */
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		shutdown(ci->connect_fd, SHUT_RDWR);
		return;
	}
	c->fd = ci->connect_fd;
	*socket_context = c;
	due_add(c);
}

/*
 * The door thread closes every connection whose request line and headers
 * are not complete by their deadline.  libmicrohttpd's idle timeout cannot:
 * each header line dribbled in resets it, so slow clients could hold every
 * slot for as long as they kept talking.  shutdown() makes the next read
 * see the end of the stream, and libmicrohttpd closes the connection
 * itself, without an answer (as nginx does at its client_header_timeout).
 */
static void *
door_keeper(void *arg)
{
	struct pollfd pfd[1 + LINGER_MAX];
	static char drop[64 * 1024];
	int i, n, k;

	for (;;) {
		uint64_t now = cli_mono_ns(), next = 0;
		int ms = -1;

		pthread_mutex_lock(&door_lock);
		while (due_head != NULL && due_head->due <= now) {
			struct conn *c = due_head;

			due_unlink(c);
			shutdown(c->fd, SHUT_RDWR);
			atomic_fetch_add(&m_hdr_timeouts, 1);
		}
		if (due_head != NULL)
			next = due_head->due;
		/* Lingering sockets past their time are closed. */
		for (i = 0; i < nlinger;) {
			struct lingering *l = &lingering[i];

			if (now >= l->idle_until || now >= l->until) {
				close(l->fd);
				*l = lingering[--nlinger];
				continue;
			}
			if (next == 0 || l->idle_until < next)
				next = l->idle_until;
			if (l->until < next)
				next = l->until;
			pfd[1 + i].fd = l->fd;
			pfd[1 + i].events = POLLIN;
			pfd[1 + i].revents = 0;
			i++;
		}
		n = nlinger;
		pthread_mutex_unlock(&door_lock);
		if (atomic_load(&door_stop))
			break;
		if (next != 0)
			ms = (int)((next - now) / 1000000) + 1;
		pfd[0].fd = door_wake[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		if (poll(pfd, (nfds_t)(1 + n), ms) <= 0)
			continue;
		if (pfd[0].revents != 0)
			while (read(door_wake[0], drop, sizeof(drop)) > 0)
				;
		/*
		 * Drain what the lingering clients sent.  Only this thread
		 * removes entries, and new ones are appended, so index i
		 * still names the descriptor polled.
		 */
		for (i = 0; i < n; i++) {
			ssize_t got = 0;
			int more = 0, done = 0;

			if (pfd[1 + i].revents == 0)
				continue;
			for (k = 0; k < 16; k++) {
				got = read(pfd[1 + i].fd, drop, sizeof(drop));
				if (got > 0) {
					more = 1;
					continue;
				}
				done = got == 0 || errno != EAGAIN;
				break;
			}
			pthread_mutex_lock(&door_lock);
			if (done)
				/* Past the end: closed at the next turn. */
				lingering[i].idle_until = 0;
			else if (more)
				lingering[i].idle_until =
				    cli_mono_ns() + LINGER_IDLE_NS;
			pthread_mutex_unlock(&door_lock);
		}
	}
	pthread_mutex_lock(&door_lock);
	while (nlinger > 0)
		close(lingering[--nlinger].fd);
	pthread_mutex_unlock(&door_lock);
	return NULL;
}

/* Feed each header line to the framing check. */
static enum MHD_Result
frame_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t keyn,
    const char *val, size_t valn)
{
	if (val == NULL)
		val = "", valn = 0;
	httpframe_field(cls, key, keyn, val, valn);
	return MHD_YES;
}

/*
 * The request line has arrived: the request's state begins here, so that
 * its target is kept as sent (libmicrohttpd decodes the path and splits
 * the query off before the handler sees it) and so that on_completed
 * sees the requests libmicrohttpd answers itself.
 */
static void *
on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
	size_t n = uri != NULL ? strlen(uri) : 0;
	const struct sockaddr *sa = client_sockaddr(conn);
	struct req *r;

	if ((r = calloc(1, sizeof(*r) + n + 1)) == NULL)
		return NULL;
	memcpy(r->target, uri != NULL ? uri : "", n);
	r->targetn = n;
	if (sa != NULL) {
		if (sa->sa_family == AF_INET) {
			memcpy(r->ip,
			    &((const struct sockaddr_in *)(const void *)sa)
				 ->sin_addr,
			    4);
			r->iplen = 4;
		} else if (sa->sa_family == AF_INET6) {
			memcpy(r->ip,
			    &((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_addr,
			    16);
			r->iplen = 16;
		}
	}
	atomic_fetch_add(&inflight, 1);
	return r;
}

/*
 * An answer decided at the headers.  libmicrohttpd closes a connection
 * answered before its request was read whole, so for a request without a
 * body the answer waits for the request's end, the next call, and the
 * connection stays open for the next request.  With a body unread, it is
 * sent at once (reading a body only to refuse it would cost the time and
 * bandwidth the answer saves), and the connection lingers on its close.
 */
static enum MHD_Result
early(struct MHD_Connection *conn, struct req *r, unsigned code,
    struct MHD_Response *resp)
{
	struct conn *c;

	if (r->nobody) {
		r->state = RS_DEFER;
		r->dcode = code;
		r->dresp = resp;
		return MHD_YES;
	}
	if ((c = conn_of(conn)) != NULL)
		c->linger = 1;
	if (r->dmetrics)
		return serve_metrics(conn, r);
	return answer(conn, r, code, resp);
}

/* The signature headers of a request, before its body. */
static enum closesig_reason
head_check(struct MHD_Connection *conn, const struct req *r)
{
	const char *sig, *ts;

	sig = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, "close-sig-hash");
	ts = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, "close-sig-timestamp");
	if (sig == NULL)
		return CLOSESIG_MISSING_SIG;
	if (ts == NULL)
		return CLOSESIG_MISSING_TS;
	return closesig_check_headers(
	    max_age, r->rt.tv_sec, ts, strlen(ts), sig, strlen(sig));
}

/*
 * The headers are complete: check the framing, route, and decide what
 * can be decided before the body.
 */
static enum MHD_Result
on_headers(struct MHD_Connection *conn, struct req *r, const char *url,
    const char *method, const char *version)
{
	struct httpframe f;
	struct conn *c;

	r->t0 = cli_mono_ns();
	clock_gettime(CLOCK_REALTIME, &r->rt);
	r->state = RS_BODY;
	if ((c = conn_of(conn)) != NULL)
		due_del(c);
	/*
	 * Framing two readers could disagree on is refused before any body
	 * byte is read (RFC 9112 sections 3.2, 6.1 and 6.3): two
	 * Content-Lengths or Hosts, Transfer-Encoding other than chunked
	 * alone (libmicrohttpd would read such a body until the connection
	 * closes) or beside Content-Length.
	 */
	httpframe_start(&f, method, strlen(method), r->target, r->targetn,
	    version, strlen(version));
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, frame_field, &f);
	if (httpframe_end(&f) != 0)
		return early(conn, r, (unsigned)f.status, NULL);
	r->nobody = f.body == HTTPFRAME_NONE ||
	    (f.body == HTTPFRAME_LENGTH && f.length == 0);
	if (atomic_load(&stopping))
		return early(conn, r, 503, NULL);
	if (strcmp(url, path) == 0) {
		if (!is_method(method, MHD_HTTP_METHOD_POST))
			return early(conn, r, 405, r_405);
		r->clen = UINT64_MAX;
		/*
		 * What the signature headers alone refuse is refused before
		 * the body is read or memory reserved for it: a client
		 * without them cannot hold --max-buffered with the bodies it
		 * announces.
		 */
		if (have_keys) {
			enum closesig_reason why = head_check(conn, r);

			/* Counted now: the body may never come. */
			if (why != CLOSESIG_OK)
				refused(conn, why);
			/* Read only to be kept, and only when small. */
			if (why != CLOSESIG_OK && rej_path != NULL &&
			    f.body == HTTPFRAME_LENGTH &&
			    f.length <= KEEP_BODY_MAX) {
				r->head_refused = 1;
				r->head_why = why;
			} else if (why != CLOSESIG_OK) {
				if (rej_path != NULL)
					keep_skipped("refused by its headers, "
						     "its body (over 256 KiB "
						     "or chunked) is not read");
				return early(conn, r, 401, NULL);
			}
		}
		if (f.body == HTTPFRAME_LENGTH) {
			if (f.length > max_body)
				return early(conn, r, 413, NULL);
			/*
			 * The whole announced body is reserved before any of
			 * it is read: past --max-buffered, 503 and Retry-After
			 * rather than memory.
			 */
			if (body_reserve(r, f.length) != 0) {
				if (!r->head_refused)
					return early(conn, r, 503, NULL);
				keep_skipped("refused by its headers while "
					     "4 MiB of such bodies are read");
				r->head_refused = 0; /* nothing held */
				return early(conn, r, 401, NULL);
			}
			r->clen = f.length;
			/*
			 * Trust the announced length only so far: memory
			 * grows with bytes that arrive.
			 */
			r->cap = f.length < BODY_PREALLOC ? (size_t)f.length
							  : BODY_PREALLOC;
			if (f.length > 0 && (r->body = malloc(r->cap)) == NULL)
				return early(conn, r, 500, NULL);
		}
		return MHD_YES;
	}
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
		if (!is_method(method, MHD_HTTP_METHOD_GET) &&
		    !is_method(method, MHD_HTTP_METHOD_HEAD))
			return early(conn, r, 405, r_405get);
		r->internal = 1;
		if (url[1] == 'h')
			return nq != NULL && !natsq_connected(nq)
			    ? early(conn, r, 503, r_nats_down)
			    : atomic_load(&spool_failing) &&
				cli_mono_ns() - atomic_load(&spool_fail_ns) <
				    SPOOL_HEALTH_NS
			    ? early(conn, r, 503, r_spool_down)
			    : early(conn, r, 200, r_health);
		r->dmetrics = 1;
		return early(conn, r, 200, NULL);
	}
	return early(conn, r, 404, NULL);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data, size_t *datan,
    void **con_cls)
{
	struct req *r = *con_cls;

	/* on_request_line could not allocate the request's state. */
	if (r == NULL)
		return MHD_NO;
	switch (r->state) {
	case RS_NEW:
		return on_headers(conn, r, url, method, version);
	case RS_DEFER:
		/* A request without a body: its end. */
		if (*datan != 0) {
			*datan = 0;
			return MHD_YES;
		}
		if (r->dmetrics)
			return serve_metrics(conn, r);
		return answer(conn, r, r->dcode, r->dresp);
	case RS_BODY:
		if (*datan == 0 && r->too_big)
			return answer(conn, r, 413, NULL);
		if (*datan == 0 && r->over)
			return answer(conn, r, 503, NULL);
		if (*datan == 0)
			return finish_body(conn, r, url, method);
		atomic_fetch_add_explicit(
		    &m_bytes, *datan, memory_order_relaxed);
		/*
		 * Slow senders get the whole request bounded, not only each
		 * idle gap.  MHD cannot answer in the middle of a body, so
		 * the connection is closed.
		 */
		if (cli_mono_ns() - r->t0 > (uint64_t)timeout_s * 4000000000u) {
			count_answer(r, 408);
			r->state = RS_ANSWERED;
			return MHD_NO;
		}
		if (r->over) {
			*datan = 0;
			return MHD_YES;
		}
		/* Past --max-body: drop the rest, answer 413 at its end. */
		if (r->too_big || *datan > max_body - r->n) {
			body_free(r);
			r->too_big = 1;
			*datan = 0;
			return MHD_YES;
		}
		if (r->n + *datan > r->cap) {
			size_t need = r->n + *datan;
			size_t cap =
			    r->cap * 2 > need ? r->cap * 2 : need + 4096;
			char *nb;

			if (cap > max_body)
				cap = max_body;
			if (cap > r->clen)
				cap = (size_t)r->clen;
			/*
			 * A chunked body reserves as it grows (a length
			 * reserved it all); past --max-buffered the rest is
			 * dropped and the answer is 503 at its end.
			 */
			if (cap > r->held &&
			    body_reserve(r, cap - r->held) != 0) {
				cap = need;
				if (body_reserve(r, cap - r->held) != 0) {
					body_free(r);
					r->over = 1;
					*datan = 0;
					return MHD_YES;
				}
			}
			if ((nb = realloc(r->body, cap)) == NULL) {
				*datan = 0;
				return answer(conn, r, 500, NULL);
			}
			r->body = nb;
			r->cap = cap;
		}
		memcpy(r->body + r->n, data, *datan);
		r->n += *datan;
		*datan = 0;
		return MHD_YES;
	case RS_QUEUED:
		/* Resumed by the committer: the answer is decided. */
		if (r->status == 200) {
			atomic_fetch_add(&m_captures, 1);
			atomic_fetch_add(&m_capbytes, r->linen);
		}
		return answer(conn, r, r->status, NULL);
	case RS_ANSWERED:
	default:
		*datan = 0;
		return MHD_YES;
	}
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct req *r = *con_cls;
	struct conn *c;

	/* On a kept-alive connection, the next request is due in time too. */
	if ((c = conn_of(conn)) != NULL)
		due_add(c);
	if (r == NULL)
		return;
	/*
	 * An answer libmicrohttpd queued itself (a malformed header line,
	 * headers too large, an unreadable Content-Length) is counted too.
	 */
	if (r->state != RS_ANSWERED &&
	    (ci = MHD_get_connection_info(
		 conn, MHD_CONNECTION_INFO_HTTP_STATUS)) != NULL) {
		count_answer(NULL, ci->http_status);
		/* It closes the connection, maybe with a body unread. */
		if (c != NULL)
			c->linger = 1;
	}
	body_free(r);
	free(r->line);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&inflight, 1);
}

/*
 * (Re)open the spool: a descriptor for each committer.  out_append_fd()
 * cuts off a torn last line (a batch cut short by a crash; it was never
 * acknowledged, so Close sends it again) and syncs the directory of a new
 * file.  Runs at start, and later with spool_rw held for writing.  Returns
 * 0, or -1 with the old descriptors kept and the reason in spool_why.
 */
static int
spool_open(void)
{
	struct stat st, st2;
	int fds[NCOMMITTERS], i, k;

	if ((fds[0] = out_append_fd(spool_path, 0640, &st)) < 0) {
		snprintf(spool_why, sizeof(spool_why), "%s: %s", spool_path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(spool_why, sizeof(spool_why), "%s: not a regular file",
		    spool_path);
		close(fds[0]);
		return -1;
	}
	for (i = 1; i < NCOMMITTERS; i++) {
		fds[i] = open(spool_path, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fds[i] >= 0 && fstat(fds[i], &st2) == 0 &&
		    st2.st_dev == st.st_dev && st2.st_ino == st.st_ino)
			continue;
		snprintf(spool_why, sizeof(spool_why), "%s: %s", spool_path,
		    fds[i] < 0 ? strerror(errno)
			       : "replaced while being opened");
		if (fds[i] >= 0)
			close(fds[i]);
		for (k = 0; k < i; k++)
			close(fds[k]);
		return -1;
	}
	for (i = 0; i < NCOMMITTERS; i++) {
		if (spool_fd[i] >= 0)
			close(spool_fd[i]);
		spool_fd[i] = fds[i];
	}
	spool_end = spool_good = st.st_size;
	spool_failed = 0;
	return 0;
}

/*
 * A failure: may it be reported now, the first of an outage and at most
 * one outage a SPOOL_WARN_NS?
 */
static int
outage_may_warn(struct outage *o)
{
	uint64_t now = cli_mono_ns();

	if (!o->down) {
		o->down = 1;
		o->said = 0;
	}
	if (o->said || (o->said_ns != 0 && now - o->said_ns < SPOOL_WARN_NS))
		return 0;
	o->said = 1;
	o->said_ns = now;
	return 1;
}

/* A success: is it the end of an outage that was reported? */
static int
outage_over(struct outage *o)
{
	int said = o->down && o->said;

	o->down = 0;
	return said;
}

/* A spool failure: may it be reported now?  wlock or spool_rw held. */
static int
spool_may_warn(void)
{
	return outage_may_warn(&spool_outage);
}

/*
 * Cut the spool back to spool_end, the end of its last whole line, through
 * fd, never extending it (a file truncated by someone else is shorter).
 * Whole lines stay, even those answered 503: a follower may have read and
 * delivered them already, and its committed offset would then point into
 * whatever was written in their place.  Returns 0 or -1.
 */
static int
spool_cut(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	return st.st_size > spool_end ? ftruncate(fd, spool_end) : 0;
}

/*
 * A write or sync of committer c failed, or its file was deleted (e is
 * ENOENT); wlock is held.  Nothing more is acknowledged on these
 * descriptors: what lies past spool_good gets 503, a partial line is cut
 * off (the whole lines stay, spool_cut), and the next batch reopens the
 * spool first.
 */
static void
spool_fail(int c, int e)
{
	atomic_store(&spool_failing, 1);
	atomic_store(&spool_fail_ns, cli_mono_ns());
	if (spool_may_warn())
		cli_warnx("%s: %s; answering 503 until it works again",
		    spool_path,
		    e == ENOENT ? "deleted while being written" : strerror(e));
	if (spool_failed)
		return;
	spool_failed = 1;
	if (spool_cut(spool_fd[c]) != 0)
		cli_warn(
		    "%s: cannot truncate after a failed write", spool_path);
}

/*
 * Must the spool be reopened before committer c writes: after a failure,
 * or because its path now names another file or nothing?  spool_rw is
 * held.
 */
enum {
	SPOOL_OK,
	SPOOL_FAILED,
	SPOOL_GONE
};

static int
spool_stale(int c)
{
	struct stat st, pst;
	int failed;

	pthread_mutex_lock(&wlock);
	failed = spool_failed;
	pthread_mutex_unlock(&wlock);
	if (failed)
		return SPOOL_FAILED;
	if (fstat(spool_fd[c], &st) != 0 || st.st_nlink == 0 ||
	    stat(spool_path, &pst) != 0 || pst.st_dev != st.st_dev ||
	    pst.st_ino != st.st_ino)
		return SPOOL_GONE;
	return SPOOL_OK;
}

/* Reopen a stale spool, or after SIGHUP (hup); spool_rw held for writing. */
static void
spool_reopen(int hup)
{
	switch (spool_stale(0)) {
	case SPOOL_FAILED:
		/* Cut again what was not acknowledged, in case that failed. */
		(void)spool_cut(spool_fd[0]);
		if (spool_open() != 0 && spool_may_warn())
			cli_warnx("%s; answering 503 until it works again",
			    spool_why);
		break;
	case SPOOL_GONE:
		cli_warnx("%s: deleted or replaced while open; writing to a "
			  "new file there",
		    spool_path);
		if (spool_open() != 0) {
			spool_failed = 1;
			if (spool_may_warn())
				cli_warnx("%s; answering 503 until it works "
					  "again",
				    spool_why);
		}
		break;
	default:
		if (hup && spool_open() != 0)
			cli_warnx("%s; keeping the old spool open", spool_why);
	}
}

/*
 * Write a batch to the spool through committer c's descriptor and sync it.
 * Both committers run this at once: writes are serialised (whole lines,
 * in order) and each fdatasync covers every write before it, so
 * concurrent syncs share the disk's flushes.  A batch is acknowledged
 * when a sync that succeeded on the linked file covered it (spool_good);
 * after any failure no sync counts until the spool was reopened.  The
 * read lock keeps the descriptors alive against a reopen.  Returns 0
 * (acknowledge) or -1 (503).
 */
static int
spool_commit(struct req *batch, int c)
{
	struct iovec iov[64];
	struct req *r = batch;
	struct stat st;
	uint64_t t0, dt;
	off_t upto;
	ssize_t w;
	int n, rc, e, good;

	pthread_rwlock_rdlock(&spool_rw);
	pthread_mutex_lock(&wlock);
	if (spool_failed) {
		pthread_mutex_unlock(&wlock);
		pthread_rwlock_unlock(&spool_rw);
		return -1;
	}
	while (r != NULL) {
		size_t want = 0, done;

		for (n = 0; n < 64 && r != NULL; r = r->next, n++) {
			iov[n].iov_base = r->line;
			iov[n].iov_len = r->linen;
			want += r->linen;
		}
		for (done = 0; done < want;) {
			int i = 0;
			size_t skip = done;

			/* Resume a short write where it stopped. */
			while (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				i++;
			}
			iov[i].iov_base = (char *)iov[i].iov_base + skip;
			iov[i].iov_len -= skip;
			w = writev(spool_fd[c], iov + i, n - i);
			iov[i].iov_base = (char *)iov[i].iov_base - skip;
			iov[i].iov_len += skip;
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				e = w < 0 ? errno : EIO;
				/* The lines written whole stay (spool_cut). */
				for (i = 0; i < n && iov[i].iov_len <= done;
				     i++) {
					done -= iov[i].iov_len;
					spool_end += (off_t)iov[i].iov_len;
				}
				spool_fail(c, e);
				pthread_mutex_unlock(&wlock);
				pthread_rwlock_unlock(&spool_rw);
				return -1;
			}
			done += (size_t)w;
		}
		spool_end += (off_t)want;
	}
	upto = spool_end;
	pthread_mutex_unlock(&wlock);
	t0 = cli_mono_ns();
	rc = fdatasync(spool_fd[c]);
	e = errno;
	dt = cli_mono_ns() - t0;
	/* Synced into a file that was deleted meanwhile: into the void. */
	if (rc == 0 && fstat(spool_fd[c], &st) == 0 && st.st_nlink == 0) {
		rc = -1;
		e = ENOENT;
	}
	pthread_mutex_lock(&wlock);
	if (rc != 0)
		spool_fail(c, e);
	else if (!spool_failed && upto > spool_good)
		spool_good = upto;
	good = upto <= spool_good;
	if (rc == 0 && !spool_failed) {
		atomic_store(&spool_failing, 0);
		if (outage_over(&spool_outage))
			cli_warnx("%s: captures are written again", spool_path);
	}
	pthread_mutex_unlock(&wlock);
	pthread_rwlock_unlock(&spool_rw);
	if (rc == 0) {
		atomic_fetch_add(&m_fsync_us, dt / 1000);
		atomic_fetch_add(&m_batches, 1);
	}
	return good ? 0 : -1;
}

/*
 * A stream spool.  Each committer publishes its batch asynchronously, all
 * of it in flight at once (and the other committer's batch beside it),
 * then waits until the stream answered for every capture: acknowledged
 * (a quorum of its replicas stored it) or failed (no quorum, no leader,
 * no answer within NATS_PUB_WAIT_MS, no server).  A capture is answered
 * 200 only when acknowledged.
 */
struct pubwait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t left; /* publishes not yet answered */
};

static struct pubwait pubwait[NCOMMITTERS];
static pthread_mutex_t nwlock = PTHREAD_MUTEX_INITIALIZER;
static struct outage nats_outage; /* under nwlock */

/* A publish failed: say so at the start of an outage, and rarely after. */
static void
nats_failed(const char *why)
{
	atomic_fetch_add(&m_pubfail, 1);
	pthread_mutex_lock(&nwlock);
	if (outage_may_warn(&nats_outage))
		cli_warnx("%s: %s; answering 503 until it works again",
		    nats_spec, why);
	pthread_mutex_unlock(&nwlock);
}

static void
nats_stored(void)
{
	pthread_mutex_lock(&nwlock);
	if (outage_over(&nats_outage))
		cli_warnx("%s: captures are stored again", nats_spec);
	pthread_mutex_unlock(&nwlock);
}

/* natsq's callback, on a thread of the library: one capture answered. */
static void
on_published(void *arg, int ok, uint64_t seq, int dup, const char *why)
{
	struct req *r = arg;
	struct pubwait *pw = r->pw;

	(void)seq;
	(void)dup; /* a repeat within the duplicate window: stored before */
	lat_add(m_plat, &m_plat_us, (double)(cli_mono_ns() - r->pub_t0) / 1e9);
	if (ok)
		nats_stored();
	else
		nats_failed(why);
	r->stored = ok;
	/* r is the committer's again once left is down. */
	pthread_mutex_lock(&pw->mu);
	if (--pw->left == 0)
		pthread_cond_signal(&pw->cv);
	pthread_mutex_unlock(&pw->mu);
}

/* Publish committer c's batch and wait for every answer. */
static void
nats_commit(struct req *batch, int c)
{
	struct pubwait *pw = &pubwait[c];
	struct req *r;

	pthread_mutex_lock(&pw->mu);
	for (r = batch; r != NULL; r = r->next)
		pw->left++;
	pthread_mutex_unlock(&pw->mu);
	for (r = batch; r != NULL; r = r->next) {
		r->pw = pw;
		r->stored = 0;
		r->pub_t0 = cli_mono_ns();
		/* The line without its newline: a message is one capture. */
		if (natsq_publish(nq, r->line, r->linen - 1, r->msgid, r) == 0)
			continue;
		nats_failed(natsq_pub_error());
		pthread_mutex_lock(&pw->mu);
		pw->left--;
		pthread_mutex_unlock(&pw->mu);
	}
	pthread_mutex_lock(&pw->mu);
	while (pw->left > 0)
		pthread_cond_wait(&pw->cv, &pw->mu);
	pthread_mutex_unlock(&pw->mu);
}

/* stdout failed: without a spool nothing more can be acknowledged. */
static void
stdout_failed(int e)
{
	if (spool_path != NULL || nq != NULL) {
		if (e != EPIPE)
			cli_warnx("stdout: %s; captures go to the spool only",
			    strerror(e));
	} else {
		cli_warnx("stdout: %s", strerror(e));
		atomic_store(&fatal, 1);
		kill(getpid(), SIGTERM);
	}
	so_on = 0;
	atomic_fetch_sub(&backlog, so_len - so_off);
	so_len = so_off = 0;
	atomic_store(&so_pending, 0);
}

/*
 * Write stdout's buffer until it is empty or until the monotonic deadline
 * passes (a pipe whose reader stalls).  Blocking descriptors (files,
 * terminals) simply block.
 */
static void
stdout_drain(uint64_t deadline)
{
	while (so_on && so_off < so_len) {
		ssize_t w =
		    write(STDOUT_FILENO, so_buf + so_off, so_len - so_off);

		if (w > 0) {
			so_off += (size_t)w;
			atomic_fetch_sub(&so_pending, (size_t)w);
			so_flushed += (uint64_t)w;
			atomic_fetch_sub(&backlog, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { STDOUT_FILENO, POLLOUT, 0 };
			uint64_t now = cli_mono_ns();

			if (now >= deadline)
				break;
			poll(&pfd, 1, (int)((deadline - now) / 1000000) + 1);
			continue;
		}
		stdout_failed(w < 0 ? errno : EIO);
		return;
	}
	if (so_off == so_len) {
		so_off = so_len = 0;
		atomic_store(&stdout_stalled, 0);
	} else if (cli_mono_ns() >= deadline)
		atomic_store(&stdout_stalled, 1);
}

/*
 * Append the lines of a batch the spool took to stdout's buffer; returns
 * the bytes queued, or -1.
 */
static ssize_t
stdout_queue(struct req *batch)
{
	struct req *r;
	size_t need = 0;

	for (r = batch; r != NULL; r = r->next)
		if (r->stored)
			need += r->linen;
	if (so_off > 0) {
		memmove(so_buf, so_buf + so_off, so_len - so_off);
		so_len -= so_off;
		so_off = 0;
	}
	if (so_len + need > 0) {
		char *nb = realloc(so_buf, so_len + need);

		if (nb == NULL)
			return -1;
		so_buf = nb;
	}
	for (r = batch; r != NULL; r = r->next) {
		if (!r->stored)
			continue;
		memcpy(so_buf + so_len, r->line, r->linen);
		so_len += r->linen;
		atomic_fetch_add(&so_pending, r->linen);
		so_total += r->linen;
		r->so_end = so_total;
	}
	return (ssize_t)need;
}

static void *
committer(void *arg)
{
	struct req *batch, *r, *next;
	int c = (int)(intptr_t)arg, stale;

	for (;;) {
		size_t bytes = 0;
		ssize_t queued = 0;
		int reopen;

		pthread_mutex_lock(&lock);
		while (qhead == NULL && !stopping_committer && !reopen_spool) {
			if (atomic_load(&so_pending) > 0) {
				struct timespec ts;

				/* Keep trying a stalled stdout now and then. */
				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_nsec += 50 * 1000000;
				if (ts.tv_nsec >= 1000000000) {
					ts.tv_sec++;
					ts.tv_nsec -= 1000000000;
				}
				pthread_cond_timedwait(&wake, &lock, &ts);
				break;
			}
			pthread_cond_wait(&wake, &lock);
		}
		batch = qhead;
		qhead = NULL;
		qtail = &qhead;
		reopen = reopen_spool;
		reopen_spool = 0;
		pthread_mutex_unlock(&lock);
		/*
		 * Before writing: reopen after SIGHUP, after a failure, and
		 * when the path names another file or nothing (deleted,
		 * replaced), so that no 2xx goes into a file nobody reads.
		 */
		if (spool_path != NULL && (reopen || batch != NULL)) {
			pthread_rwlock_rdlock(&spool_rw);
			stale = spool_stale(c);
			pthread_rwlock_unlock(&spool_rw);
			if (reopen || stale != SPOOL_OK) {
				pthread_rwlock_wrlock(&spool_rw);
				spool_reopen(reopen);
				pthread_rwlock_unlock(&spool_rw);
			}
		}
		if (batch == NULL) {
			if (atomic_load(&so_pending) > 0) {
				pthread_mutex_lock(&slock);
				stdout_drain(cli_mono_ns() +
				    (stopping_committer ? STDOUT_WAIT_MS : 0) *
					1000000ull);
				pthread_mutex_unlock(&slock);
			}
			if (stopping_committer)
				break;
			continue;
		}
		/* The spool first: r->stored says whether it took r. */
		if (nq != NULL)
			nats_commit(batch, c);
		else {
			int ok =
			    spool_path == NULL || spool_commit(batch, c) == 0;

			for (r = batch; r != NULL; r = r->next)
				r->stored = ok;
		}
		for (r = batch; r != NULL; r = r->next)
			bytes += r->linen;
		pthread_mutex_lock(&slock);
		if (so_on && (queued = stdout_queue(batch)) < 0) {
			queued = 0;
			for (r = batch; r != NULL; r = r->next)
				r->stored = 0;
		}
		/* What stdout did not take leaves the backlog now. */
		atomic_fetch_sub(&backlog, bytes - (size_t)queued);
		if (queued > 0)
			stdout_drain(
			    cli_mono_ns() + STDOUT_WAIT_MS * 1000000ull);
		for (r = batch; r != NULL; r = r->next) {
			if (!r->stored)
				r->status = 503;
			else if (so_on && so_flushed < r->so_end)
				r->status = 503;
			else if (spool_path == NULL && nq == NULL && !so_on)
				r->status = 503; /* stdout failed */
			else
				r->status = 200;
		}
		pthread_mutex_unlock(&slock);
		for (r = batch; r != NULL; r = next) {
			next = r->next;
			MHD_resume_connection(r->conn);
		}
	}
	return NULL;
}

static struct MHD_Response *
mkresp(const char *text, const char *hname, const char *hval)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(
	    strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		cli_fatalx("cannot create responses");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	if (hname != NULL)
		MHD_add_response_header(r, hname, hval);
	return r;
}

/*
 * Each connection, lingering socket and file takes a descriptor.  Raise
 * the soft limit to fit --max-connections; when the hard limit is lower,
 * serve fewer connections, with a warning, rather than let accept() and a
 * spool reopen fail with EMFILE under load.
 */
static void
fit_nofile(void)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)max_conns + LINGER_MAX + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
	    ? rl.rlim_max
	    : need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 &&
	    getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur >= need)
		return;
	cli_warnx("--max-connections %lld needs %llu descriptors, the limit "
		  "is %llu: serving at most %llu connections",
	    (long long)max_conns, (unsigned long long)need,
	    (unsigned long long)rl.rlim_cur,
	    rl.rlim_cur > LINGER_MAX + FD_RESERVE + 1
		? (unsigned long long)(rl.rlim_cur - LINGER_MAX - FD_RESERVE)
		: 1ull);
	max_conns = rl.rlim_cur > LINGER_MAX + FD_RESERVE + 1
	    ? (int64_t)(rl.rlim_cur - LINGER_MAX - FD_RESERVE)
	    : 1;
}

static int
listen_on(const char *spec, int *family)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *why;
	char txt[NETADDR_STRLEN];
	int fd, one = 1, want_any;

	if (netaddr_parse(spec, strlen(spec), &ss, &sl, &why) != 0) {
		cli_warnx(
		    "invalid ADDR:PORT for --listen: %.40s (%s)", spec, why);
		usage();
	}
	*family = ss.ss_family;
	want_any = ss.ss_family == AF_INET
	    ? ((struct sockaddr_in *)&ss)->sin_port == 0
	    : ((struct sockaddr_in6 *)&ss)->sin6_port == 0;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		cli_fatal("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0)
		cli_fatal("%s", spec);
	if (listen(fd, 1024) != 0)
		cli_fatal("listen");
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		cli_fatal("getsockname");
	netaddr_format((struct sockaddr *)&ss, 1, txt);
	if (!quiet || want_any)
		cli_warnx("listening on %s", txt);
	return fd;
}

/*
 * The keys of the --secret-file operands, in order, and of the
 * environment (keyring.h): a new ring, or NULL after saying why.
 */
static struct keyring *
keys_load(void)
{
	struct keyring *kr = xmalloc(sizeof(*kr));
	size_t i;

	keyring_init(kr);
	for (i = 0; i < nkey_paths; i++)
		if (keyring_load_file(kr, key_paths[i]) != 0)
			break;
	if (i == nkey_paths && keyring_load_env(kr) == 0)
		return kr;
	keyring_free(kr);
	free(kr);
	return NULL;
}

/*
 * Read the key files again (reload_mu held: only the reloads read and
 * write the ring's files, the request threads its keys).  The new keys
 * replace the old ones only when every file reads cleanly
 * (keyring_load_file refuses a file without a key): a file caught half
 * written, or emptied, keeps the keys in use (a receiver with none would
 * refuse every delivery), says so, and is not read again until it
 * changes.  Returns 1 when the keys were replaced.
 */
static int
keys_reload(const char *why)
{
	struct keyring *kr = keyring_reload(keys_cur, why), *old;

	if (kr == NULL)
		return 0;
	pthread_rwlock_wrlock(&keys_lock);
	old = keys_cur;
	keys_cur = kr;
	pthread_rwlock_unlock(&keys_lock);
	keyring_free(old);
	free(old);
	return 1;
}

/* A request's signature against the keys in use. */
static enum closesig_reason
key_check(const struct req *r, const struct capture_hdr *ts,
    const struct capture_hdr *sig)
{
	enum closesig_reason why;

	pthread_rwlock_rdlock(&keys_lock);
	why = closesig_check(keys_cur, max_age, r->rt.tv_sec, ts->val, ts->valn,
	    sig->val, sig->valn, r->body, r->n);
	pthread_rwlock_unlock(&keys_lock);
	return why;
}

/* A reject's reload, at most once a RELOAD_GAP_NS: 1 when it took. */
static int
keys_reload_changed(void)
{
	uint64_t now = cli_mono_ns();
	int rc = 0;

	/*
	 * A stat a refused request (a microsecond or two beside the
	 * request); a reload at most once a RELOAD_GAP_NS, and a file that
	 * failed to read is not read again until it changes (keyring_reload).
	 */
	pthread_mutex_lock(&reload_mu);
	if (keyring_changed(keys_cur) &&
	    (reload_last == 0 || now - reload_last >= RELOAD_GAP_NS)) {
		reload_last = now;
		rc = keys_reload("a key file changed");
	}
	pthread_mutex_unlock(&reload_mu);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum {
		OPT_PATH = 256,
		OPT_SPOOL,
		OPT_SECRET,
		OPT_MAXAGE,
		OPT_REJECTS,
		OPT_MAXBODY,
		OPT_MAXBUF,
		OPT_MAXBUFIP,
		OPT_MAXCONN,
		OPT_PERIP,
		OPT_TIMEOUT,
		OPT_HDRTIMEOUT,
		OPT_CERT,
		OPT_KEY,
		OPT_VERSION
	};
	static const struct option longopts[] = { { "listen", required_argument,
						      NULL, 'l' },
		{ "path", required_argument, NULL, OPT_PATH },
		{ "spool", required_argument, NULL, OPT_SPOOL },
		{ "secret-file", required_argument, NULL, OPT_SECRET },
		{ "max-age", required_argument, NULL, OPT_MAXAGE },
		{ "rejects", required_argument, NULL, OPT_REJECTS },
		/* Its earlier name. */
		{ "keep-rejects", required_argument, NULL, OPT_REJECTS },
		{ "max-body", required_argument, NULL, OPT_MAXBODY },
		{ "max-buffered", required_argument, NULL, OPT_MAXBUF },
		{ "max-buffered-per-ip", required_argument, NULL,
		    OPT_MAXBUFIP },
		{ "max-connections", required_argument, NULL, OPT_MAXCONN },
		{ "max-connections-per-ip", required_argument, NULL,
		    OPT_PERIP },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "header-timeout", required_argument, NULL, OPT_HDRTIMEOUT },
		{ "tls-cert", required_argument, NULL, OPT_CERT },
		{ "tls-key", required_argument, NULL, OPT_KEY }, NATSQ_LONGOPTS,
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 } };
	const char *listen_spec = "127.0.0.1:8080", *certp = NULL, *keyp = NULL;
	char *cert = NULL, *tkey = NULL;
	struct MHD_Daemon *d;
	sigset_t sigs;
	unsigned flags;
	struct natsq_url nurl;
	int ch, lfd, family, sig, i, rc = CLI_EXIT_OK;
	uint64_t t;

	cli_init("closehook-receive");
	cli_std_fds(CLI_STDOUT_OPTIONAL);
	cli_no_core_dumps();
	argv[0] = (char *)cli_prog;
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	while ((ch = getopt_long(argc, argv, "hl:q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen_spec = optarg;
			break;
		case OPT_PATH:
			if (optarg[0] != '/') {
				cli_warnx("invalid PATH for --path: it must "
					  "begin with /");
				usage();
			}
			path = optarg;
			break;
		case OPT_SPOOL:
			spool_path = optarg;
			break;
		case OPT_SECRET:
			key_paths = xrealloc(
			    key_paths, (nkey_paths + 1) * sizeof(*key_paths));
			key_paths[nkey_paths++] = optarg;
			break;
		case OPT_MAXAGE:
			max_age = cli_opt_seconds(
			    "max-age", optarg, 0, 100LL * 365 * 86400);
			break;
		case OPT_REJECTS:
			rej_path = optarg;
			break;
		case OPT_MAXBODY:
			max_body = cli_opt_size(
			    "max-body", optarg, 1, (uint64_t)1 << 30);
			break;
		case OPT_MAXBUF:
			max_buffered = cli_opt_size(
			    "max-buffered", optarg, 1, (uint64_t)1 << 40);
			break;
		case OPT_MAXBUFIP:
			max_ip_buffered = cli_opt_size("max-buffered-per-ip",
			    optarg, 0, (uint64_t)1 << 40);
			break;
		case OPT_MAXCONN:
			max_conns =
			    cli_opt_int("max-connections", optarg, 1, 65536);
			break;
		case OPT_PERIP:
			max_per_ip = cli_opt_int(
			    "max-connections-per-ip", optarg, 0, 65536);
			break;
		case OPT_TIMEOUT:
			timeout_s = cli_opt_seconds("timeout", optarg, 1, 3600);
			break;
		case OPT_HDRTIMEOUT:
			hdr_timeout_ms = cli_opt_duration(
			    "header-timeout", optarg, 100, 3600 * 1000);
			break;
		case OPT_CERT:
			certp = optarg;
			break;
		case OPT_KEY:
			keyp = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			help();
			break;
		case OPT_VERSION:
			cli_version();
			break;
		default:
			if (!natsq_getopt(ch, optarg, &nats_opt))
				usage();
		}
	}
	if (optind != argc) {
		cli_warnx("no operands expected");
		usage();
	}
	holds_max_body("max-buffered", max_buffered);
	if (max_ip_buffered != UINT64_MAX && max_ip_buffered != 0)
		holds_max_body("max-buffered-per-ip", max_ip_buffered);
	iptab_init();
	if (spool_path != NULL && natsq_is_url(spool_path)) {
		const char *why;

		if (natsq_url_parse(spool_path, &nurl, &why) != 0) {
			cli_warnx("invalid stream URL for --spool: %s", why);
			usage();
		}
		nats_spec = spool_path;
		spool_path = NULL;
	}
	if (natsq_opts_given(&nats_opt) && nats_spec == NULL) {
		cli_warnx("--nats-creds, --nats-user-file and --nats-replicas "
			  "are for a nats:// spool");
		usage();
	}
	if (natsq_opts_misuse(&nats_opt) != NULL) {
		cli_warnx("%s", natsq_opts_misuse(&nats_opt));
		usage();
	}
	if ((certp == NULL) != (keyp == NULL)) {
		cli_warnx("--tls-cert and --tls-key go together");
		usage();
	}
	if ((keys_cur = keys_load()) == NULL)
		exit(CLI_EXIT_FATAL);
	have_keys = keys_cur->n > 0;
	if (rej_path != NULL && !have_keys) {
		cli_warnx("--rejects needs keys (--secret-file)");
		usage();
	}

	/* Set up: stdout, spool, rejects, TLS, the socket, the daemon. */
	fit_nofile();
	signal(SIGPIPE, SIG_IGN);
	so_on = !cli_stdout_closed();
	if (so_on) {
		struct stat st;

		if (fstat(STDOUT_FILENO, &st) == 0 &&
		    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
			int fl = fcntl(STDOUT_FILENO, F_GETFL);

			so_pipe =
			    fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) == 0;
		}
	} else if (spool_path == NULL && nats_spec == NULL)
		cli_fatalx("stdout is closed: give --spool FILE");
	/* A second receiver on the spool would cut back, after a failed
	 * write, captures the first had answered 2xx (spool_end is its
	 * own). */
	if (spool_path != NULL)
		cli_lock(spool_path, "the spool");
	if (spool_path != NULL && spool_open() != 0)
		cli_fatalx("%s", spool_why);
	if (certp != NULL) {
		size_t n;

		cert = readfile_must(certp, PEM_MAX, &n);
		/* The private key is a secret: locked memory, wiped. */
		if ((tkey = readfile_secret("--tls-key", keyp, PEM_MAX, &n)) ==
		    NULL)
			exit(CLI_EXIT_FATAL);
	}
	/* Threads inherit the mask: only main() takes these signals. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	/*
	 * A stream spool: connected, the stream there (or created) and the
	 * publisher started before the socket listens (and says where), so
	 * that nothing connects before it can be answered.  The library's
	 * threads start here and inherit the mask.
	 */
	if (nats_spec != NULL) {
		char err[600];

		if ((nq = natsq_connect(&nurl, &nats_opt, err, sizeof(err))) ==
		    NULL) {
			if (err[0] != '\0')
				cli_warnx("%s", err);
			natsq_finish();
			exit(CLI_EXIT_FATAL);
		}
		if (natsq_stream(nq) != 0 ||
		    natsq_pub_start(nq, on_published, NATS_INFLIGHT,
			NATS_PUB_WAIT_MS) != 0) {
			cli_warnx("%s", natsq_error(nq));
			natsq_close(nq);
			natsq_finish();
			exit(CLI_EXIT_FATAL);
		}
		for (i = 0; i < NCOMMITTERS; i++)
			if (pthread_mutex_init(&pubwait[i].mu, NULL) != 0 ||
			    pthread_cond_init(&pubwait[i].cv, NULL) != 0)
				cli_fatalx(
				    "cannot start the committer threads");
	}
	lfd = listen_on(listen_spec, &family);

	r_ok = mkresp("", NULL, NULL);
	r_400 = mkresp("bad request\n", NULL, NULL);
	r_401 = mkresp("signature rejected\n", NULL, NULL);
	r_404 = mkresp("not found\n", NULL, NULL);
	r_405 = mkresp("method not allowed\n", MHD_HTTP_HEADER_ALLOW, "POST");
	r_405get =
	    mkresp("method not allowed\n", MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r_408 =
	    mkresp("request timeout\n", MHD_HTTP_HEADER_CONNECTION, "close");
	r_413 = mkresp("body too large\n", MHD_HTTP_HEADER_CONNECTION, "close");
	r_500 = mkresp("internal error\n", NULL, NULL);
	r_501 = mkresp("transfer coding not supported\n", NULL, NULL);
	r_505 = mkresp("HTTP version not supported\n", NULL, NULL);
	r_503 = mkresp(
	    "busy, retry later\n", MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER);
	r_503close =
	    mkresp("shutting down\n", MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER);
	MHD_add_response_header(
	    r_503close, MHD_HTTP_HEADER_CONNECTION, "close");
	r_health = mkresp("ok\n", NULL, NULL);
	r_nats_down = mkresp("no NATS server reachable, retry later\n",
	    MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER);
	r_spool_down = mkresp("the spool cannot be written, retry later\n",
	    MHD_HTTP_HEADER_RETRY_AFTER, RETRY_AFTER);

	for (i = 0; i < NCOMMITTERS; i++)
		if (pthread_create(&committers[i], NULL, committer,
			(void *)(intptr_t)i) != 0)
			cli_fatalx("cannot start the committer threads");
	if (pipe2(door_wake, O_NONBLOCK | O_CLOEXEC) != 0)
		cli_fatal("pipe");
	if (pthread_create(&door, NULL, door_keeper, NULL) != 0)
		cli_fatalx("cannot start the door thread");

	setup_metrics();
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cert != NULL)
		flags |= MHD_USE_TLS;
	d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)max_per_ip, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
	    NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_URI_LOG_CALLBACK, on_request_line, NULL,
	    /*
	     * libmicrohttpd's strict mode refuses HTTP/1.1 without Host and
	     * targets with spaces itself, with its status line and headers
	     * sent twice; httpframe makes those checks and more, and the
	     * 400 is ours.
	     */
	    MHD_OPTION_STRICT_FOR_CLIENT, 0,
	    /*
	     * Each connection's pool holds its request headers and read
	     * buffer (bodies are copied out as they arrive), and MHD zeroes
	     * it after every request: half the default 32 KiB halves that
	     * cost and still takes 8 KiB of headers, as nginx does.
	     */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
	    cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
	    MHD_OPTION_HTTPS_MEM_KEY, tkey, MHD_OPTION_END);
	if (d == NULL)
		cli_fatalx("cannot start the HTTP server%s",
		    cert != NULL ? " (check --tls-cert and --tls-key)" : "");

	/*
	 * Serve until SIGTERM or SIGINT; SIGHUP reopens the files and reads
	 * the keys again.
	 */
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		if (have_keys) {
			pthread_mutex_lock(&reload_mu);
			keys_reload("SIGHUP");
			pthread_mutex_unlock(&reload_mu);
		}
		pthread_mutex_lock(&lock);
		reopen_spool = 1;
		pthread_cond_signal(&wake);
		pthread_mutex_unlock(&lock);
		atomic_fetch_add(&rej_reopen, 1);
	}

	/* Stop accepting, let requests in flight finish (bounded). */
	atomic_store(&stopping, 1);
	lfd = MHD_quiesce_daemon(d);
	if (lfd >= 0)
		close(lfd);
	t = cli_mono_ns() + (uint64_t)(timeout_s + 2) * 1000000000u;
	while (atomic_load(&inflight) > 0 && cli_mono_ns() < t)
		usleep(10000);
	pthread_mutex_lock(&lock);
	stopping_committer = 1;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < NCOMMITTERS; i++)
		pthread_join(committers[i], NULL);
	/* Resumed requests still need their answers sent. */
	t = cli_mono_ns() + 1000000000u;
	while (atomic_load(&inflight) > 0 && cli_mono_ns() < t)
		usleep(10000);
	MHD_stop_daemon(d);
	atomic_store(&door_stop, 1);
	door_poke();
	pthread_join(door, NULL);
	close(door_wake[0]);
	close(door_wake[1]);
	metrics_close(&met);

	if (so_on && so_off < so_len && !quiet)
		cli_warnx("stdout: %zu bytes not written", so_len - so_off);
	if (atomic_load(&fatal))
		rc = CLI_EXIT_FATAL;
	for (i = 0; i < NCOMMITTERS; i++)
		if (spool_fd[i] >= 0 && close(spool_fd[i]) != 0) {
			cli_warn("%s", spool_path);
			rc = CLI_EXIT_FATAL;
		}
	if (rej_open && out_close(&rej_out) != 0)
		cli_warn("%s", rej_path);
	if (so_on && close(STDOUT_FILENO) != 0 && errno != EBADF) {
		cli_warn("stdout");
		rc = CLI_EXIT_FATAL;
	}
	if (nq != NULL) {
		natsq_close(nq);
		natsq_finish();
	}
	readfile_secret_free(tkey);
	free(cert);
	free(so_buf);
	keyring_free(keys_cur);
	free(keys_cur);
	free(key_paths);
	return rc;
}
