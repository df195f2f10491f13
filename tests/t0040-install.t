#!/bin/bash
# make install into a DESTDIR: the installed programs run, their man pages
# render (mandoc and man -l), their completions complete in bash and fish
# and parse in zsh; make uninstall removes all of it.
. "$(dirname "$0")/lib.sh"
set -e

dest=$TMP/inst
run make -s -C "$TOP" install DESTDIR="$dest" PREFIX=/usr \
    BUILD="$CLOSEHOOK_MAKE_BUILD"
is "$rc" 0 "make install succeeds"
progs=$(cd "$TOP/cmd" && printf '%s\n' closehook-*.c | sed 's/\.c$//')
for p in $progs; do
	run "$dest/usr/bin/$p" --version
	is "$out" "$p 0.1.0" "$p: the installed program runs"
	# Rendered text, overstrike removed, names the program.
	is "$(mandoc -Tascii "$dest/usr/share/man/man1/$p.1" |
	    sed 's/.\x08//g' | sed -n '/^NAME/{n;p;q}' | awk '{print $1}')" \
	    "$p" "$p: its man page renders"
	if command -v man >/dev/null 2>&1; then
		is "$(MANPAGER=cat MANWIDTH=80 man -l \
		    "$dest/usr/share/man/man1/$p.1" 2>/dev/null |
		    sed -n '/^NAME/{n;p;q}' | awk '{print $1}')" "$p" \
		    "$p: man -l shows the installed page"
	fi
	# The installed bash completion, asked as bash asks it, completes
	# "--vers" to --version.
	is "$(bash -c "source '$dest/usr/share/bash-completion/completions/$p'
	    f=\$(complete -p $p | sed 's/.*-F \\([^ ]*\\).*/\\1/')
	    COMP_WORDS=($p --vers); COMP_CWORD=1
	    COMP_LINE='$p --vers'; COMP_POINT=\${#COMP_LINE}
	    \$f $p --vers $p; printf '%s\\n' \"\${COMPREPLY[@]}\"")" \
	    --version "$p: bash completes --vers to --version"
	if command -v zsh >/dev/null 2>&1; then
		ok "$p: zsh completion parses" \
		    zsh -n "$dest/usr/share/zsh/site-functions/_$p"
	fi
	if command -v fish >/dev/null 2>&1; then
		ok "$p: fish completion parses" \
		    fish -n "$dest/usr/share/fish/vendor_completions.d/$p.fish"
		is "$(fish -c "source '$dest/usr/share/fish/vendor_completions.d/$p.fish'
		    complete -C '$p --vers'" | cut -f1)" --version \
		    "$p: fish completes --vers to --version"
	fi
done
is "$(mandoc -Tascii "$dest/usr/share/man/man7/closehook.7" |
    sed 's/.\x08//g' | sed -n '/^NAME/{n;p;q}' | awk '{print $1}')" \
    "closehook" "closehook(7) renders"
run make -s -C "$TOP" uninstall DESTDIR="$dest" PREFIX=/usr \
    BUILD="$CLOSEHOOK_MAKE_BUILD"
is "$rc" 0 "make uninstall succeeds"
is "$(find "$dest" -type f | wc -l)" 0 "and leaves no file behind"
done_testing
