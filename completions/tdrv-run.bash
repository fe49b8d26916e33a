# bash completion for tdrv-run
_tdrv_run() {
    local cur prev i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    for ((i = 1; i < COMP_CWORD; i++)); do
        # after `--exec --`, complete the command inside the container as a command
        if [[ ${COMP_WORDS[i]} == -- ]]; then
            COMPREPLY=($(compgen -c -- "$cur"))
            return
        fi
    done
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --signal) COMPREPLY=($(compgen -W "SIGHUP SIGINT SIGQUIT SIGKILL SIGUSR1 SIGUSR2 SIGTERM SIGCONT SIGSTOP SIGWINCH" -- "$cur")); return ;;
        --stdin) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --alloc|--task|--result-fd) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "--dry-run --detach --wait --stop --signal --exec --inspect --stats --logs --follow --tty --no-tty --list --alloc --task --result-fd --stdin --verbose --quiet --log-format --help --version -d -t -v -q -h -V" -- "$cur"))
    fi
}
complete -F _tdrv_run tdrv-run
