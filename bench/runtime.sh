#!/usr/bin/env bash
# bench/runtime.sh (run by `make bench`): time from `tdrv-run` to the container's `true`
# having run and exited, for an image already in the store, side by side with:
#   runc (tdrv config)  bare `runc run` on a prepared bundle holding the config.json tdrv-run
#                       generates for the task (same image, flattened): what runc itself
#                       costs on that config, so tdrv-run's own overhead shows apart
#   runc (runc spec)    bare `runc run` on `runc spec`'s default config (the issue's baseline)
#   docker              `docker run --rm`; a private Engine (own data root, exec root, socket,
#                       bridge; stopped by its PID) is started when none answers
# Rounds of hyperfine with the order rotated (the host is shared: interleave, then take
# medians), docker's runs after them; prints medians, p25-p75 and the ratios.
# Usage: bench/runtime.sh BIN_DIR   (as root, with runc and hyperfine)
# BENCH_RUNS (default 120) runs per command in all, in BENCH_ROUNDS (default 12) rounds;
# BENCH_DOCKER=0 skips docker.
set -eu
bin=$(cd "${1:?usage: bench/runtime.sh BIN_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-120}
rounds=${BENCH_ROUNDS:-12}
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 77; }
for c in runc hyperfine jq python3; do
    command -v "$c" >/dev/null || { echo "bench: $c not found (make deps)" >&2; exit 69; }
done

work=$(mktemp -d /tmp/tdrv-bench.XXXXXX)
own_dockerd=0
cleanup() {
    for id in bench-runc bench-cfg; do
        runc --root "$work/run/runc" delete --force "$id" >/dev/null 2>&1 || true
    done
    for l in "$work"/root/allocs/*/*/lease; do [ -e "$l" ] && flock -w 30 "$l" true; done
    [ "$own_dockerd" = 1 ] && tdrv_dockerd_stop
    mountpoint -q "$work/run" && umount -l "$work/run"
    mountpoint -q "$work/root" && umount -l "$work/root"
    rm -rf "$work"
}
trap cleanup EXIT
# The run-time state (TDRV_RUN: bundles, overlay upper dirs; runc's --root) on a tmpfs, as
# /run is on a Debian host; the store and the allocation directories (TDRV_ROOT) on disk:
# a fresh ext4 with a journal (a loop image), as /var/lib is on a Debian install. A root
# ext4 without a journal (some VMs') makes every file and directory creation scan the inode
# tables for recently deleted inodes, which a run that creates its allocation directory
# pays for and a prepared bundle does not; BENCH_ROOT_LOOP=0 keeps TDRV_ROOT on the disk.
mkdir -p "$work/run" "$work/root"
mount -t tmpfs -o mode=0711 tdrv-bench "$work/run"
if [ "${BENCH_ROOT_LOOP:-1}" = 1 ] && command -v mkfs.ext4 >/dev/null; then
    truncate -s 512M "$work/root.img"
    if mkfs.ext4 -q -F "$work/root.img" && mount -o loop "$work/root.img" "$work/root"; then
        echo "TDRV_ROOT: a journaled ext4 (loop)"
    else
        echo "TDRV_ROOT: $(findmnt -no FSTYPE -T "$work") on disk (no loop device)"
    fi
fi
export TDRV_ROOT=$work/root TDRV_RUN=$work/run TDRV_CONFIG=$work/config.yaml
: >"$TDRV_CONFIG"

"$top/scripts/mkimage-busybox.sh" "$work/busybox-oci" docker.io/library/busybox:latest >/dev/null
"$bin/tdrv-pull" --load "$work/busybox-oci" docker.io/library/busybox:latest >/dev/null

# tdrv-run: the whole path (store lookup, overlay mount, config.json, runc, reap, cleanup)
# a fresh allocation per run (no alloc_id), as a scheduler places each task anew
echo '{"task":"t","config":{"image":"busybox","command":"true"}}' >"$work/task.json"

# runc (runc spec): a bundle prepared once (flattened rootfs, runc's default spec running true)
mkdir -p "$work/bundle"
"$bin/tdrv-pull" --pull-policy never --rootfs "$work/bundle/rootfs" docker.io/library/busybox:latest >/dev/null
(cd "$work/bundle" && runc spec)
jq '.process.args = ["true"] | .process.terminal = false' "$work/bundle/config.json" >"$work/c.json"
mv "$work/c.json" "$work/bundle/config.json"

# runc (tdrv config): tdrv-run's own config.json for the same task, rootfs flattened. One
# real run creates the allocation's directories and /etc files its bind mounts name.
echo '{"alloc_id":"bench-cfg","task":"t","config":{"image":"busybox","command":"true"}}' \
    >"$work/task-cfg.json"
