# Starting Debian's docker-registry on 127.0.0.1 for a bats file, and pushing OCI
# layouts to it. `load lib/registry` after `load helpers`; the caller's setup_file
# creates "$BATS_FILE_TMPDIR/pids" (stopped by PID in teardown_file) and ".../env".
# REGISTRY_PORTS="LO HI" picks the port in another range than 5100-5199; REGISTRY_ACCESSLOG=1
# has the registry log every request to $BATS_FILE_TMPDIR/NAME/log (one line a request).

start_registry() { # NAME CONFIG_EXTRA...: starts docker-registry, sets ${NAME}_PORT
    local name=$1 extra=$2 port dir=$BATS_FILE_TMPDIR/$1 nolog=true
    # shellcheck disable=SC2086
    port=$(tdrv_free_port ${REGISTRY_PORTS:-5100 5199})
    [ -z "${REGISTRY_ACCESSLOG:-}" ] || nolog=false
    mkdir -p "$dir/data"
    cat >"$dir/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: $nolog
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
$extra
YML
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    echo $! >>"$BATS_FILE_TMPDIR/pids"
    wait_port "$port"
    eval "${name}_PORT=$port"
    echo "${name}_PORT=$port" >>"$BATS_FILE_TMPDIR/env"
}

wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

push() { # LAYOUT DEST [skopeo options]
    local src=$1 dst=$2
    shift 2
    skopeo copy -q --all --dest-tls-verify=false "$@" "oci:$src" "docker://$dst" >&2
}
