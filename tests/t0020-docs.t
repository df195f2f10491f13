#!/bin/bash
# t0020-docs.t - the documentation matches the programs.  For every built
# closehook-* program: every option its --help lists has an item in its man
# page and is offered by its bash, zsh and fish completions; the man page's
# SYNOPSIS is the usage text and names every option but -h, --help and
# --version; --help exits 0 with the help on stdout; a bad option exits 2
# with the usage on stderr.  closehook-subscribe's and closehook-trigger's
# event names are the same in each program, its man page and its
# completions.  closehook.7's
# SEE ALSO names every program's page.  Every page in man/ is mandoc -Tlint
# clean and renders no quote nested in another.

# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"

shopt -s nullglob

# help_lines PROG: the option column of each option line of PROG --help,
# one line per option ("-q, --quiet", "--max-age SECONDS").
help_lines() {
	"$1" --help 2>/dev/null | sed -nE '/^[[:space:]]+-/{
		s/^[[:space:]]+//
		s/[[:space:]]{2,}.*//
		p
	}'
}

# opt_names TEXT: the option names (-q, --max-age) in TEXT, one a line.
opt_names() {
	grep -oE -- '(^|[][ ,|(])--?[[:alnum:]][[:alnum:]-]*' <<<"$1" |
	    sed -E 's/^[][ ,|(]//' || true
}

# norm: collapse white space to single spaces, trim both ends.
norm() {
	tr -s ' \t\n' '   ' | sed -E 's/^ //; s/ $//'
}

# man_has_item PAGE OPT: an .It line of PAGE names OPT with Fl.
man_has_item() {
	grep -qE -- "^\.It .*Fl[[:space:]]+${2#-}([[:space:],]|$)" "$1"
}

# man_synopsis PAGE: the rendered SYNOPSIS section, normalised.
man_synopsis() {
	mandoc -Tascii -O width=1000 "$1" 2>/dev/null |
	    sed -e 's/.\x08//g' |
	    sed -n '/^SYNOPSIS$/,/^[A-Z]/{/^[A-Z]/d;p}' | norm
}

