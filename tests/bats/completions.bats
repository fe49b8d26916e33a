#!/usr/bin/env bats
# Completions and man pages against each program's --help: every option --help lists is
# offered by the bash completion (tested by running it: COMP_WORDS/COMP_CWORD, then the
# completion function, then COMPREPLY), named in the zsh completion, and described in the
# man page, whose EXIT STATUS names every status --help lists. `make install` with DESTDIR
# puts man pages and completions where man, bash-completion and zsh look.

load helpers

TOOLS=(tdrv-pull tdrv-ports tdrv-run tdrv-fingerprint tdrv-gc)

# the options of TOOL's --help: the option column of lines that start with a dash
help_opts() {
    "$1" --help | grep -E '^ +-' | sed -E 's/^ +//; s/  .*//' |
        grep -oE -- '(^|[ ,|[])--?[a-zA-Z][a-z-]*' | tr -d ' ,|[' | sort -u
}

# complete TOOL WORD...: run TOOL's bash completion function on the command line
# "TOOL WORD...", the cursor on the last word; prints COMPREPLY, one per line
complete_line() {
    local tool=$1 fn
    shift
    source "$TDRV_TOP/completions/$tool.bash"
    fn=$(complete -p "$tool" | sed -nE 's/.*-F ([^ ]+) .*/\1/p')
    COMP_WORDS=("$tool" "$@")
    COMP_CWORD=$#
    COMP_LINE="${COMP_WORDS[*]}"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" "$tool" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf '%s\n' "${COMPREPLY[@]}"
}

@test "completions: every program has a man page, a bash and a zsh completion" {
    for t in "$TDRV_TOP"/cmd/tdrv-*; do
        t=$(basename "$t")
        [ -f "$TDRV_TOP/man/$t.1" ]
        [ -f "$TDRV_TOP/completions/$t.bash" ]
        [ -f "$TDRV_TOP/completions/_$t" ]
    done
    [ "$(ls -d "$TDRV_TOP"/cmd/tdrv-* | wc -l)" -eq ${#TOOLS[@]} ]
}

@test "completions: sourcing each bash completion registers it (complete -p)" {
    for t in "${TOOLS[@]}"; do
        source "$TDRV_TOP/completions/$t.bash"
        run complete -p "$t"
        assert_success
        assert_output --regexp "^complete -F _[a-z_]+ $t\$"
    done
}

@test "completions: bash completes an option prefix" {
    run complete_line tdrv-gc --no-
    assert_output $'--no-images\n--no-containers'
    run complete_line tdrv-pull --pull
    assert_output --pull-policy
    run complete_line tdrv-run --re
    assert_output --result-fd
    run complete_line tdrv-ports --rel
    assert_output --release
    run complete_line tdrv-fingerprint --ch
    assert_output --check
}

@test "completions: bash completes option values" {
    run complete_line tdrv-gc --log-format j
    assert_output json
    run complete_line tdrv-gc --backend d
    assert_output docker
    run complete_line tdrv-pull --pull-policy u
    assert_output update
    run complete_line tdrv-run --signal SIGK
    assert_output SIGKILL
}

@test "completions: bash offers every option of every --help" {
    local t o missing=
    for t in "${TOOLS[@]}"; do
        for o in $(help_opts "$t"); do
            complete_line "$t" "$o" | grep -qxF -- "$o" || missing+=" $t:$o"
        done
    done
    [ -z "$missing" ] || fail "not completed:$missing"
}

@test "completions: zsh names every option of every --help, and parses" {
    local t o missing=
    for t in "${TOOLS[@]}"; do
        f=$TDRV_TOP/completions/_$t
        head -1 "$f" | grep -qx "#compdef $t"
        for o in $(help_opts "$t"); do
            # _arguments specs: --opt[...], --opt=-[...], {-o,--opt}'[...]'
            grep -qE -- "(^|[{,'\"() ])$o([],=}'\"[]|\$)" "$f" || missing+=" $t:$o"
        done
        if command -v zsh >/dev/null; then
            zsh -n "$f"
        fi
    done
    [ -z "$missing" ] || fail "not in the zsh completion:$missing"
}

@test "man: every option and exit status of --help is in the man page" {
    local t o c missing=
    for t in "${TOOLS[@]}"; do
        m=$TDRV_TOP/man/$t.1
        for o in $(help_opts "$t"); do
            grep -qF -- "${o//-/\\-}" "$m" || missing+=" $t:$o"
        done
        exits=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$m")
        for c in $("$t" --help | sed -n '/^Exit status/,$p' | grep -oE '\b(0|1|6[4-9]|7[0-8]|12[5-7])\b' | sort -u); do
            grep -qE "(^|[^0-9])$c([^0-9]|\$)" <<<"$exits" || missing+=" $t:exit-$c"
        done
        for e in $("$t" --help | grep -oE '\b(TDRV|DOCKER)_[A-Z_]+' | sort -u); do
            grep -qF "$e" "$m" || missing+=" $t:$e"
        done
    done
    [ -z "$missing" ] || fail "missing from the man pages:$missing"
}

@test "man: each page formats without warnings" {
    command -v man >/dev/null || skip "man is not installed"
    for t in "${TOOLS[@]}"; do
        run --separate-stderr env LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$TDRV_TOP/man/$t.1"
        assert_success
        [ -z "$stderr" ] || fail "$t.1: $stderr"
        assert_line --regexp "^NAME"
    done
}

@test "install: make install DESTDIR puts man pages and completions where man and the shells find them" {
    d=$BATS_TEST_TMPDIR/dest
    # installs the programs this suite was built as (O=), without rebuilding them
    o=$(dirname "$TDRV_BIN")
    san=
    [[ $o == */build/asan ]] && san=1
    run make -s -C "$TDRV_TOP" install DESTDIR="$d" PREFIX=/usr/local O="$o" SANITIZE=$san
    assert_success
    for t in "${TOOLS[@]}"; do
        [ -x "$d/usr/local/bin/$t" ]
        [ -f "$d/usr/local/share/man/man1/$t.1" ]
        [ -f "$d/usr/local/share/bash-completion/completions/$t" ]
        [ -f "$d/usr/local/share/zsh/site-functions/_$t" ]
    done
    if command -v man >/dev/null; then
        for t in "${TOOLS[@]}"; do
            run env MANPATH="$d/usr/local/share/man" man -w "$t"
            assert_output "$d/usr/local/share/man/man1/$t.1"
            run env MANPATH="$d/usr/local/share/man" MANWIDTH=80 man -P cat "$t"
            assert_success
            assert_line --regexp "^NAME"
        done
    fi
    # bash-completion loads completions/<tool> on demand from $XDG_DATA_DIRS
    if [ -r /usr/share/bash-completion/bash_completion ]; then
        XDG_DATA_DIRS="$d/usr/local/share" run bash -c '
            source /usr/share/bash-completion/bash_completion
            __load_completion tdrv-gc && complete -p tdrv-gc'
        assert_success
        assert_output 'complete -F _tdrv_gc tdrv-gc'
    fi
    # zsh: site-functions on $fpath, compinit finds the #compdef
    if command -v zsh >/dev/null; then
        run zsh -f -c "fpath=($d/usr/local/share/zsh/site-functions \$fpath)
            autoload -Uz compinit && compinit -u -d $BATS_TEST_TMPDIR/zcompdump
            print -r -- \${_comps[tdrv-gc]} \${_comps[tdrv-run]}"
        assert_success
        assert_output '_tdrv-gc _tdrv-run'
    fi
}
