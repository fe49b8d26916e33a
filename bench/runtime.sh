#!/usr/bin/env bash
# bench/runtime.sh (run by `make bench`): time from `tdrv-run` to the container's `true`
# having run and exited, for an image already in the store, side by side with:
#   runc (tdrv config)  bare `runc run` on a prepared bundle holding the config.json tdrv-run
#                       generates for the task (same image, flattened): what runc itself
#                       costs on that config, so tdrv-run's own overhead shows apart
#   runc (runc spec)    bare `runc run` on `runc spec`'s default config (the issue's baseline)
#   docker              `docker run --rm` (the issue's command: docker's default network, a
#                       bridge), and `docker run --rm --network host` (tdrv-run's default for
#                       a task without ports: no network namespace); a private Engine (own
#                       data root, exec root, socket, bridge; stopped by its PID) is started
#                       when none answers
# In cycles, a block of runs of each command in a new random order each cycle (bench/lib/
# interleave.py: every command sees the same host as it drifts; each block's first run is not
# counted, so no counted run directly follows another program); no shell in between. Prints medians,
# p25-p75, the ratios of medians and their 95% bootstrap intervals.
# Usage: bench/runtime.sh BIN_DIR   (as root, with runc and python3)
# BENCH_RUNS (default 120) counted runs per command, in blocks of BENCH_BLOCK (default 4);
# BENCH_DOCKER=0 skips docker.
set -eu
bin=$(cd "${1:?usage: bench/runtime.sh BIN_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-120}
block=${BENCH_BLOCK:-4}
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 77; }
for c in runc jq python3; do
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

# docker: the Engine that answers, else a private one (stopped by its PID at the end), with
# the same busybox image; started before the cycles, so its daemons are there for every row
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

jq -n --arg bin "$bin" --arg work "$work" --argjson docker "$docker" '[
    {name: "tdrv-run", argv: [$bin + "/tdrv-run"], stdin: ($work + "/task.json"),
     result_fd: true},
    {name: "runc (tdrv config)", argv: ["runc", "--root", $work + "/run/runc", "run",
     "--bundle", $work + "/bundle-cfg", "bench-cfg"]},
    {name: "runc (runc spec)", argv: ["runc", "--root", $work + "/run/runc", "run",
     "--bundle", $work + "/bundle", "bench-runc"]}
  ] + if $docker == 1 then [
    {name: "docker", argv: ["docker", "run", "--rm", "busybox:latest", "true"]},
    {name: "docker (host network)", argv: ["docker", "run", "--rm", "--network", "host",
     "busybox:latest", "true"]}] else [] end' >"$work/cmds.json"
python3 "$top/bench/lib/interleave.py" "$work/cmds.json" "$(((runs + block - 1) / block))" "$block" \
    "$work/times.json"

python3 - "$docker" "$work/times.json" <<'PY'
import json, random, statistics, sys
docker = sys.argv[1] == "1"
blocks = json.load(open(sys.argv[2]))["times"]
t = {k: [x for b in v for x in b] for k, v in blocks.items()}
med = {}
for name in ["tdrv-run", "runc (tdrv config)", "runc (runc spec)", "docker",
             "docker (host network)"]:
    if name not in t:
        continue
    v = sorted(t[name])
    q = statistics.quantiles(v, n=4)
    med[name] = statistics.median(v)
    print(f"{name:21s} {med[name]:6.1f} ms median  (p25 {q[0]:.1f}, p75 {q[2]:.1f}, n={len(v)})")
rng = random.Random(1)
def ci(a, b):
    # the cycles resampled together: a 95% interval of median(a) / median(b)
    n = len(blocks[a])
    rs = []
    for _ in range(2000):
        k = [rng.randrange(n) for _ in range(n)]
        rs.append(statistics.median(x for i in k for x in blocks[a][i]) /
                  statistics.median(x for i in k for x in blocks[b][i]))
    rs.sort()
    return f"[{rs[50]:.2f}, {rs[1949]:.2f}]"
a, b, c = med["tdrv-run"], med["runc (tdrv config)"], med["runc (runc spec)"]
print(f"tdrv-run's own overhead over runc on its config: {a - b:.1f} ms")
print(f"runc on tdrv's config over runc spec's: {b - c:+.1f} ms")
print(f"ratio tdrv-run / runc run (runc spec) = {a / c:.2f} {ci('tdrv-run', 'runc (runc spec)')} "
      "(target <= 1.2)")
print(f"ratio tdrv-run / runc run (tdrv config) = {a / b:.2f} "
      f"{ci('tdrv-run', 'runc (tdrv config)')}")
if docker:
    print(f"ratio docker run / tdrv-run = {med['docker'] / a:.2f} {ci('docker', 'tdrv-run')} "
          "(target >= 8; each with its default network: docker's bridge, tdrv-run's host)")
    h = med["docker (host network)"]
    print(f"ratio docker run --network host / tdrv-run = {h / a:.2f} "
          f"{ci('docker (host network)', 'tdrv-run')} (the same network as tdrv-run's)")
else:
    print("docker run: skipped (no docker CLI, no Engine, or no busybox:latest image)")
PY
