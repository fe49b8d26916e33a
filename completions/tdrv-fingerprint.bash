# bash completion for tdrv-fingerprint
_tdrv_fingerprint() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        -c|--check|-t|--timeout) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--check --watch --timeout --config --verbose --quiet --log-format --help --version -c -w -t -v -q -h -V" -- "$cur"))
    fi
}
complete -F _tdrv_fingerprint tdrv-fingerprint
