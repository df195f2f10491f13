/*
 * closeevents.h - Close's webhook event types and their actions, as its
 * "List of Event Types" (developer.close.com, Events & Webhooks) documents
 * them: the one table that closehook-subscribe checks --event against and
 * closehook-trigger makes sample events for.
 *
 * Close accepts a misspelt event and the subscription never fires, so the
 * programs take these names and nothing else.  The man pages of both
 * programs and their bash, zsh and fish completions list the same names;
 * tests/t0020-docs.t compares them with what the programs print for an
 * unknown event.
 *
 * The table is static data; nothing here allocates.
 */
#ifndef CLOSEHOOK_CLOSEEVENTS_H
#define CLOSEHOOK_CLOSEEVENTS_H

#include <stddef.h>
#include <stdnoreturn.h>

struct closeevents_type {
	const char *type; /* object_type, e.g. "activity.email" */
	const char *actions; /* separated by one space */
};

extern const struct closeevents_type closeevents[];
extern const size_t closeevents_n;

/* The index of object type type[0..n) in closeevents[], or -1. */
long closeevents_find(const char *type, size_t n);
/* 1 when action[0..n) is one of closeevents[i]'s actions, else 0. */
int closeevents_has(size_t i, const char *action, size_t n);

/*
 * Check TYPE:ACTION.  An event Close does not know is exit 2 with the
 * valid names on stderr: its type's when the type is known, else all of
 * them, one object type a line ("  TYPE:ACTION TYPE:ACTION ...").
 */
void closeevents_check(const char *type, const char *action);
/*
 * The message and list of closeevents_check for an unknown event; action
 * NULL: the name had no colon (lead.created is asked about as
 * lead:created, a type alone lists its events).
 */
noreturn void closeevents_unknown(const char *type, const char *action);

#endif
