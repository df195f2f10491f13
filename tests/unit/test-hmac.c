/*
 * test-hmac.c - HMAC-SHA256, Close's signature formula, hex coding.
 */
#include <pthread.h>
#include <string.h>

#include "hmac.h"
#include "tap.h"

static const char kav_key[] =
    "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";
static const char kav_ts[] = "1557751596";
static const char kav_body[] =
    "{\"event\": {\"id\": \"ev_4YUAT9G7PQNYEX0V7HpiZa\", \"date_created\": "
    "\"2019-01-01T13:33:00.842000\", \"data\": {\"object_type\": "
    "\"activity.note\", \"action\": \"created\", \"note\": \"test content\"}},"
    " \"subscription_id\": \"whsub_mBTylJxRXaBOXcuQmgUdmL\"}";

static void
hexsig(const struct hmac_key *k, const char *a, size_t an, const char *b,
    size_t bn, char *hex)
{
	unsigned char mac[HMAC_LEN];

	hmac_sha256(k, a, an, b, bn, mac);
	hmac_hex_encode(mac, HMAC_LEN, hex);
	hex[2 * HMAC_LEN] = '\0';
}

/*
 * One key shared by threads (verify's second core): each hashes in its own
 * scratch context, so every answer is right however they interleave.
 */
struct shared {
	const struct hmac_key *k;
	int wrong;
};

static void *
hash_many(void *arg)
{
	struct shared *sh = arg;
	char hex[2 * HMAC_LEN + 1];
	int i;

	for (i = 0; i < 20000; i++) {
		hexsig(sh->k, kav_ts, strlen(kav_ts), kav_body,
		    strlen(kav_body), hex);
		sh->wrong +=
		    strcmp(hex,
			"e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c98924"
			"22c93573521cd377ed") != 0;
	}
	return NULL;
}

/*
 * The module's own SHA-256 (the SHA extensions, one message or a pair)
 * against OpenSSL's, over every split of the message into a and b around
 * the block edges, lengths across one, two and three blocks and their
 * padding, keys short, of a block and longer.  Where the CPU lacks the
 * extensions (or valgrind hides them), both sides are OpenSSL's, and the
 * pair must still give what two single calls give.
 */
static void
agree(void)
{
	static const size_t keylens[] = { 1, 32, 64, 65, 131 };
	unsigned char key[131], msg[400], want[2][HMAC_LEN], got[2][HMAC_LEN];
	struct hmac_key k[2];
	size_t kl, n, an, i, tried = 0;
	int bad = 0, badpair = 0;

	/* Bytes of every value, in no simple order. */
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 167 + (i >> 3) * 29 + 13);
	for (kl = 0; kl < sizeof(keylens) / sizeof(keylens[0]); kl++) {
		for (i = 0; i < keylens[kl]; i++)
			key[i] = (unsigned char)(kl * 31 + i * 89 + 5);
		if (hmac_key_init(&k[0], key, keylens[kl]) != 0 ||
		    hmac_key_init(&k[1], msg, 1 + kl) != 0)
			bad++;
		for (n = 0; n <= 200; n += n < 136 ? 1 : 7)
			for (an = 0; an <= n; an += an < 70 ? 1 : 13) {
				struct hmac_msg m[2] = {
					{ &k[0], msg, msg + an, an, n - an,
					    got[0] },
					{ &k[1], msg + 200, msg + 200 + n / 3,
					    n / 3, 199 - n, got[1] },
				};
				int was = hmac_use_ni(0);

				hmac_sha256(&k[0], m[0].a, m[0].an, m[0].b,
				    m[0].bn, want[0]);
				hmac_sha256(&k[1], m[1].a, m[1].an, m[1].b,
				    m[1].bn, want[1]);
				hmac_use_ni(was);
				hmac_sha256(&k[0], m[0].a, m[0].an, m[0].b,
				    m[0].bn, got[0]);
				bad += memcmp(got[0], want[0], HMAC_LEN) != 0;
				memset(got, 0, sizeof(got));
				hmac_sha256_pair(m);
				badpair += memcmp(got, want, sizeof(got)) != 0;
				tried++;
			}
		hmac_key_free(&k[0]);
		hmac_key_free(&k[1]);
	}
	ok(tried > 5000, "many splits tried");
	is_int(bad, 0, "one message: the same HMAC as OpenSSL's");
	is_int(badpair, 0, "two at once: the same HMACs as OpenSSL's");
}

int
main(void)
{
	unsigned char key[64], big[200];
	struct hmac_key k;
	char hex[2 * HMAC_LEN + 1];
	long n;

	is_int(strlen(kav_body), 230, "the vector's body is 230 bytes");
	n = hmac_hex_decode(kav_key, 64, key, sizeof(key));
	is_int(n, 32, "the key decodes to 32 bytes");
	ok(hmac_key_init(&k, key, 32) == 0, "key schedule");
	hexsig(&k, kav_ts, strlen(kav_ts), kav_body, strlen(kav_body), hex);
	is_str(hex,
	    "e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed",
	    "known-answer vector of CLOSE.md");
	/* The same key schedule gives the same answer twice. */
	hexsig(&k, kav_ts, strlen(kav_ts), kav_body, strlen(kav_body), hex);
	is_str(hex,
	    "e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed",
	    "the key schedule is reusable");
	hexsig(&k, kav_body, strlen(kav_body), kav_ts, strlen(kav_ts), hex);
	is_str(hex,
	    "f127b50b433570aab1426b42f461c95bc6a932d0a76bdb726fc52cfe1b3405db",
	    "body||timestamp order gives the documented wrong answer");
	{
		struct shared a = { &k, 0 }, b = { &k, 0 };
		pthread_t ta, tb;

		ok(pthread_create(&ta, NULL, hash_many, &a) == 0 &&
			pthread_create(&tb, NULL, hash_many, &b) == 0,
		    "two threads started");
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		is_int(a.wrong + b.wrong, 0,
		    "two threads sharing the key: 40000 right answers");
	}
	hmac_key_free(&k);

	ok(hmac_key_init(&k, (const unsigned char *)kav_key, 64) == 0,
	    "ASCII key schedule");
	hexsig(&k, kav_ts, strlen(kav_ts), kav_body, strlen(kav_body), hex);
	is_str(hex,
	    "59913793034b5fd9c60cdc5599ce5461eb6900e7d8517946eafcf18aaf82568e",
	    "the key as ASCII text gives the documented wrong answer");
	hmac_key_free(&k);

	/* RFC 4231 test case 6: a key longer than the block is hashed. */
	memset(big, 0xaa, 131);
	ok(hmac_key_init(&k, big, 131) == 0, "long key schedule");
	hexsig(&k, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	    "", 0, hex);
	is_str(hex,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
	    "RFC 4231 case 6 (key longer than a block)");
	hmac_key_free(&k);

	agree();

	is_int(hmac_hex_decode("0g", 2, key, sizeof(key)), -1,
	    "non-hex digit refused");
	is_int(hmac_hex_decode("abc", 3, key, sizeof(key)), -1,
	    "odd length refused");
	is_int(hmac_hex_decode("ABcd", 4, key, sizeof(key)), 2,
	    "either case decodes");
	ok(key[0] == 0xab && key[1] == 0xcd, "decoded bytes");
	ok(hmac_equal(
	       (const unsigned char *)"abc", (const unsigned char *)"abc", 3),
	    "equal compares equal");
	ok(!hmac_equal(
	       (const unsigned char *)"abc", (const unsigned char *)"abd", 3),
	    "different compares different");
	return tap_done();
}
