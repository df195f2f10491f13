#!/bin/bash
# shellcheck disable=SC2154,SC2016 # run sets rc, out, err; $1 in bash -c
# A secret given where the path of a file holding it belongs (a user who
# passes the key itself to --secret-file) is never echoed in the error:
# every secret-file option of every program names its value through one
# helper, which shows a path as it is and replaces a value that looks like
# a secret with the option's name.  Each program exits 2 before reading
# any input.
. "$(dirname "$0")/lib.sh"

hexkey=$KAV_KEY
whsec=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
apikey=api_3sYTxQ5mK2aQ9.4fHj8KqLmN0pR2
token=Zk9vYmFyQmF6UXV4MTIzNDU2Nzg5MGFiY2RlZgXy
slack=https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX
: >"$TMP/in"

# hidden DESCRIPTION SECRET OPTION CMD...: CMD exits 2, its message does
# not hold SECRET (nor its first 12 characters) and names OPTION.
hidden() {
	local desc=$1 secret=$2 opt=$3
	shift 3
	run timeout "$(slow 20)" "$@" <"$TMP/in"
	is "$rc" 2 "$desc: exit 2"
	# shellcheck disable=SC2016 # expanded by the inner shell
	ok "$desc: the value is not echoed" \
	    bash -c '! grep -qF -- "$1" "$2"' sh "${secret:0:12}" "$TMP/err"
	like "$err" "*$opt (its value looks like a secret, not the path of a file holding one: not shown): No such file or directory*" \
	    "$desc: the message names the option instead"
}

hidden "verify --secret-file HEXKEY" "$hexkey" --secret-file \
    closehook-verify --secret-file "$hexkey"
# shellcheck disable=SC2016 # expanded by the inner shell
hidden "verify with \$CLOSEHOOK_SECRET_FILE=HEXKEY" "$hexkey" \
    '$CLOSEHOOK_SECRET_FILE' \
    env CLOSEHOOK_SECRET_FILE="$hexkey" closehook-verify
hidden "verify --secret-file 'whsub_ID HEXKEY'" "$hexkey" --secret-file \
    closehook-verify --secret-file "whsub_x $hexkey"
hidden "receive --secret-file HEXKEY" "$hexkey" --secret-file \
    closehook-receive -l 127.0.0.1:0 --secret-file "$hexkey"
hidden "post --bearer-file TOKEN" "$token" --bearer-file \
    closehook-post --bearer-file "$token" http://127.0.0.1:9/
hidden "post --basic-file USER:PASSWORD" "hunter2secret" --basic-file \
    closehook-post --basic-file "alice:hunter2secret" http://127.0.0.1:9/
hidden "post --header-file 'Name: value'" "s3cr3tvalue" --header-file \
    closehook-post --header-file "X-Api-Key: s3cr3tvalue" http://127.0.0.1:9/
hidden "post --sign-key-file whsec_..." "$whsec" --sign-key-file \
    closehook-post --sign standard-webhooks --sign-key-file "$whsec" \
    http://127.0.0.1:9/
hidden "post --url-file URL" "$slack" --url-file \
    closehook-post --url-file "$slack"
hidden "backfill --api-key-file KEY" "$apikey" --api-key-file \
    closehook-backfill --api-key-file "$apikey" --api-url http://127.0.0.1:9
hidden "subscribe --api-key-file KEY" "$apikey" --api-key-file \
    closehook-subscribe --api-key-file "$apikey" --api-url http://127.0.0.1:9 \
    list
hidden "dedupe --redis-password-file HEXKEY" "$hexkey" \
    --redis-password-file \
    closehook-dedupe --store redis://127.0.0.1:9 \
    --redis-password-file "$hexkey"
hidden "dedupe --nats-user-file USER:PASSWORD" "closehook:pa55w0rd" \
    --nats-user-file \
    closehook-dedupe --store nats://127.0.0.1:9/SEEN \
    --nats-user-file "closehook:pa55w0rd"
hidden "follow --nats-user-file TOKEN" "$token" --nats-user-file \
    closehook-follow --durable d --nats-user-file "$token" \
    nats://127.0.0.1:9/SPOOL
hidden "follow --nats-creds JWT" "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ" \
    --nats-creds \
    closehook-follow --durable d \
    --nats-creds "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ" \
    nats://127.0.0.1:9/SPOOL

