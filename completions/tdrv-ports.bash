# bash completion for tdrv-ports
_tdrv_ports() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --task|--alloc) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--task --release --alloc --list --verbose --quiet --log-format --help --version -v -q -h -V" -- "$cur"))
    fi
}
complete -F _tdrv_ports tdrv-ports
