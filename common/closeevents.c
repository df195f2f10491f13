/*
 * closeevents.c - Close's event types and actions; see closeevents.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "closeevents.h"

const struct closeevents_type closeevents[] = {
	{ "lead", "created updated deleted merged" },
	{ "contact", "created updated deleted" },
	{ "opportunity", "created updated deleted" },
	{ "task.lead", "created updated deleted completed" },
	{ "task.incoming_email", "created updated deleted completed" },
	{ "task.email_followup", "created updated deleted completed" },
	{ "task.missed_call", "created updated deleted completed" },
	{ "task.answered_detached_call", "created updated deleted completed" },
	{ "task.voicemail", "created updated deleted completed" },
	{ "task.opportunity_due", "created updated deleted completed" },
	{ "task.incoming_sms", "created updated deleted completed" },
	{ "activity.email", "created updated deleted sent" },
	{ "activity.email_thread", "created updated deleted" },
	{ "activity.call", "created updated deleted answered completed" },
	{ "activity.sms", "created updated deleted sent" },
	{ "activity.whatsapp_message", "created updated deleted" },
	{ "activity.note", "created updated deleted" },
	{ "activity.meeting",
	    "created updated deleted scheduled started completed canceled" },
	{ "activity.form_submission", "created updated deleted" },
	{ "activity.lead_status_change", "created updated deleted" },
	{ "activity.opportunity_status_change", "created updated deleted" },
	{ "activity.task_completed", "created deleted" },
	{ "activity.custom_activity", "created updated deleted" },
	{ "unsubscribed_email", "created deleted" },
	{ "import", "created updated completed reverting reverted" },
	{ "export.lead", "created updated completed" },
	{ "export.opportunity", "created updated completed" },
	{ "bulk_action.delete", "created updated completed paused" },
	{ "bulk_action.edit", "created updated completed paused" },
	{ "bulk_action.email", "created updated completed paused" },
	{ "bulk_action.sequence_subscription",
	    "created updated completed paused" },
	{ "custom_fields.lead", "created updated deleted" },
	{ "custom_fields.contact", "created updated deleted" },
	{ "custom_fields.opportunity", "created updated deleted" },
	{ "custom_fields.activity", "created updated deleted" },
	{ "custom_fields.custom_object", "created updated deleted" },
	{ "custom_fields.shared", "created updated deleted" },
	{ "custom_activity_type", "created updated deleted" },
	{ "custom_object_type", "created updated deleted" },
	{ "custom_object", "created updated deleted" },
	{ "status.lead", "created updated deleted" },
	{ "status.opportunity", "created updated deleted" },
	{ "membership", "activated deactivated" },
	{ "group", "created updated deleted" },
	{ "saved_search", "created updated deleted" },
	{ "phone_number", "created updated deleted" },
	{ "email_template", "created updated deleted" },
	{ "sms_template", "created updated deleted" },
	{ "sequence", "created updated deleted" },
	{ "sequence_subscription", "created updated deleted" },
	{ "comment", "created updated deleted" },
	{ "comment_thread", "created updated deleted" },
	{ "lead_merge", "created updated deleted" },
};
const size_t closeevents_n = sizeof(closeevents) / sizeof(closeevents[0]);

long
closeevents_find(const char *type, size_t n)
{
	size_t i;

	for (i = 0; i < closeevents_n; i++)
		if (strlen(closeevents[i].type) == n &&
		    memcmp(closeevents[i].type, type, n) == 0)
			return (long)i;
	return -1;
}

int
closeevents_has(size_t i, const char *action, size_t n)
{
	const char *a, *sp;
	size_t len;

	for (a = closeevents[i].actions;; a = sp + 1) {
		sp = strchr(a, ' ');
		len = sp != NULL ? (size_t)(sp - a) : strlen(a);
		if (len == n && memcmp(a, action, n) == 0)
			return 1;
		if (sp == NULL)
			return 0;
	}
}

/* One line of "  TYPE:ACTION TYPE:ACTION ..." for closeevents[i]. */
static void
print_events(size_t i)
{
	const char *a = closeevents[i].actions, *sp;

	fputs(" ", stderr);
	for (;;) {
		sp = strchr(a, ' ');
		fprintf(stderr, " %s:%.*s", closeevents[i].type,
		    (int)(sp != NULL ? (size_t)(sp - a) : strlen(a)), a);
		if (sp == NULL)
			break;
		a = sp + 1;
	}
	fputs("\n", stderr);
}

/* src in lower case into dst (cap bytes, cut short if need be). */
static void
lower(char *dst, size_t cap, const char *src)
{
	size_t k;

	snprintf(dst, cap, "%s", src);
	for (k = 0; dst[k] != '\0'; k++)
		dst[k] = (char)tolower((unsigned char)dst[k]);
}

noreturn void
closeevents_unknown(const char *type, const char *action)
{
	long i = closeevents_find(type, strlen(type));
	const char *dot;
	size_t j;

	if (action == NULL) {
		/* No colon: lead.created, or a type alone. */
		dot = strrchr(type, '.');
		if (dot != NULL &&
		    (i = closeevents_find(type, (size_t)(dot - type))) >= 0 &&
		    closeevents_has((size_t)i, dot + 1, strlen(dot + 1)))
			cli_fatalx("unknown event %.40s: did you mean "
				   "%.*s:%s?",
			    type, (int)(dot - type), type, dot + 1);
		if (i >= 0) {
			cli_warnx("%.40s: an event is OBJECT_TYPE:ACTION; "
				  "%s's events are:",
			    type, closeevents[i].type);
			print_events((size_t)i);
			exit(CLI_EXIT_FATAL);
		}
		cli_fatalx("unknown event %.40s: an event is "
			   "OBJECT_TYPE:ACTION, such as lead:created "
			   "(closehook-trigger(1) lists them)",
		    type);
	}
	{
		/* LEAD:Created: the name meant, in Close's lower case. */
		char lt[64], la[64];
		long li;

		lower(lt, sizeof(lt), type);
		lower(la, sizeof(la), action);
		if ((li = closeevents_find(lt, strlen(lt))) >= 0 &&
		    closeevents_has((size_t)li, la, strlen(la)))
			cli_fatalx("unknown event %.40s:%.40s: did you mean "
				   "%s:%s?",
			    type, action, lt, la);
		if (*type == '\0')
			cli_fatalx("unknown event :%.40s: an event is "
				   "OBJECT_TYPE:ACTION, such as lead:created",
			    action);
	}
	if (i >= 0) {
		cli_warnx("unknown event %.40s:%.40s; %s's events are:", type,
		    action, closeevents[i].type);
		print_events((size_t)i);
		exit(CLI_EXIT_FATAL);
	}
	cli_warnx(
	    "unknown event %.40s:%.40s; Close's events are:", type, action);
	for (j = 0; j < closeevents_n; j++)
		print_events(j);
	exit(CLI_EXIT_FATAL);
}

void
closeevents_check(const char *type, const char *action)
{
	long i = closeevents_find(type, strlen(type));

	if (i < 0 || !closeevents_has((size_t)i, action, strlen(action)))
		closeevents_unknown(type, action);
}
