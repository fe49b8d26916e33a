# bash completion for tdrv-gc
_tdrv_gc() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --backend) COMPREPLY=($(compgen -W "oci docker all" -- "$cur")); return ;;
        --alloc)
            local root=${TDRV_ROOT:-/var/lib/tdrv}
            COMPREPLY=($(compgen -W "$(ls "$root/allocs" 2>/dev/null)" -- "$cur"))
            return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--dry-run --live --alloc --remove-alloc-dir --images --no-images
            --containers --no-containers --backend --watch --verbose --quiet --log-format --help
            --version -n -v -q -h -V" -- "$cur"))
    fi
}
complete -F _tdrv_gc tdrv-gc
