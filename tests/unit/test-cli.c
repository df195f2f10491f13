/*
 * test-cli.c - strict number, size and duration parsing.
 */
#include <stdint.h>

#include "cli.h"
#include "tap.h"

int
main(void)
{
	int64_t i, ms;
	uint64_t u;

	is_int(cli_int("42", 0, 100, &i), 0, "integer parses");
	is_int(i, 42, "integer value");
	is_int(cli_int("-5", -10, 10, &i), 0, "negative integer parses");
	is_int(i, -5, "negative value");
	is_int(cli_int("101", 0, 100, &i), -1, "above the range is refused");
	is_int(cli_int("12x", 0, 100, &i), -1, "trailing garbage is refused");
	is_int(cli_int("", 0, 100, &i), -1, "empty is refused");
	is_int(cli_int(" 1", 0, 100, &i), -1, "leading space is refused");
	is_int(cli_int("99999999999999999999", 0, INT64_MAX, &i), -1,
	    "overflow is refused");

	is_int(cli_size("16M", 1, UINT64_MAX, &u), 0, "16M parses");
	is_int(u, 16 * 1024 * 1024, "16M is 16 MiB");
	is_int(cli_size("4KiB", 1, UINT64_MAX, &u), 0, "4KiB parses");
	is_int(u, 4096, "4KiB value");
	is_int(cli_size("1G", 1, UINT64_MAX, &u), 0, "1G parses");
	is_int(u, 1024LL * 1024 * 1024, "1G value");
	is_int(cli_size("1T", 1, UINT64_MAX, &u), -1, "unknown suffix refused");
	is_int(cli_size("-1", 0, UINT64_MAX, &u), -1, "negative size refused");
	is_int(cli_size("0", 1, 10, &u), -1, "size below the minimum refused");

	is_int(cli_duration("30s", 0, INT64_MAX, &ms), 0, "30s parses");
	is_int(ms, 30000, "30s in ms");
	is_int(cli_duration("5m", 0, INT64_MAX, &ms), 0, "5m parses");
	is_int(ms, 300000, "5m in ms");
	is_int(cli_duration("12h", 0, INT64_MAX, &ms), 0, "12h parses");
	is_int(ms, 12LL * 3600 * 1000, "12h in ms");
	is_int(cli_duration("35d", 0, INT64_MAX, &ms), 0, "35d parses");
	is_int(ms, 35LL * 86400 * 1000, "35d in ms");
	is_int(cli_duration("500ms", 0, INT64_MAX, &ms), 0, "500ms parses");
	is_int(ms, 500, "500ms value");
	is_int(cli_duration("1.5h", 0, INT64_MAX, &ms), 0, "1.5h parses");
	is_int(ms, 5400000, "1.5h in ms");
	is_int(cli_duration("90", 0, INT64_MAX, &ms), 0, "bare number parses");
	is_int(ms, 90000, "bare number is seconds");
	is_int(cli_duration("5x", 0, INT64_MAX, &ms), -1, "bad unit refused");
	is_int(cli_duration("-5s", 0, INT64_MAX, &ms), -1,
	    "negative duration refused");
	is_int(cli_duration("nan", 0, INT64_MAX, &ms), -1, "nan refused");
	is_int(cli_duration("1e300d", 0, INT64_MAX, &ms), -1,
	    "huge duration refused");
	is_int(cli_duration("2s", 0, 1000, &ms), -1, "above the maximum refused");
	return tap_done();
}
