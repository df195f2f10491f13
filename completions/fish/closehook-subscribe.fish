# fish completion for closehook-subscribe(1)

set -l cmds list create pause resume delete check
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
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l event -x -a 'lead:created lead:updated lead:deleted lead:merged contact:created contact:updated contact:deleted opportunity:created opportunity:updated opportunity:deleted task.lead:created task.lead:updated task.lead:completed activity.call:created activity.call:completed activity.email:created activity.email:sent activity.sms:created activity.sms:sent activity.note:created activity.meeting:scheduled activity.meeting:completed activity.lead_status_change:created activity.opportunity_status_change:created' -d 'create: OBJECT_TYPE:ACTION (repeatable)'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l filter-file -r -F -d 'create: extra_filter JSON'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l no-verify-ssl -d 'create: Close does not check the certificate'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list pause resume delete check" -l key-out -r -F -d 'create: append whsub_ID HEXKEY to FILE'
complete -c closehook-subscribe -n "not __fish_seen_subcommand_from list create pause resume delete" -l metrics -r -F -d 'check: Prometheus gauges written to FILE'
complete -c closehook-subscribe -s h -l help -d 'Show help'
complete -c closehook-subscribe -l version -d 'Show the version'
