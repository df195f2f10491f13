/*
 * test-isotime.c - Close's date-time forms to Unix seconds and back.
 */
#include <string.h>

#include "isotime.h"
#include "tap.h"

static int64_t
secs(const char *s)
{
	struct isotime t;

	if (isotime_parse(s, strlen(s), &t) != 0)
		return -1;
	return t.sec;
}

static void
utc_is(const char *in, const char *want)
{
	struct isotime t;
	char buf[64];

	if (isotime_parse(in, strlen(in), &t) != 0) {
		ok(0, "%s parses", in);
		return;
	}
	isotime_format_utc(&t, buf);
	is_str(buf, want, "%s in UTC", in);
}

int
main(void)
{
	struct isotime t;

	is_int(secs("1970-01-01T00:00:00Z"), 0, "the epoch");
	is_int(secs("2019-01-15T12:48:23.395000"), 1547556503,
	    "an offset-less Close event date is UTC");
	is_int(secs("2019-01-15T12:41:24.496000+00:00"), 1547556084,
	    "a data date with +00:00");
	is_int(secs("2019-01-15T14:41:24+02:00"), 1547556084,
	    "a positive offset is subtracted");
	is_int(secs("2019-01-15T07:41:24-0500"), 1547556084,
	    "a negative offset without colon");
	is_int(secs("2019-01-15T17:41:24+05"), 1547556084, "an hour-only offset");
	is_int(secs("2019-01-15 12:41:24Z"), 1547556084, "a space separator");
	is_int(secs("2019-01-15T12:41Z"), 1547556060, "minutes precision");
	is_int(secs("2000-02-29T00:00:00Z"), 951782400, "a leap day");
	is_int(secs("1969-12-31T23:59:58Z"), -2, "before the epoch");
	is_int(secs("2001-02-29T00:00:00Z"), -1, "no 29 February in 2001");
	is_int(secs("2019-13-01T00:00:00Z"), -1, "month 13 refused");
	is_int(secs("2019-01-15T24:00:00Z"), -1, "hour 24 refused");
	is_int(secs("2019-01-15"), -1, "a date alone is not a date-time");
	is_int(secs("2019-01-15T12:41:24.Z"), -1, "an empty fraction refused");
	is_int(secs("2019-01-15T12:41:24+0"), -1, "a short offset refused");
	is_int(secs("2019-01-15T12:41:24Zjunk"), -1, "trailing text refused");
	is_int(secs("not a date at all"), -1, "text refused");
	ok(isotime_parse("2019-01-15T12:48:23.395000", 26, &t) == 0 &&
	    t.nsec == 395000000 && t.fracn == 6, "the fraction is kept");
	ok(isotime_is_date("2019-01-15", 10), "a date-only value");
	ok(!isotime_is_date("2019-02-30", 10), "an invalid date is not a date");
	ok(!isotime_is_date("2019-01-15T00:00", 16), "a date-time is not a date");

	utc_is("2019-01-15T12:48:23.395000", "2019-01-15T12:48:23.395000Z");
	utc_is("2019-01-15T14:41:24.4960+02:00", "2019-01-15T12:41:24.4960Z");
	utc_is("2019-01-01T00:30:00+01:00", "2018-12-31T23:30:00Z");
	utc_is("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z");
	utc_is("2024-02-29T23:00:00-02:00", "2024-03-01T01:00:00Z");

	/* Times on the command line: Unix seconds or a date-time. */
	ok(isotime_parse_arg("1547556084", &t) == 0 && t.sec == 1547556084 &&
		t.nsec == 0 && t.fracn == 0,
	    "arg: Unix seconds");
	ok(isotime_parse_arg("1547556084.25", &t) == 0 &&
		t.sec == 1547556084 && t.nsec == 250000000 && t.fracn == 2,
	    "arg: Unix seconds with a fraction");
	ok(isotime_parse_arg("2019-01-15T12:41:24Z", &t) == 0 &&
		t.sec == 1547556084,
	    "arg: a date-time");
	ok(isotime_parse_arg("0", &t) == 0 && t.sec == 0, "arg: the epoch");
	ok(isotime_parse_arg("253402300799", &t) == 0,
	    "arg: the last second of 9999");
	ok(isotime_parse_arg("253402300800", &t) != 0, "arg: past 9999 refused");
	ok(isotime_parse_arg("99999999999999999999999", &t) != 0,
	    "arg: an overflow refused");
	ok(isotime_parse_arg("1969-12-31T23:59:58Z", &t) != 0,
	    "arg: before the epoch refused");
	ok(isotime_parse_arg("12s", &t) != 0, "arg: a duration refused");
	ok(isotime_parse_arg("", &t) != 0, "arg: empty refused");
	return tap_done();
}
