# bash completion for tdrv-pull
_tdrv_pull() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --pull-policy) COMPREPLY=($(compgen -W "never new update" -- "$cur")); return ;;
        --to) COMPREPLY=($(compgen -W "store docker" -- "$cur")); return ;;
        --progress) COMPREPLY=($(compgen -W "auto bar json none" -- "$cur")); return ;;
        --platform) COMPREPLY=($(compgen -W "linux/amd64 linux/arm64 linux/arm/v7 linux/386 linux/ppc64le linux/s390x linux/riscv64" -- "$cur")); return ;;
        --ca-file|--load) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --rootfs|--root) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --parse|--task|--max-concurrent) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--parse --task --platform --pull-policy --max-concurrent --ca-file --progress --to --load --rootfs --root --verbose --quiet --log-format --help --version -v -q -h -V" -- "$cur"))
    fi
}
complete -F _tdrv_pull tdrv-pull
