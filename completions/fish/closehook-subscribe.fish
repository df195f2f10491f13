# fish completion for closehook-subscribe(1)

set -l cmds list create pause resume delete check
# Close's events, as closehook-subscribe checks them.
set -l events \
    lead:created lead:updated lead:deleted lead:merged contact:created \
    contact:updated contact:deleted opportunity:created opportunity:updated \
    opportunity:deleted task.lead:created task.lead:updated task.lead:deleted \
    task.lead:completed task.incoming_email:created \
    task.incoming_email:updated task.incoming_email:deleted \
    task.incoming_email:completed task.email_followup:created \
    task.email_followup:updated task.email_followup:deleted \
    task.email_followup:completed task.missed_call:created \
    task.missed_call:updated task.missed_call:deleted \
    task.missed_call:completed task.answered_detached_call:created \
    task.answered_detached_call:updated task.answered_detached_call:deleted \
    task.answered_detached_call:completed task.voicemail:created \
    task.voicemail:updated task.voicemail:deleted task.voicemail:completed \
    task.opportunity_due:created task.opportunity_due:updated \
    task.opportunity_due:deleted task.opportunity_due:completed \
    task.incoming_sms:created task.incoming_sms:updated \
    task.incoming_sms:deleted task.incoming_sms:completed \
    activity.email:created activity.email:updated activity.email:deleted \
    activity.email:sent activity.email_thread:created \
    activity.email_thread:updated activity.email_thread:deleted \
    activity.call:created activity.call:updated activity.call:deleted \
    activity.call:answered activity.call:completed activity.sms:created \
    activity.sms:updated activity.sms:deleted activity.sms:sent \
    activity.whatsapp_message:created activity.whatsapp_message:updated \
    activity.whatsapp_message:deleted activity.note:created \
    activity.note:updated activity.note:deleted activity.meeting:created \
    activity.meeting:updated activity.meeting:deleted \
    activity.meeting:scheduled activity.meeting:started \
    activity.meeting:completed activity.meeting:canceled \
    activity.form_submission:created activity.form_submission:updated \
    activity.form_submission:deleted activity.lead_status_change:created \
    activity.lead_status_change:updated activity.lead_status_change:deleted \
    activity.opportunity_status_change:created \
    activity.opportunity_status_change:updated \
    activity.opportunity_status_change:deleted \
    activity.task_completed:created activity.task_completed:deleted \
    activity.custom_activity:created activity.custom_activity:updated \
    activity.custom_activity:deleted unsubscribed_email:created \
    unsubscribed_email:deleted import:created import:updated import:completed \
    import:reverting import:reverted export.lead:created export.lead:updated \
    export.lead:completed export.opportunity:created \
    export.opportunity:updated export.opportunity:completed \
    bulk_action.delete:created bulk_action.delete:updated \
    bulk_action.delete:completed bulk_action.delete:paused \
    bulk_action.edit:created bulk_action.edit:updated \
    bulk_action.edit:completed bulk_action.edit:paused \
    bulk_action.email:created bulk_action.email:updated \
    bulk_action.email:completed bulk_action.email:paused \
    bulk_action.sequence_subscription:created \
    bulk_action.sequence_subscription:updated \
    bulk_action.sequence_subscription:completed \
    bulk_action.sequence_subscription:paused custom_fields.lead:created \
    custom_fields.lead:updated custom_fields.lead:deleted \
    custom_fields.contact:created custom_fields.contact:updated \
    custom_fields.contact:deleted custom_fields.opportunity:created \
    custom_fields.opportunity:updated custom_fields.opportunity:deleted \
    custom_fields.activity:created custom_fields.activity:updated \
    custom_fields.activity:deleted custom_fields.custom_object:created \
    custom_fields.custom_object:updated custom_fields.custom_object:deleted \
    custom_fields.shared:created custom_fields.shared:updated \
    custom_fields.shared:deleted custom_activity_type:created \
    custom_activity_type:updated custom_activity_type:deleted \
    custom_object_type:created custom_object_type:updated \
    custom_object_type:deleted custom_object:created custom_object:updated \
    custom_object:deleted status.lead:created status.lead:updated \
    status.lead:deleted status.opportunity:created status.opportunity:updated \
    status.opportunity:deleted membership:activated membership:deactivated \
    group:created group:updated group:deleted saved_search:created \
    saved_search:updated saved_search:deleted phone_number:created \
    phone_number:updated phone_number:deleted email_template:created \
    email_template:updated email_template:deleted sms_template:created \
    sms_template:updated sms_template:deleted sequence:created \
    sequence:updated sequence:deleted sequence_subscription:created \
    sequence_subscription:updated sequence_subscription:deleted \
    comment:created comment:updated comment:deleted comment_thread:created \
    comment_thread:updated comment_thread:deleted lead_merge:created \
    lead_merge:updated lead_merge:deleted
complete -c closehook-subscribe -f
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from $cmds" -a list -d 'One JSON line per subscription'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from $cmds" -a create -d 'Subscribe a URL to events, keeping the signing key'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from $cmds" -a pause -d 'Pause a subscription'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from $cmds" -a resume -d 'Resume a subscription'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from $cmds" -a delete -d 'Delete a subscription'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from $cmds" -a check -d 'Exit 1 when a subscription is paused'

complete -c closehook-subscribe -l api-url -x -d 'API base URL'
complete -c closehook-subscribe -l api-key-file -r -F -d 'Read the API key from FILE'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from check" -s n -l dry-run -d 'Print the request, send nothing'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l url -x -d 'create: where Close POSTs the events'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l event -x -a "$events" -d 'create: OBJECT_TYPE:ACTION (repeatable)'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l filter-file -r -F -d 'create: extra_filter JSON'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l no-verify-ssl -d 'create: Close does not check the certificate'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l key-out -r -F -d 'create: append whsub_ID HEXKEY to FILE'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list create pause resume delete" -l metrics -r -F -d 'check: Prometheus gauges written to FILE'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list create pause resume delete" -l secret-file -r -F -d 'check: name the subscriptions no key of FILE applies to'
complete -c closehook-subscribe -s h -l help -d 'Show help'
complete -c closehook-subscribe -l version -d 'Show the version'
