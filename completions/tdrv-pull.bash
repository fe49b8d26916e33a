# bash completion for tdrv-pull
_tdrv_pull() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --parse|--task) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--parse --task --verbose --quiet --log-format --help --version -v -q -h -V" -- "$cur"))
    fi
}
complete -F _tdrv_pull tdrv-pull
