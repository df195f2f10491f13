# fish completion for closehook-verify(1)

complete -c closehook-verify -l secret-file -r -F -d 'Key file: HEXKEY or SUBSCRIPTION_ID HEXKEY per line'
complete -c closehook-verify -l max-age -x -d 'Replay window around now in seconds (0: off)'
complete -c closehook-verify -l now -x -d 'The time to check timestamps against'
complete -c closehook-verify -l rejects -r -F -d 'Append each reject as an NDJSON line'
complete -c closehook-verify -l metrics -r -F -d 'Keep Prometheus metrics in FILE'
complete -c closehook-verify -l max-line -x -d 'Longest capture line (default 16M)'
complete -c closehook-verify -l fail-fast -d 'Stop at the first reject'
complete -c closehook-verify -l timestamp -x -d 'Raw mode: the close-sig-timestamp header'
complete -c closehook-verify -l signature -x -d 'Raw mode: the close-sig-hash header'
complete -c closehook-verify -s q -l quiet -d 'No stderr line per reject'
complete -c closehook-verify -s h -l help -d 'Show help'
complete -c closehook-verify -l version -d 'Show the version'