# Tokens the shapes above miss, as a user passes them after getopt took
# --bearer for --bearer-file: a value without a / that is not plainly a
# file's name is not shown either.
hidden "post --bearer-file xoxb-..." "xoxb-1234567890-abcdefghijklmnopqrstuvwx" \
    --bearer-file \
    closehook-post --bearer xoxb-1234567890-abcdefghijklmnopqrstuvwx \
    http://127.0.0.1:9/
hidden "dedupe --redis-password-file hunter2..." "hunter2hunter2hunter2" \
    --redis-password-file \
    closehook-dedupe --store redis://127.0.0.1:9 \
    --redis-password hunter2hunter2hunter2
hidden "post --bearer-file a passphrase" "correct-horse-battery-staple" \
    --bearer-file \
    closehook-post --bearer-file correct-horse-battery-staple \
    http://127.0.0.1:9/
run closehook-post --bearer-file slack-token http://127.0.0.1:9/ <"$TMP/in"
is "$rc:$err" "2:closehook-post: slack-token: No such file or directory" \
    "a plain file name without a directory is still named"

# A path is still named as it is.
run closehook-verify --secret-file "$TMP/no-such-keys"
is "$rc:$err" "2:closehook-verify: $TMP/no-such-keys: No such file or directory" \
    "a missing key file is named"
run closehook-post --bearer-file "$TMP/no-such-token" http://127.0.0.1:9/
is "$rc:$err" "2:closehook-post: $TMP/no-such-token: No such file or directory" \
    "a missing token file is named"

# A credential given on the command line is warned about (ps shows argv to
# every user), without being repeated.
run closehook-post -H 'Authorization: Bearer s3cr3tt0ken' http://127.0.0.1:9/ \
    <"$TMP/in"
like "$err" "*warning: -H Authorization: a credential on the command line is seen by every user (ps); put it in --header-file or --bearer-file*" \
    "-H Authorization: warned"
ok "... without the token" bash -c '! grep -q s3cr3tt0ken "$1"' _ "$TMP/err"
run closehook-post "$slack" <"$TMP/in"
like "$err" "*warning: the URL holds a credential*give it in --url-file*" \
    "a Slack hook's URL on the command line: warned"
ok "... without the URL" bash -c '! grep -q XXXXSECRET "$1"' _ "$TMP/err"
run closehook-post 'http://127.0.0.1:9/hook?channel=x&access_token=T0KEN' <"$TMP/in"
like "$err" "*warning: the URL holds a credential*" "a token in the query: warned"
ok "... without it" bash -c '! grep -q T0KEN "$1"' _ "$TMP/err"
run closehook-post 'http://127.0.0.1:9/hook?channel=sales' <"$TMP/in"
ok "an ordinary query draws no warning" \
    bash -c '! grep -q "credential" "$1"' _ "$TMP/err"
run closehook-post http://user:pa55@127.0.0.1:9/ <"$TMP/in"
like "$err" "*warning: the URL holds a credential*" "a user and password in the URL: warned"
run closehook-post --url 'ftp://user:pa55word@127.0.0.1:9/?token=T0KEN' \
    <"$TMP/in"
like "$err" "*invalid URL (not shown: it holds a credential): not an http or https URL*" \
    "an invalid URL with a credential: refused without being shown"
ok "... neither its password nor its token" \
    bash -c '! grep -q "pa55word\|T0KEN" "$1"' _ "$TMP/err"
run closehook-post -H 'X-Request-Source: closehook' http://127.0.0.1:9/ <"$TMP/in"
ok "an ordinary header draws no warning" \
    bash -c '! grep -q "credential" "$1"' _ "$TMP/err"

# Two Authorization headers: which one went would depend on the options'
# order; a usage error instead.
printf 'tok\n' >"$TMP/tok"
chmod 600 "$TMP/tok"
printf 'Authorization: Token x\n' >"$TMP/hdr"
chmod 600 "$TMP/hdr"
run closehook-post --header-file "$TMP/hdr" --bearer-file "$TMP/tok" \
    http://127.0.0.1:9/ <"$TMP/in"
like "$rc:$err" "2:*an Authorization header is given by a header and by --bearer-file or --basic-file*" \
    "--header-file's Authorization and --bearer-file: exit 2"
run closehook-post -H 'Authorization: Token a' -H 'authorization: Token b' \
    http://127.0.0.1:9/ <"$TMP/in"
like "$rc:$err" "2:*an Authorization header is given twice*" "... two -H: exit 2"
done_testing
