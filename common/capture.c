/*
 * capture.c - reading capture records; see capture.h.
 */
#include <string.h>

#include <sodium.h>

#include "capture.h"

int
capture_parse(const char *p, size_t n, struct capture *c, const char **why)
{
	struct json_span v;
	int have_body = 0, have_b64 = 0;
	struct json_span body = { NULL, 0, JSON_NONE }, b64 = body;
	struct json_iter it;
	struct json_span key, val;

	memset(c, 0, sizeof(*c));
	if (json_parse(p, n, &c->root, NULL) != 0) {
		*why = "not valid JSON";
		return -1;
	}
	if (c->root.type != JSON_OBJECT) {
		*why = "not a JSON object";
		return -1;
	}
	/* One pass over the members; the last duplicate wins. */
	c->headers.type = JSON_NONE;
	c->received_at.type = JSON_NONE;
	json_iter_init(&it, c->root);
	while (json_iter_member(&it, &key, &val)) {
		if (json_str_eq(key, "headers", 7))
			c->headers = val;
		else if (json_str_eq(key, "body", 4)) {
			body = val;
			have_body = 1;
		} else if (json_str_eq(key, "received_at", 11)) {
			c->received_at = val;
		} else if (json_str_eq(key, "body_base64", 11)) {
			b64 = val;
			have_b64 = 1;
		}
	}
	if (c->headers.type != JSON_OBJECT) {
		*why = c->headers.type == JSON_NONE ? "missing headers" :
		    "headers is not an object";
		return -1;
	}
	if (have_body && have_b64) {
		*why = "both body and body_base64";
		return -1;
	}
	if (!have_body && !have_b64) {
		*why = "missing body";
		return -1;
	}
	v = have_body ? body : b64;
	if (v.type != JSON_STRING) {
		*why = have_body ? "body is not a string" :
		    "body_base64 is not a string";
		return -1;
	}
	c->body = v;
	c->body_base64 = have_b64;
	return 0;
}

int
capture_header(const struct capture *c, const char *name,
    struct json_span *out)
{
	struct json_iter it, ai;
	struct json_span key, val, first;
	size_t n = strlen(name);
	int found = 0;

	json_iter_init(&it, c->headers);
	while (json_iter_member(&it, &key, &val)) {
		if (!json_str_eq_nocase(key, name, n))
			continue;
		if (val.type == JSON_ARRAY) {
			json_iter_init(&ai, val);
			if (!json_iter_elem(&ai, &first)) {
				found = 0;
				continue;
			}
			val = first;
		}
		if (val.type != JSON_STRING) {
			found = 0;
			continue;
		}
		*out = val;
		found = 1;
	}
	return found;
}

long
capture_body(const struct capture *c, char *buf)
{
	size_t n, bin;
	const char *end;

	n = json_str_unescape(c->body, buf);
	if (!c->body_base64)
		return (long)n;
	/*
	 * Decode in place: base64 output is shorter than its input, and
	 * libsodium reads each input byte before writing the bytes it yields.
	 * Try the padded form first, then the unpadded one.
	 */
	if (sodium_base642bin((unsigned char *)buf, n, buf, n, "\r\n", &bin,
	    &end, sodium_base64_VARIANT_ORIGINAL) == 0 && end == buf + n)
		return (long)bin;
	n = json_str_unescape(c->body, buf);
	if (sodium_base642bin((unsigned char *)buf, n, buf, n, "\r\n", &bin,
	    &end, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
	    end == buf + n)
		return (long)bin;
	return -1;
}
