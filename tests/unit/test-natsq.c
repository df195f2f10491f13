/*
 * test-natsq.c - the parts of common/natsq.c that need no server: the
 * nats:// and tls:// URLs accepted and refused, names, and message ids of
 * captures.  tests/t0960-nats-*.t run the rest against real servers.
 */
#include <string.h>

#include <sodium.h>

#include "natsq.h"
#include "tap.h"

int
main(void)
{
	static const char *const bad[][2] = {
		{ "redis://h/x", "not a nats:// or tls:// URL" },
		{ "nats://h:4222", "no /NAME after the servers" },
		{ "nats://h:4222/", "the name after / must be*" },
		{ "nats://h/a.b", "the name after / must be*" },
		{ "nats://h/a*", "the name after / must be*" },
		{ "nats://h/"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaa",
		    "the name after / must be*" },
		{ "nats:///S", "no server" },
		{ "nats://u:p@h/S", "no user or password in the URL*" },
		{ "nats://h:0/S", "bad port" },
		{ "nats://h:65536/S", "bad port" },
		{ "nats://h:/S", "bad port" },
		{ "nats://h:42x/S", "bad port" },
		{ "nats://h:4222:1/S", "bad port" },
		{ "nats://h h/S", "bad host" },
		{ "nats://:4222/S", "bad host" },
		{ "nats://[::1/S", "unclosed [ in host" },
		{ "nats://a,,b/S", "empty server in the list" },
		{ "nats://a,/S", "empty server in the list" },
		{ "nats://a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q/S",
		    "more than 16 servers" },
	};
	struct natsq_url u;
	const char *why;
	char buf[512], id[NATSQ_MSGID_LEN + 1], id2[NATSQ_MSGID_LEN + 1];
	size_t i;

	if (sodium_init() < 0)
		return 1;
	ok(natsq_url_parse("nats://127.0.0.1:4222/SPOOL", &u, &why) == 0,
	    "one server");
	is_int(u.nsrv, 1, "one server in the list");
	is_str(u.srv[0], "nats://127.0.0.1:4222", "as the library takes it");
	is_str(u.name, "SPOOL", "the stream's name");
	is_int(u.tls, 0, "not TLS");
	ok(natsq_url_parse("nats://a:1,b,[::1]:5/k_v-1", &u, &why) == 0,
	    "a list, default port, IPv6");
	is_int(u.nsrv, 3, "three servers");
	is_str(u.srv[1], "nats://b:4222", "port 4222 by default");
	is_str(u.srv[2], "nats://[::1]:5", "IPv6 in brackets");
	is_str(natsq_url_servers(&u, buf, sizeof(buf)), "a:1,b:4222,[::1]:5",
	    "the list for messages");
	is_str(u.host0, "a", "the first host");
	ok(natsq_url_parse("tls://nats.example.com/S", &u, &why) == 0,
	    "tls://");
	is_int(u.tls, 1, "is TLS");
	is_str(u.srv[0], "tls://nats.example.com:4222", "tls:// servers");
	is_str(u.host0, "nats.example.com", "the name certificates must have");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *w = bad[i][1];
		size_t wn = strlen(w);
		int r = natsq_url_parse(bad[i][0], &u, &why);

		ok(r == -1 &&
			(w[wn - 1] == '*' ? strncmp(why, w, wn - 1) == 0
					  : strcmp(why, w) == 0),
		    "refused: %s (%s)", bad[i][0], r == 0 ? "accepted" : why);
	}
	ok(natsq_is_url("nats://x/y") && natsq_is_url("tls://x/y") &&
		!natsq_is_url("redis://x") && !natsq_is_url("/var/x"),
	    "natsq_is_url");
	ok(natsq_name_ok("follow-1_A") && !natsq_name_ok("") &&
		!natsq_name_ok("a.b") && !natsq_name_ok("a b"),
	    "consumer names");

	natsq_msgid("{\"a\":1}", 7, "1557751596", 10, id);
	is_int(
	    strlen(id), NATSQ_MSGID_LEN, "an id is %d bytes", NATSQ_MSGID_LEN);
	ok(strncmp(id, "ch1-", 4) == 0, "and starts with ch1-");
	natsq_msgid("{\"a\":1}", 7, "1557751596", 10, id2);
	is_str(id2, id, "the same capture, the same id");
	natsq_msgid("{\"a\":1}", 7, "1557751597", 10, id2);
	ok(strcmp(id2, id) != 0, "another timestamp, another id");
	natsq_msgid("{\"a\":2}", 7, "1557751596", 10, id2);
	ok(strcmp(id2, id) != 0, "another body, another id");
	/* The NUL between them: "1" + "2x" is not "12" + "x". */
	natsq_msgid("2x", 2, "1", 1, id);
	natsq_msgid("x", 1, "12", 2, id2);
	ok(strcmp(id2, id) != 0, "timestamp and body are kept apart");
	/* BLAKE2b-128 of "1557751596\0{}", computed with Python's hashlib. */
	natsq_msgid("{}", 2, "1557751596", 10, id);
	is_str(id, "ch1-d60bf581c673c9fa208dbe2f3d45a9e7",
	    "the id is BLAKE2b-128 in hex");
	return tap_done();
}
