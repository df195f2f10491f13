# fish completion for closehook-receive(1)

complete -c closehook-receive -f
complete -c closehook-receive -s l -l listen -x -a '127.0.0.1:8080 [::1]:8080 0.0.0.0:8080 [::]:8080' -d 'Address to listen on (default 127.0.0.1:8080)'
complete -c closehook-receive -l path -x -d 'The path Close posts to (default /)'
complete -c closehook-receive -l spool -r -F -d 'Append each capture and fdatasync before the 2xx'
complete -c closehook-receive -l secret-file -r -F -d 'Verify at the door with these keys'
complete -c closehook-receive -l max-age -x -d 'Replay window with keys in seconds (0: off)'
complete -c closehook-receive -l keep-rejects -r -F -d 'Append each 401 request as an NDJSON line'
complete -c closehook-receive -l max-body -x -d 'Largest body accepted (default 16M)'
complete -c closehook-receive -l max-connections -x -d 'Connections at once (default 512)'
complete -c closehook-receive -l max-connections-per-ip -x -d 'Connections from one address (default 64; 0: no cap)'
complete -c closehook-receive -l timeout -x -d 'Idle limit per connection in seconds (default 10)'
complete -c closehook-receive -l header-timeout -x -d 'Request line and headers within this (default 5s)'
complete -c closehook-receive -l tls-cert -r -F -d 'Serve HTTPS with this PEM certificate chain'
complete -c closehook-receive -l tls-key -r -F -d 'The PEM private key of --tls-cert'
complete -c closehook-receive -s q -l quiet -d 'No stderr line per rejected request'
complete -c closehook-receive -s h -l help -d 'Show help'
complete -c closehook-receive -l version -d 'Show the version'
