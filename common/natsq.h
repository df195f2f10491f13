/*
 * natsq.h - closehook's connection to NATS JetStream (libnats, the NATS C
 * client 3.4): the spool as a replicated stream, durable pull consumers
 * of it, the seen-set as a key-value bucket, and asynchronous publishing
 * of captures.
 *
 * Where: "nats://HOST[:PORT][,HOST[:PORT]...]/NAME" ("tls://" for TLS;
 * port 4222 by default; HOST may be [IPv6]).  NAME is the stream of a
 * spool, whose captures go to the subject NAME.captures, or the bucket of
 * a seen-set.  The client tries the servers listed and those the cluster
 * announces, and reconnects on its own when one goes away.  User
 * information in the URL is refused: credentials come from a .creds file
 * (--nats-creds) or a file of two lines, user and password
 * (--nats-user-file), never from argv; either draws a warning when group
 * or others may read it.
 *
 * A struct natsq owns one connection and its JetStream contexts; with it,
 * at most one consumer (natsq_consume), one bucket (natsq_kv) and one
 * publisher (natsq_pub_start).  Only natsq_publish may be called from
 * several threads at once; the publish callback runs on a thread of the
 * library.  Messages from natsq_error() are owned by the natsq and valid
 * until its next call; they never hold a password or a credential.
 */
#ifndef CLOSEHOOK_NATSQ_H
#define CLOSEHOOK_NATSQ_H

#include <stddef.h>
#include <stdint.h>

#define NATSQ_MAXSRV 16
#define NATSQ_SRVMAX 280 /* "tls://" [HOST]:PORT and a NUL */
#define NATSQ_NAMEMAX 65 /* 64 characters and a NUL */
/* The subject a spool stream NAME takes captures on: NAME.captures. */
#define NATSQ_SUBJECT ".captures"
/* The message id of a capture: "ch1-" and 32 hex digits. */
#define NATSQ_MSGID_LEN 36

/* A parsed nats:// or tls:// URL. */
struct natsq_url {
	int tls;
	int nsrv;
	char srv[NATSQ_MAXSRV][NATSQ_SRVMAX]; /* "nats://HOST:PORT" */
	char host0[256]; /* the first host: TLS checks certificates for it */
	char name[NATSQ_NAMEMAX]; /* stream or bucket */
};

/* 1 when spec starts with nats:// or tls://. */
int natsq_is_url(const char *spec);
/* Parse spec; 0, or -1 with a short static reason in *why. */
int natsq_url_parse(const char *spec, struct natsq_url *, const char **why);
/*
 * 1 when s is a name JetStream and closehook take for a stream, bucket or
 * consumer: 1 to 64 of A-Z, a-z, 0-9, '-' and '_'.
 */
int natsq_name_ok(const char *s);
/* The server list of u without schemes, for messages ("h:p,h:p"). */
const char *natsq_url_servers(const struct natsq_url *u, char *buf, size_t cap);

struct natsq_opts {
	const char *creds; /* --nats-creds FILE, or NULL */
	const char *userfile; /* --nats-user-file FILE, or NULL */
	int replicas; /* of a stream or bucket created here; 0: 3 */
	int64_t wait_ms; /* bound on one JetStream request; 0: 5 s */
};

/*
 * The options every program that reaches NATS takes, the same in each:
 * NATSQ_LONGOPTS among its getopt_long entries, codes clear of its own.
 * natsq_getopt takes ch when it is one of them (1; else 0).
 * natsq_opts_given says whether any was given (they need a nats:// URL);
 * natsq_opts_misuse is the usage error in them, or NULL.
 */
enum {
	NATSQ_O_CREDS = 0x4e00,
	NATSQ_O_USERFILE,
	NATSQ_O_REPLICAS
};
/* clang-format off */
#define NATSQ_LONGOPTS \
	{ "nats-creds", required_argument, NULL, NATSQ_O_CREDS }, \
	{ "nats-user-file", required_argument, NULL, NATSQ_O_USERFILE }, \
	{ "nats-replicas", required_argument, NULL, NATSQ_O_REPLICAS }
/* clang-format on */
int natsq_getopt(int ch, const char *arg, struct natsq_opts *);
int natsq_opts_given(const struct natsq_opts *);
const char *natsq_opts_misuse(const struct natsq_opts *);

struct natsq;

/*
 * Connect to the first server of u that answers.  NULL with a message in
 * err when none does, when a credential file cannot be read, or when the
 * library fails.  Call sodium_init() first (--nats-user-file).
 */
struct natsq *natsq_connect(const struct natsq_url *u,
    const struct natsq_opts *, char *err, size_t errlen);
const char *natsq_error(const struct natsq *);
/*
 * 1 when the last failure may pass by itself: a request not answered in
 * time or without a responder (a leader being elected), or no server
 * connected.  Callers try again for a while.
 */
int natsq_transient(const struct natsq *);
/*
 * 1 while the connection is up; 0 while the library is reconnecting (no
 * server of the cluster answers), or closed.
 */
int natsq_connected(const struct natsq *);
/* Flush what is buffered (acknowledgements), then close; NULL is ok. */
void natsq_close(struct natsq *);
/* At the end of main: stop the library's threads and free its memory. */
void natsq_finish(void);

/*
 * The spool: make sure the stream u->name exists, with file storage,
 * --nats-replicas replicas and the subject NAME.captures.  An existing
 * stream is taken as it is (a warning when --nats-replicas was given and
 * its replica count differs).
 * 0, or -1 (natsq_error) when it cannot be created.
 */
int natsq_stream(struct natsq *);