# bash_offers PROG FILE: what FILE's completion offers for "PROG -".
bash_offers() {
	bash --norc --noprofile -c '
		. "$1" || exit 1
		f=$(complete -p "$2" 2>/dev/null |
		    sed -nE "s/.*-F ([^ ]+).*/\1/p")
		[ -n "$f" ] || exit 1
		COMP_WORDS=("$2" -)
		COMP_CWORD=1
		COMP_LINE="$2 -"
		COMP_POINT=${#COMP_LINE}
		"$f" "$2" - "$2"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$2" "$1" 2>/dev/null
}

# zsh_has FILE OPT: an _arguments spec in FILE defines OPT, as in
# '--opt[...]', '--opt=[...]' or {-o,--opt}'[...]'.
zsh_has() {
	grep -qE -- "(^|[^[:alnum:]-])$2(=|\\+|-|=-)?(\\[|[,}])" "$1"
}

# fish_has FILE OPT: a complete line in FILE defines OPT (-l/-s/-o).
fish_has() {
	local o=$2 flag
	case $o in
	--*) o=${o#--} flag='(-l|--long-option)' ;;
	-?) o=${o#-} flag='(-s|--short-option)' ;;
	*) o=${o#-} flag='(-o|--old-option)' ;;
	esac
	grep -E '^[[:space:]]*complete[[:space:]]' "$1" |
	    grep -qE -- "(^|[[:space:]])$flag([[:space:]]+|=)$o([[:space:]]|$)"
}

# fish_offers PROG FILE: what fish offers for "PROG -" after FILE is loaded.
fish_offers() {
	# shellcheck disable=SC2016
	fish --no-config -c 'source $argv[1]; complete -C "$argv[2] -"' \
	    "$2" "$1" 2>/dev/null | cut -f1
}

# missing_from LIST OPT...: the OPTs that are not lines of LIST.
missing_from() {
	local list=$1 o miss=
	shift
	for o; do
		grep -qxF -- "$o" <<<"$list" || miss+="$o "
	done
	printf '%s' "${miss% }"
}

progs=()
for p in "$CLOSEHOOK_BUILD"/bin/closehook-*; do
	[ -f "$p" ] && [ -x "$p" ] && progs+=("$p")
done
ok "programs to check in $CLOSEHOOK_BUILD/bin" [ "${#progs[@]}" -gt 0 ]

have_mandoc=0
command -v mandoc >/dev/null 2>&1 && have_mandoc=1
ok "mandoc is installed" [ "$have_mandoc" -eq 1 ]

for p in "${progs[@]}"; do
	name=${p##*/}
	page=$TOP/man/$name.1
	bashc=$TOP/completions/bash/$name
	zshc=$TOP/completions/zsh/_$name
	fishc=$TOP/completions/fish/$name.fish

	# --help: exit 0, the help on stdout, nothing on stderr.
	"$p" --help >"$TMP/out" 2>"$TMP/err"
	is "$?" 0 "$name --help exits 0"
	ok "$name --help writes the help to stdout" [ -s "$TMP/out" ]
	ok "$name --help writes nothing to stderr" [ ! -s "$TMP/err" ]

	# A bad option: exit 2, the usage on stderr, nothing on stdout.
	"$p" --no-such-option-xyzzy >"$TMP/out" 2>"$TMP/err"
	is "$?" 2 "$name with a bad option exits 2"
	ok "$name with a bad option writes the usage to stderr" \
	    grep -q "^usage: $name" "$TMP/err"
	ok "$name with a bad option writes nothing to stdout" \
	    [ ! -s "$TMP/out" ]
	usage=$(sed -n '/^usage: /,$p' "$TMP/err" | sed '1s/^usage: //' | norm)

	lines=$(help_lines "$p")
	opts=$(opt_names "$lines")
	ok "$name --help lists options" [ -n "$opts" ]
	mapfile -t optv <<<"$opts"

	# The man page: an item for every option, the usage as SYNOPSIS.
	ok "$name has a man page" [ -f "$page" ]
	miss=
	for o in "${optv[@]}"; do
		man_has_item "$page" "$o" 2>/dev/null || miss+="$o "
	done
	is "${miss% }" "" "$name.1 has an item for every --help option"
	if [ "$have_mandoc" -eq 1 ] && [ -f "$page" ]; then
		syn=$(man_synopsis "$page")
		is "$syn" "$usage" "$name.1 SYNOPSIS is the usage text"
		miss=
		while IFS= read -r l; do
			case " $(opt_names "$l" | tr '\n' ' ')" in
			*" -h "* | *" --help "* | *" --version "*) continue ;;
			esac
			found=0
			for o in $(opt_names "$l"); do
				[[ " $syn " == *[[\ ]"$o"[]\ ]* ]] && found=1
			done
			[ "$found" -eq 1 ] || miss+="$l; "
		done <<<"$lines"
		is "${miss%; }" "" "$name.1 SYNOPSIS names every option"
	fi

	# Completions.
	ok "$name has a bash completion" [ -f "$bashc" ]
	got=$(bash_offers "$name" "$bashc")
	is "$(missing_from "$got" "${optv[@]}")" "" \
	    "$name bash completion offers every --help option"
	ok "$name has a zsh completion" [ -f "$zshc" ]
	miss=
	for o in "${optv[@]}"; do
		zsh_has "$zshc" "$o" 2>/dev/null || miss+="$o "
	done
	is "${miss% }" "" "$name zsh completion defines every --help option"
	if command -v zsh >/dev/null 2>&1; then
		ok "$name zsh completion parses" zsh -n "$zshc"
	fi
	ok "$name has a fish completion" [ -f "$fishc" ]
	miss=
	for o in "${optv[@]}"; do
		fish_has "$fishc" "$o" 2>/dev/null || miss+="$o "
	done
	is "${miss% }" "" "$name fish completion defines every --help option"
	if command -v fish >/dev/null 2>&1; then
		got=$(fish_offers "$name" "$fishc")
		is "$(missing_from "$got" "${optv[@]}")" "" \
		    "$name fish completion offers every --help option"
	fi

	# The program list of closehook(7) refers to the program's page, and
	# so does its SEE ALSO.
	ok "closehook.7 refers to $name(1)" \
	    grep -qE "^\.It Xr $name 1\$" "$TOP/man/closehook.7"
	ok "closehook.7 SEE ALSO names $name(1)" \
	    grep -qE "^\.Xr $name 1( ,)?\$" <(sed -n '/^\.Sh SEE ALSO/,/^\.Sh/p' \
	    "$TOP/man/closehook.7")
done

# closehook-subscribe --event: the names the program takes (it lists them
# all for an unknown object type) are those its page and completions offer.
sub=$CLOSEHOOK_BUILD/bin/closehook-subscribe
if [ -x "$sub" ]; then
	"$sub" create --event nosuchtype:created >/dev/null 2>"$TMP/err"
	is "$?" 2 "subscribe: an unknown event exits 2"
	tail -n +2 "$TMP/err" | tr -s ' ' '\n' | sed '/^$/d' | sort \
	    >"$TMP/ev.prog"
	ok "subscribe lists the events it takes ($(wc -l <"$TMP/ev.prog"))" \
	    [ "$(wc -l <"$TMP/ev.prog")" -gt 100 ]
	# The page: each ".It ACTION, ..." heads the object types under it.
	awk '/^\.It Fl -event/ { f = 1; next }
	    f && /^\.El/ { exit }
	    f && /^\.It / { sub(/^\.It /, ""); gsub(/,/, ""); n = split($0, a) }
	    f && /^\.Li / { for (i = 1; i <= n; i++) print $2 ":" a[i] }' \
	    "$TOP/man/closehook-subscribe.1" | sort >"$TMP/ev.man"
	same_file "$TMP/ev.man" "$TMP/ev.prog" \
	    "closehook-subscribe.1 lists the events the program takes"
	bash --norc --noprofile -c '
		. "$1" || exit 1
		COMP_WORDS=(closehook-subscribe create --event "")
		COMP_CWORD=3
		COMP_LINE="closehook-subscribe create --event "
		COMP_POINT=${#COMP_LINE}
		_closehook_subscribe closehook-subscribe "" --event
		printf "%s\n" "${COMPREPLY[@]}"' sh \
	    "$TOP/completions/bash/closehook-subscribe" 2>/dev/null |
	    sort >"$TMP/ev.bash"
	same_file "$TMP/ev.bash" "$TMP/ev.prog" \
	    "the bash completion offers the events the program takes"
	sed -n '/^events=(/,/^)/p' "$TOP/completions/zsh/_closehook-subscribe" |
	    sed '1d; $d' | tr -s ' ' '\n' | sed '/^$/d' | sort >"$TMP/ev.zsh"
	same_file "$TMP/ev.zsh" "$TMP/ev.prog" \
	    "the zsh completion offers the events the program takes"
	if command -v fish >/dev/null 2>&1; then
		# shellcheck disable=SC2016
		fish --no-config -c 'source $argv[1]
		    complete -C "closehook-subscribe create --event "' \
		    "$TOP/completions/fish/closehook-subscribe.fish" \
		    2>/dev/null | cut -f1 | sort >"$TMP/ev.fish"
		same_file "$TMP/ev.fish" "$TMP/ev.prog" \
		    "the fish completion offers the events the program takes"
	fi
fi

# closehook-trigger EVENT: the same names (the table is shared with
# subscribe), in its page and its completions.
trig=$CLOSEHOOK_BUILD/bin/closehook-trigger
if [ -x "$trig" ]; then
	"$trig" nosuchtype:created >/dev/null 2>"$TMP/err"
	is "$?" 2 "trigger: an unknown event exits 2"
	tail -n +2 "$TMP/err" | tr -s ' ' '\n' | sed '/^$/d' | sort \
	    >"$TMP/tev.prog"
	ok "trigger lists the events it takes ($(wc -l <"$TMP/tev.prog"))" \
	    [ "$(wc -l <"$TMP/tev.prog")" -gt 100 ]
	if [ -s "$TMP/ev.prog" ]; then
		same_file "$TMP/tev.prog" "$TMP/ev.prog" \
		    "trigger and subscribe take the same events"
	fi
	awk '/^\.Ss Events/ { f = 1; next }
	    f && /^\.El/ { exit }
	    f && /^\.It / { sub(/^\.It /, ""); gsub(/,/, ""); n = split($0, a) }
	    f && /^\.Li / { for (i = 1; i <= n; i++) print $2 ":" a[i] }' \
	    "$TOP/man/closehook-trigger.1" | sort >"$TMP/tev.man"
	same_file "$TMP/tev.man" "$TMP/tev.prog" \
	    "closehook-trigger.1 lists the events the program takes"
	bash --norc --noprofile -c '
		. "$1" || exit 1
		COMP_WORDS=(closehook-trigger "")
		COMP_CWORD=1
		COMP_LINE="closehook-trigger "
		COMP_POINT=${#COMP_LINE}
		_closehook_trigger closehook-trigger "" closehook-trigger
		printf "%s\n" "${COMPREPLY[@]}"' sh \
	    "$TOP/completions/bash/closehook-trigger" 2>/dev/null |
	    sort >"$TMP/tev.bash"
	same_file "$TMP/tev.bash" "$TMP/tev.prog" \
	    "the trigger bash completion offers the events the program takes"
	sed -n '/^events=(/,/^)/p' "$TOP/completions/zsh/_closehook-trigger" |
	    sed '1d; $d' | tr -s ' ' '\n' | sed '/^$/d' | sort >"$TMP/tev.zsh"
	same_file "$TMP/tev.zsh" "$TMP/tev.prog" \
	    "the trigger zsh completion offers the events the program takes"
	if command -v fish >/dev/null 2>&1; then
		# shellcheck disable=SC2016
		fish --no-config -c 'source $argv[1]
		    complete -C "closehook-trigger "' \
		    "$TOP/completions/fish/closehook-trigger.fish" \
		    2>/dev/null | cut -f1 | sort >"$TMP/tev.fish"
		same_file "$TMP/tev.fish" "$TMP/tev.prog" \
		    "the trigger fish completion offers the events the program takes"
	fi
fi

# Every page lints clean.
pages=("$TOP"/man/*.[1-9])
ok "there are man pages" [ "${#pages[@]}" -gt 0 ]
if [ "$have_mandoc" -eq 1 ]; then
	for m in "${pages[@]}"; do
		l=$(mandoc -Tlint -Wwarning "$m" 2>&1)
		st=$?
		is "$st:$l" "0:" "${m#"$TOP"/} is mandoc -Tlint -Wwarning clean"
		# A quote macro swallowing the next one (".Pq Ql a , Ql b")
		# renders `a, `b'' with nested quotes.
		is "$(mandoc -Tascii "$m" | col -b | grep -E "\`[^'\`]*\`")" "" \
		    "${m#"$TOP"/} renders no quote inside a quote"
	done
fi

done_testing
