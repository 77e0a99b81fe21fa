#!/usr/bin/env bash
# Manual proof of the project rule: on a fresh Debian 12, as root, `make test`
# and `make run` do all the set-up themselves.
#
# Builds (or reuses, from /var/cache/ringkv-debootstrap) a
# `debootstrap --variant=minbase bookworm` chroot, copies the working tree into
# it (without build*/, run-data/, .git), and runs there, as root:
#   make test                 (installs test deps, builds, runs every suite)
#   timeout 20 make run       (must print the connect hint and keep running)
# Needs root, debootstrap, and the Debian mirror. Not part of `make test`.
#
#   scripts/check-fresh-debian.sh            full check
#   KEEP=1 scripts/check-fresh-debian.sh     keep the chroot afterwards
#   REFRESH=1 ...                            rebuild the cached base chroot
#   BASE_ONLY=1 ...                          only make the cached base chroot
set -euo pipefail

SUITE=bookworm
CACHE=/var/cache/ringkv-debootstrap
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[[ $(id -u) -eq 0 ]] || { echo "check-fresh-debian: must run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "check-fresh-debian: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

# The mirror apt uses on this host (deb822 first, then one-line format).
mirror=""
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
  [[ -f $f ]] || continue
  mirror=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u && / '"$SUITE"'( |$)/ {print u; exit}' "$f")
  [[ -n $mirror ]] && break
done
if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
  mirror=$(awk '$1=="deb" && $3=="'"$SUITE"'" {print $2; exit}' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}
security=$(grep -hE '^URIs:.*security|^deb .*security' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
           | awk '{print $2; exit}' || true)
security=${security:-http://deb.debian.org/debian-security}
echo "check-fresh-debian: mirror $mirror, security $security"

mkdir -p "$CACHE"
base="$CACHE/$SUITE-minbase-$(dpkg --print-architecture).v2.tar.gz"
t0=$(date +%s)
if [[ ! -s $base || -n ${REFRESH:-} ]]; then
  echo "check-fresh-debian: debootstrap --variant=minbase $SUITE (cached afterwards in $base)"
  bs=$(mktemp -d /var/tmp/ringkv-debootstrap.XXXXXX)
  chmod 755 "$bs"
  debootstrap --variant=minbase "$SUITE" "$bs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 30 "$CACHE/debootstrap.log"; rm -rf --one-file-system "$bs"; exit 1; }
  tar --numeric-owner -C "$bs" -czf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf --one-file-system "$bs"
  echo "check-fresh-debian: base chroot made in $(( $(date +%s) - t0 ))s"
fi

[[ -z ${BASE_ONLY:-} ]] || exit 0

work=$(mktemp -d /var/tmp/ringkv-fresh.XXXXXX)
root="$work/root"
mounts=()
cleanup() {
  local rc=$? m i
  for ((i=${#mounts[@]}-1; i>=0; i--)); do
    m=${mounts[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "check-fresh-debian: could not unmount $m" >&2
  done
  # Delete only when nothing is mounted below the chroot any more.
  if [[ -z ${KEEP:-} ]] && ! findmnt -rno TARGET | grep -q "^$root"; then
    rm -rf --one-file-system "$work"
  else
    echo "check-fresh-debian: chroot left in $root"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$root"
tar --numeric-owner -C "$root" -xzf "$base"
chmod 755 "$root"   # mktemp -d made it 0700: apt's _apt user could not enter it

# Make it look like a fresh Debian 12 machine's apt: main + updates + security,
# empty package lists (a fresh install's are stale or absent).
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
find "$root/var/lib/apt/lists" -maxdepth 1 -type f -delete
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# No daemon started by a package's postinst may escape into the host.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"; chmod 755 "$root/usr/sbin/policy-rc.d"

mnt() { mount "$@"; mounts+=("${@: -1}"); }
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/dev/shm" "$root/run"
mnt -t tmpfs tmpfs "$root/run"

# The working tree (it may be uncommitted), without build products.
mkdir -p "$root/src/ringkv"
tar -C "$REPO" --exclude=./.git --exclude='./build' --exclude='./build-*' \
    --exclude=./run-data --exclude=./bench/out --exclude=./tests/fuzz/corpus-run -cf - . \
  | tar -C "$root/src/ringkv" -xf -

in_chroot() {
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb CI=true LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /src/ringkv && $1" </dev/null
}

# A minimal Debian has no make, and nothing in the repo can change that: the
# one step before the two commands (README, "Fresh machine").
if ! in_chroot "command -v make" >/dev/null; then
  echo "check-fresh-debian: no make in the fresh system; installing it by hand first (apt-get install make)"
  in_chroot "apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends make >/dev/null"
fi
before=$(in_chroot "dpkg-query -W -f='\${Package}\n' | sort")
echo "check-fresh-debian: === make test (in chroot) ==="
t1=$(date +%s)
set +e
in_chroot "make test" 2>&1 | tee "$work/make-test.log"
test_rc=${PIPESTATUS[0]}
set -e
t2=$(date +%s)
after=$(in_chroot "dpkg-query -W -f='\${Package}\n' | sort")
added=$(comm -13 <(echo "$before") <(echo "$after"))
echo "check-fresh-debian: make test exit $test_rc in $((t2 - t1))s; $(echo "$added" | grep -c . ) packages installed:"
echo "$added" | tr '\n' ' '; echo

echo "check-fresh-debian: === timeout 20 make run (in chroot, own network namespace) ==="
set +e
unshare --net bash -c "ip link set lo up; $(declare -f in_chroot); root='$root'; in_chroot 'timeout 20 make run'" \
  2>&1 | tee "$work/make-run.log"
run_rc=${PIPESTATUS[0]}
set -e
run_ok=no
# 124 = still running when timeout stopped it: that is the success case.
if [[ $run_rc -eq 124 ]] && grep -q 'redis-cli -p 7001' "$work/make-run.log"; then run_ok=yes; fi
echo "check-fresh-debian: make run exit $run_rc, started and printed the hint: $run_ok"

cp "$work/make-test.log" "$work/make-run.log" "$CACHE/" 2>/dev/null || true
echo "check-fresh-debian: total $(( $(date +%s) - t0 ))s; logs in $CACHE/make-test.log, $CACHE/make-run.log"
[[ $test_rc -eq 0 && $run_ok == yes ]]
