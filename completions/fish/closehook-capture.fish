# fish completion for closehook-capture(1)

complete -c closehook-capture -l http -d 'Raw HTTP/1.1 requests (nc -l, a proxy, tcpflow)'
complete -c closehook-capture -l har -d 'The POST entries of HAR archives'
complete -c closehook-capture -l body -d 'One body file, headers given with -H'
complete -c closehook-capture -l json -d 'Captures printed over several lines, compacted'
complete -c closehook-capture -s H -l header -x -a "'close-sig-hash: ' 'close-sig-timestamp: '" -d 'With --body: a header, Name: value'
complete -c closehook-capture -l received-at -x -d 'received_at: ISO 8601 or Unix seconds'
complete -c closehook-capture -l max-input -x -d 'Largest file, or request with --http (default 64M)'
complete -c closehook-capture -s h -l help -d 'Show help'
complete -c closehook-capture -l version -d 'Show the version'
