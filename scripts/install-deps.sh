#!/usr/bin/env bash
# Install the Debian packages ringkv needs, and only those that are missing.
#
#   scripts/install-deps.sh build   compile ringkvd, the ringkv CLI and the unit tests
#   scripts/install-deps.sh test    build + what `make test` needs (clang/libFuzzer,
#                                   sanitizer runtime, redis-cli, redis-py, ip/nft for
#                                   cluster tests)
#   scripts/install-deps.sh bench   test + redis-server (the baseline of bench/resp-bench.sh)
#
# Silent and fast (one dpkg-query) when everything is present; otherwise runs
# `apt-get update` once and `apt-get install --no-install-recommends` for the
# missing packages. Needs root only when something is missing. Nothing here
# may need python3: a minbase Debian has none.
set -euo pipefail

# --- package sets (Debian 12 "bookworm" names) -------------------------------
# build: CMakeLists.txt runs pkg_check_modules for libuv, lmdb, libxxhash, inih
# and cmocka (the unit tests are part of every build), so all are build deps;
# libhttp-parser (the HTTP API's parser, src/net/http.c) and librocksdb (the
# rocksdb engine, src/store/rocksdb.c) through find_library.
BUILD_PKGS=(
  make cmake gcc libc6-dev pkg-config
  libuv1-dev liblmdb-dev libxxhash-dev libinih-dev libcmocka-dev
  libprotobuf-c-dev protobuf-c-compiler
  libhttp-parser-dev librocksdb-dev
)
# test: the fuzz build (clang + libFuzzer/ASan runtime, not pulled in without
# recommends), clients for the process tests (redis-cli; redis-py, which pulls
# in python3, for a client library's view of the set commands), and the tools
# they use to kill nodes and cut the network between them.
TEST_PKGS=(
  clang libclang-rt-14-dev
  redis-tools python3-redis curl
  iproute2 nftables procps
)
# bench: a real Redis to compare against.
BENCH_PKGS=(
  redis-server
)

usage() { echo "usage: $0 build|test|bench" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
case "$1" in
  build) pkgs=("${BUILD_PKGS[@]}") ;;
  test)  pkgs=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  bench) pkgs=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) usage ;;
esac

# One dpkg-query for all: it prints a line per known package (unknown ones go
# to stderr and make it exit 1, which is fine: they are simply missing).
declare -A installed=()
while IFS=$'\t' read -r name status; do
  [[ $status == installed ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package}\t${db:Status-Status}\n' "${pkgs[@]}" 2>/dev/null || true)

missing=()
for p in "${pkgs[@]}"; do
  [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps ($1): missing Debian packages: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: not root, cannot install them. As root run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_opts=(-y -q -o Dpkg::Use-Pty=0 -o APT::Color=0)
apt-get "${apt_opts[@]}" update >/dev/null
apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}"
echo "install-deps ($1): installed ${missing[*]}"
