# fish completion for closehook-follow(1)

complete -c closehook-follow -l offset-file -r -F -d 'Where this consumer\'s offset is kept'
complete -c closehook-follow -l from -x -a 'start end' -d 'Where a new offset file starts'
complete -c closehook-follow -l rewind -x -d 'Start this long before the position, by received_at'
complete -c closehook-follow -l commit-when -x -a 'acked written' -d 'What the offset file records'
complete -c closehook-follow -l commit -r -F -d 'At a pipeline\'s end: commit the positions its marks name'
complete -c closehook-follow -l commit-interval -x -d 'Commit the offset at most this often (default 1s)'
complete -c closehook-follow -l metrics -r -F -d 'Keep Prometheus metrics in FILE'
complete -c closehook-follow -l once -d 'Stop at the current end of the file'
complete -c closehook-follow -s q -l quiet -d 'No notes about rotation or overrides'
complete -c closehook-follow -s h -l help -d 'Show help'
complete -c closehook-follow -l version -d 'Show the version'
