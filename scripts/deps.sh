#!/usr/bin/env bash
# Install every build, run and test dependency from Debian's packages.
# Idempotent: when everything is present it changes nothing and asks no network.
set -eu
pkgs=(
  build-essential pkg-config git ca-certificates
  libcurl4-openssl-dev libcjson-dev libyaml-dev libarchive-dev libssl-dev
  bats bats-assert bats-support jq clang-format
  runc busybox-static containernetworking-plugins iproute2 iptables
  docker-registry apache2-utils openssl skopeo umoci docker.io
  python3 hyperfine
  clang libclang-rt-14-dev valgrind
  slurm-wlm munge bash-completion zsh man-db
)
missing=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
