/*
 * closegen.h - realistic sample Close webhook events, the same for the
 * same seed.
 *
 * A generator is one organisation (its id, users, lead and opportunity
 * statuses, custom fields, API keys) and a clock.  Each call makes the
 * payload of one event of an object type of the closeevents table with
 * one of its actions, as Close would send it: Close's id prefixes and
 * shapes, its event-level and object-level date formats, meta, user and
 * request ids, and per object type the fields the API returns for it.
 * Events act on the same objects across calls: the object an update or a
 * delete acts on is the last one of its type made or changed by an
 * earlier call, unless there is none or it cannot take the action (a step
 * of a lifecycle such as sent or completed is taken once, only a draft
 * going out is sent); then it is one made before the stream began.
 * Contacts, opportunities, tasks and activities belong to the last lead.
 * An update-like action carries changed_fields (sorted) and previous_data
 * holding the old value of each changed field, each different from the
 * new one; date_updated is among them.  A delete carries previous_data,
 * the whole object, and null data.
 *
 * Every random choice comes from one xoshiro256** stream seeded from the
 * seed, and time from the clock given at start, so a seed and a start
 * time make the same events byte for byte on any machine.
 *
 * The generator owns the objects it remembers; closegen_free() releases
 * them.  Each payload returned is the caller's (jt_free).
 */
#ifndef CLOSEHOOK_CLOSEGEN_H
#define CLOSEHOOK_CLOSEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "jtree.h"

struct closegen;

/* A generator whose clock starts at start_ms (Unix milliseconds). */
struct closegen *closegen_new(uint64_t seed, int64_t start_ms);
void closegen_free(struct closegen *);

/* The next number of the generator's random stream. */
uint64_t closegen_rand(struct closegen *);
/*
 * An id as Close makes them: prefix followed by n characters of
 * [0-9A-Za-z], into out (room for strlen(prefix) + n + 1 bytes).
 */
void closegen_id(struct closegen *, const char *prefix, size_t n, char *out);

/*
 * The payload {"event": ..., "subscription_id": sub} of one event of
 * closeevents[type] with action (one of that type's actions).  The clock
 * moves on by a few seconds first; *t_ms is set to the event's time.
 */
struct jt *closegen_event(struct closegen *, size_t type, const char *action,
    const char *sub, int64_t *t_ms);

/*
 * The kind of change an action is: created and activated make a new
 * object, deleted and deactivated remove one (data null, previous_data
 * the object), every other action changes one (changed_fields and
 * previous_data).
 */
enum closegen_kind {
	CLOSEGEN_CREATE,
	CLOSEGEN_UPDATE,
	CLOSEGEN_DELETE
};
enum closegen_kind closegen_kind(const char *action);

#endif
