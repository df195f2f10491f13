/*
 * test-sign.c - outbound signatures of common/sign.c: the Standard Webhooks
 * published vector (v1), an Ed25519 (v1a) round trip, Close's
 * known-answer vector, and refused keys; secrets as the reference
 * libraries take them (no prefix, no padding) within the spec's 24 to 64
 * bytes; a 64-byte whsk_ key whose halves do not match; message ids.
 */
#include <string.h>

#include <sodium.h>

#include "signer.h"
#include "tap.h"

int
main(void)
{
	static const char body[] = "{\"test\": 2432232314}";
	static const char kav_body[] = "{\"event\": {\"id\": \"ev_4YUAT9G7PQNYEX0V7HpiZa\", \"date_created\": \"2019-01-01T13:33:00.842000\", \"data\": {\"object_type\": \"activity.note\", \"action\": \"created\", \"note\": \"test content\"}}, \"subscription_id\": \"whsub_mBTylJxRXaBOXcuQmgUdmL\"}";
	static const char whsec[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	static const char kav_key[] =
	    "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";
	char hdr[3][SIGNER_HDR_MAX], sig[128], sk_text[128];
	unsigned char seed[32], pk[32], sk[64], ed[64];
	struct signer s;
	const char *why;
	size_t edn;
	char msg[256];

	if (sodium_init() < 0)
		return 1;

	/* The Standard Webhooks spec's vector. */
	ok(signer_init(&s, "standard-webhooks", whsec, strlen(whsec), &why) ==
	    0, "whsec_ key loads");
	is_int(s.scheme, SIGNER_SW_V1, "v1 scheme");
	sign_sw_v1(&s.hk, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
	    strlen(body), sig, sizeof(sig));
	is_str(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	    "the published v1 vector");
	is_int(signer_headers(&s, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
	    body, strlen(body), hdr), 3, "three headers");
	is_str(hdr[0], "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-id");
	is_str(hdr[1], "webhook-timestamp: 1614265330", "webhook-timestamp");
	is_str(hdr[2], "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE"
	    "LVlNIOLJ1OE=", "webhook-signature");
	signer_headers(&s, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
	    strlen(body), hdr);
	ok(strcmp(hdr[2], "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZl"
	    "E3uFJELVlNIOLJ1OE=") != 0, "another timestamp, another signature");
	signer_free(&s);

	/* Close's known-answer vector. */
	ok(signer_init(&s, "close", kav_key, strlen(kav_key), &why) == 0,
	    "hex key loads");
	is_int(signer_headers(&s, NULL, 1557751596, kav_body, strlen(kav_body),
	    hdr), 2, "two headers");
	is_str(hdr[0], "close-sig-hash: e6cf27a55de463dc46d8b5c16d2afe74d766e8f0"
	    "c9892422c93573521cd377ed", "close-sig-hash: the CLOSE.md vector");
	is_str(hdr[1], "close-sig-timestamp: 1557751596", "close-sig-timestamp");
	signer_free(&s);

	/* v1a: Ed25519 over "id.timestamp.body", verified independently. */
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(sk_text, "whsk_", 5);
	sodium_bin2base64(sk_text + 5, sizeof(sk_text) - 5, seed, sizeof(seed),
	    sodium_base64_VARIANT_ORIGINAL);
	ok(signer_init(&s, "standard-webhooks", sk_text, strlen(sk_text),
	    &why) == 0, "whsk_ seed loads");
	is_int(s.scheme, SIGNER_SW_V1A, "v1a scheme");
	is_int(signer_headers(&s, "msg_1", 1614265330, body, strlen(body), hdr),
	    3, "three headers");
	ok(strncmp(hdr[2], "webhook-signature: v1a,", 23) == 0, "v1a prefix");
	ok(sodium_base642bin(ed, sizeof(ed), hdr[2] + 23, strlen(hdr[2] + 23),
	    NULL, &edn, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    edn == 64, "a 64-byte signature");
	snprintf(msg, sizeof(msg), "msg_1.1614265330.%s", body);
	ok(crypto_sign_verify_detached(ed, (unsigned char *)msg, strlen(msg),
	    pk) == 0, "the signature verifies with the public key");
	msg[0] = 'n';
	ok(crypto_sign_verify_detached(ed, (unsigned char *)msg, strlen(msg),
	    pk) != 0, "and not for another message");
	signer_free(&s);
	/* A 64-byte secret key gives the same signature. */
	sodium_bin2base64(sk_text + 5, sizeof(sk_text) - 5, sk, sizeof(sk),
	    sodium_base64_VARIANT_ORIGINAL);
	ok(signer_init(&s, "standard-webhooks", sk_text, strlen(sk_text),
	    &why) == 0, "whsk_ 64-byte key loads");
	signer_headers(&s, "msg_1", 1614265330, body, strlen(body), hdr);
	msg[0] = 'm';
	sodium_base642bin(ed, sizeof(ed), hdr[2] + 23, strlen(hdr[2] + 23),
	    NULL, &edn, NULL, sodium_base64_VARIANT_ORIGINAL);
	ok(crypto_sign_verify_detached(ed, (unsigned char *)msg, strlen(msg),
	    pk) == 0, "64-byte key: verifies");
	signer_free(&s);

	/* A 64-byte whsk_ key is seed and public key: they must match. */
	memcpy(sk_text, "whsk_", 5);
	sk[40] ^= 1;
	sodium_bin2base64(sk_text + 5, sizeof(sk_text) - 5, sk, sizeof(sk),
	    sodium_base64_VARIANT_ORIGINAL);
	ok(signer_init(&s, "standard-webhooks", sk_text, strlen(sk_text),
	       &why) != 0,
	    "a whsk_ key whose public half is not its seed's is refused");
	is_str(why,
	    "whsk_ key: its public half is not the one of its seed (a "
	    "damaged or mixed-up key)",
	    "saying why");
	sk[40] ^= 1;

	/* As the reference libraries: no whsec_ prefix, no padding. */
	{
		static const char *const same[] = {
			"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		};
		unsigned char k25[25];
		char padded[64], unpadded[64], sig2[128];
		size_t i;

		for (i = 0; i < 2; i++) {
			ok(signer_init(&s, "standard-webhooks", same[i],
			       strlen(same[i]), &why) == 0,
			    "%s loads", same[i]);
			sign_sw_v1(&s.hk, "msg_p5jXN8AQM9LWM0D4loKWxJek",
			    "1614265330", body, strlen(body), sig, sizeof(sig));
			is_str(sig,
			    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
			    "and signs the published vector");
			signer_free(&s);
		}
		randombytes_buf(k25, sizeof(k25));
		memcpy(padded, "whsec_", 6);
		sodium_bin2base64(padded + 6, sizeof(padded) - 6, k25,
		    sizeof(k25), sodium_base64_VARIANT_ORIGINAL);
		ok(strchr(padded, '=') != NULL, "25 bytes need padding");
		memcpy(unpadded, padded, sizeof(padded));
		*strchr(unpadded, '=') = '\0';
		ok(signer_init(&s, "standard-webhooks", padded, strlen(padded),
		       &why) == 0,
		    "a padded secret loads");
		sign_sw_v1(&s.hk, "msg_1", "1614265330", body, strlen(body),
		    sig, sizeof(sig));
		signer_free(&s);
		ok(signer_init(&s, "standard-webhooks", unpadded,
		       strlen(unpadded), &why) == 0,
		    "the same secret without its padding loads");
		sign_sw_v1(&s.hk, "msg_1", "1614265330", body, strlen(body),
		    sig2, sizeof(sig2));
		signer_free(&s);
		is_str(sig2, sig, "and is the same secret");
	}

	/* The spec's sizes: 24 to 64 bytes. */
	{
		unsigned char k[65];
		char text[128];
		static const size_t sizes[] = { 23, 24, 64, 65 };
		size_t i;

		randombytes_buf(k, sizeof(k));
		for (i = 0; i < 4; i++) {
			memcpy(text, "whsec_", 6);
			sodium_bin2base64(text + 6, sizeof(text) - 6, k,
			    sizes[i], sodium_base64_VARIANT_ORIGINAL);
			is_int(signer_init(&s, "standard-webhooks", text,
				   strlen(text), &why),
			    sizes[i] >= 24 && sizes[i] <= 64 ? 0 : -1,
			    "a secret of %zu bytes is %s", sizes[i],
			    sizes[i] >= 24 && sizes[i] <= 64 ? "taken"
							     : "refused");
			signer_free(&s);
		}
	}

	/* Message ids: no '.', printable ASCII, at most SIGNER_ID_MAX. */
	{
		char id[SIGNER_ID_MAX + 2];

		ok(sign_id_ok("msg_p5jXN8AQM9LWM0D4loKWxJek", 28),
		    "a msg_ id is an id");
		ok(sign_id_ok("close-won-oppo_x:2019-01-15T12", 30),
		    "so is a key with '-', '_' and ':'");
		ok(!sign_id_ok("ev_1.2019", 9), "a '.' is not allowed");
		ok(!sign_id_ok("a b", 3), "nor a space");
		ok(!sign_id_ok("caf\xc3\xa9", 5), "nor a byte past ASCII");
		ok(!sign_id_ok("", 0), "an id is not empty");
		memset(id, 'a', sizeof(id));
		ok(sign_id_ok(id, SIGNER_ID_MAX), "%d bytes are an id",
		    SIGNER_ID_MAX);
		ok(!sign_id_ok(id, SIGNER_ID_MAX + 1), "%d are not",
		    SIGNER_ID_MAX + 1);
	}

	/* Refused keys. */
	ok(signer_init(&s, "standard-webhooks", "whsec_!!", 8, &why) != 0,
	    "bad base64 refused");
	ok(signer_init(&s, "standard-webhooks", "whsec_AAAA", 10, &why) != 0,
	    "too short refused");
	ok(signer_init(&s, "standard-webhooks", "whsk_AAAA", 9, &why) != 0,
	    "short whsk_ refused");
	ok(signer_init(&s, "standard-webhooks", kav_key, strlen(kav_key),
	    &why) != 0, "hex for standard-webhooks refused");
	ok(signer_init(&s, "standard-webhooks", "whsec_", 6, &why) != 0,
	    "an empty secret refused");
	ok(signer_init(&s, "standard-webhooks", "MfKQ9r8G KYqrTw", 15, &why) !=
	    0, "text that is not base64 refused");
	ok(signer_init(&s, "close", "zz", 2, &why) != 0, "bad hex refused");
	ok(signer_init(&s, "close", whsec, strlen(whsec), &why) != 0,
	    "whsec_ for close refused");
	ok(signer_init(&s, "hmac", kav_key, strlen(kav_key), &why) != 0,
	    "unknown scheme refused");
	return tap_done();
}