/* Where a new consumer starts. */
enum natsq_start {
	NATSQ_START_ALL, /* the first message of the stream */
	NATSQ_START_NEW, /* messages stored from now on */
	NATSQ_START_TIME /* the first message stored at or after start_ns */
};

struct natsq_consumer {
	const char *durable;
	int64_t ack_wait_ms;
	int ack_wait_set; /* given: also applied to an existing consumer */
	enum natsq_start start;
	int64_t start_ns; /* NATSQ_START_TIME: ns since the epoch */
};

/*
 * Bind to the durable pull consumer c->durable of the stream, creating it
 * (explicit acks, c->ack_wait_ms, starting where c says) when it does not
 * exist.  *created says which.  0, or -1 (natsq_error).
 */
int natsq_consume(struct natsq *, const struct natsq_consumer *c, int *created);

/* Messages fetched, owned by the batch until natsq_batch_free. */
struct natsq_batch {
	void **m;
	int n;
};

/*
 * Fetch up to max messages: those ready at once or, when none is, the
 * first that arrives within wait_ms.  Returns how many (0 when none came),
 * or -1 (natsq_error).
 */
int natsq_fetch(struct natsq *, struct natsq_batch *, int max, int64_t wait_ms);
/* Message i's data and its length. */
const char *natsq_data(const struct natsq_batch *, int i, size_t *n);
/* How often message i was delivered (1 the first time), or 0. */
uint64_t natsq_delivered(const struct natsq_batch *, int i);
/*
 * Acknowledge message i (done: never delivered again), or give it back
 * for redelivery at once (nak).  Sent without waiting; 0 or -1.
 */
int natsq_ack(struct natsq *, struct natsq_batch *, int i);
int natsq_nak(struct natsq *, struct natsq_batch *, int i);
void natsq_batch_free(struct natsq_batch *);
/* Wait until the server has seen everything sent so far; 0 or -1. */
int natsq_sync(struct natsq *, int64_t ms);

/* The consumer as the server counts it. */
struct natsq_cstate {
	uint64_t pending; /* stored, not delivered yet */
	uint64_t ack_pending; /* delivered, awaiting acknowledgement */
	uint64_t redelivered; /* delivered more than once, unacknowledged */
	uint64_t waiting; /* pull requests waiting */
	/*
	 * The last stream sequence delivered to the consumer, and the
	 * stream's last sequence as its leader has it.  The consumer's
	 * pending count comes from the server that leads the consumer, whose
	 * replica of the stream may lag behind (just restarted, say): only
	 * delivered_seq >= stream_last says the consumer has seen it all.
	 */
	uint64_t delivered_seq;
	uint64_t stream_last;
};
int natsq_consumer_state(struct natsq *, struct natsq_cstate *);

/*
 * The seen-set: open the bucket u->name, creating it (file storage,
 * --nats-replicas, one value per key, values living ttl_ms after their
 * last write) when it does not exist.  A bucket that exists keeps its
 * own TTL (a warning when it differs).  0, or -1 (natsq_error).
 */
int natsq_kv(struct natsq *, int64_t ttl_ms);
/* Create key with val unless it exists: 0 created, 1 it exists, -1 error. */
int natsq_kv_create(
    struct natsq *, const char *key, const char *val, size_t n, uint64_t *rev);
/*
 * The value of key (at most cap - 1 bytes, NUL-terminated), its revision
 * and when it was written (ns since the epoch, by the server's clock).
 * 0 found, 1 not found, -1 error.
 */
int natsq_kv_get(struct natsq *, const char *key, char *val, size_t cap,
    uint64_t *rev, int64_t *written_ns);
/* Replace key's value if its revision is still last: 0, 1 it is not, -1. */
int natsq_kv_update(struct natsq *, const char *key, const char *val, size_t n,
    uint64_t last, uint64_t *rev);
/* Set key's value whatever it was; 0 or -1. */
int natsq_kv_put(struct natsq *, const char *key, const char *val, size_t n);

/*
 * Publishing captures.  natsq_pub_start sets the callback that gets the
 * outcome of each publish (from a thread of the library, once per
 * natsq_publish that returned 0): ok = 1 once the stream's leader has
 * stored it and a quorum of replicas has it (seq is its sequence, dup
 * says it was a repeat of an id within the stream's duplicate window and
 * stored before), else ok = 0 and why.  A publish not acknowledged within
 * max_wait_ms fails; at most max_inflight are unacknowledged at once
 * (natsq_publish waits for room up to max_wait_ms).
 */
typedef void
natsq_pub_fn(void *arg, int ok, uint64_t seq, int dup, const char *why);
int natsq_pub_start(
    struct natsq *, natsq_pub_fn *, int max_inflight, int64_t max_wait_ms);
/*
 * The id of a capture: BLAKE2b-128 over the close-sig-timestamp header's
 * value, a NUL and the body, as "ch1-" and hex, NUL-terminated in id
 * (NATSQ_MSGID_LEN + 1 bytes).  A delivery that Close repeats carries the
 * same body and, unless Close signs it anew, the same timestamp: the
 * stream stores it once when the repeat comes within its duplicate window.
 */
void natsq_msgid(
    const char *body, size_t bodyn, const char *ts, size_t tsn, char *id);
/*
 * Publish the capture line p[0..n) (no newline) to NAME.captures with the
 * header Nats-Msg-Id: id.  0: the callback will say how it went; -1: not
 * sent, no callback, and natsq_pub_error() says why (in a buffer of the
 * calling thread).
 */
int natsq_publish(
    struct natsq *, const char *p, size_t n, const char *id, void *arg);
const char *natsq_pub_error(void);
/* Wait until every publish has had its callback, at most ms; 0 or -1. */
int natsq_pub_drain(struct natsq *, int64_t ms);

#endif