"$bin/tdrv-run" --result-fd 3 <"$work/task-cfg.json" 3>/dev/null
mkdir -p "$work/bundle-cfg"
cp -a "$work/bundle/rootfs" "$work/bundle-cfg/rootfs"
"$bin/tdrv-run" --dry-run <"$work/task-cfg.json" |
    jq '.root.path = "rootfs"' >"$work/bundle-cfg/config.json"

cmds=(-n tdrv-run "$bin/tdrv-run --result-fd 3 <$work/task.json 3>/dev/null"
      -n "runc (tdrv config)" "runc --root $work/run/runc run --bundle $work/bundle-cfg bench-cfg"
      -n "runc (runc spec)" "runc --root $work/run/runc run --bundle $work/bundle bench-runc")

per=$(((runs + rounds - 1) / rounds))
ncmd=$((${#cmds[@]} / 3))
for r in $(seq "$rounds"); do
    # rotate the order each round, so no command always runs after the same one
    k=$(((r - 1) % ncmd))
    rot=("${cmds[@]:$((k * 3))}" "${cmds[@]:0:$((k * 3))}")
    hyperfine --warmup 3 --runs "$per" --export-json "$work/bench-$r.json" "${rot[@]}" \
        >/dev/null 2>"$work/hyperfine.err" || { cat "$work/hyperfine.err" >&2; exit 1; }
done
# docker apart, after the others, and a private Engine started only now, so that its
# daemons and their clean-up after each container do not share the CPUs with the other
# rows. The Engine that answers, else a private one with the same busybox image.
docker=0
if [ "${BENCH_DOCKER:-1}" = 1 ] && command -v docker >/dev/null; then
    if ! timeout 5 docker info >/dev/null 2>&1 && command -v dockerd >/dev/null &&
        command -v skopeo >/dev/null; then
        # shellcheck source=../tests/bats/lib/dockerd.bash
        . "$top/tests/bats/lib/dockerd.bash"
        if tdrv_dockerd_start >/dev/null; then
            own_dockerd=1
            export DOCKER_HOST=$TDRV_DOCKERD_HOST
        fi
    fi
    if timeout 5 docker info >/dev/null 2>&1; then
        if ! docker image inspect busybox:latest >/dev/null 2>&1 && command -v skopeo >/dev/null
        then
            skopeo copy -q "oci:$work/busybox-oci:docker.io/library/busybox:latest" \
                "docker-archive:$work/busybox.tar:busybox:latest" >/dev/null 2>&1 &&
                docker load -i "$work/busybox.tar" >/dev/null
        fi
        if docker image inspect busybox:latest >/dev/null 2>&1; then
            docker=1
        fi
    fi
fi

if [ "$docker" = 1 ]; then
    hyperfine --warmup 3 --runs "$((per * rounds))" --export-json "$work/bench-docker.json" \
        -n docker "docker run --rm --network none busybox:latest true" \
        >/dev/null 2>"$work/hyperfine.err" || { cat "$work/hyperfine.err" >&2; exit 1; }
fi

python3 - "$docker" "$work"/bench-*.json <<'PY'
import json, statistics, sys
docker = sys.argv[1] == "1"
t = {}
for f in sys.argv[2:]:
    for r in json.load(open(f))["results"]:
        t.setdefault(r["command"], []).extend(x * 1000 for x in r["times"])
med = {}
for name in ["tdrv-run", "runc (tdrv config)", "runc (runc spec)", "docker"]:
    if name not in t:
        continue
    v = sorted(t[name])
    q = statistics.quantiles(v, n=4)
    med[name] = statistics.median(v)
    print(f"{name:20s} {med[name]:6.1f} ms median  (p25 {q[0]:.1f}, p75 {q[2]:.1f}, n={len(v)})")
a, b, c = med["tdrv-run"], med["runc (tdrv config)"], med["runc (runc spec)"]
print(f"tdrv-run's own overhead over runc on its config: {a - b:.1f} ms")
print(f"runc on tdrv's config over runc spec's: {b - c:+.1f} ms")
print(f"ratio tdrv-run / runc run (runc spec) = {a / c:.2f} (target <= 1.2)")
print(f"ratio tdrv-run / runc run (tdrv config) = {a / b:.2f}")
if docker:
    print(f"ratio docker run / tdrv-run = {med['docker'] / a:.2f} (target >= 8)")
else:
    print("docker run: skipped (no docker CLI, no Engine, or no busybox:latest image)")
PY
