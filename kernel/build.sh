#!/usr/bin/env bash
# Builds the VM the kernel oracle boots: Linux 6.12 from Debian's pinned linux-source-6.12 with
# test_hmm built in (kernel/config.fragment on tinyconfig), the kernel's own hmm-tests, our
# kernel/hmm-runner and a base initramfs (busybox + kernel/init + both programs).
#
# Everything is cached outside the clone:
#   $CACHE/<debian-version>-<kernel key>/           the unpacked tree, .config, bzImage, hmm-tests
#   $CACHE/<debian-version>-<kernel key>/user-<user key>/   hmm-runner, initramfs.cpio
#   $CACHE/current.json                             the manifest src/oracle/artifacts.ts reads
# The kernel key hashes the fragment and KERNEL_RECIPE (bump it when the kernel steps below change);
# the user key hashes hmm-runner.c, init and USER_RECIPE, so editing the runner does not rebuild Linux.
# The cache is bounded: after a successful run, other kernel trees go, and all but the 8 newest
# runner/initramfs sets.
#
# Environment: HMM_KERNEL_CACHE (default ~/.cache/hmm-debug/kernel), HMM_KERNEL_JOBS (default 2).
set -euo pipefail

KERNEL_DEB_VERSION='6.12.118-1~deb12u1'
KERNEL_RECIPE=1
USER_RECIPE=1
PACKAGES=(build-essential bc flex bison libelf-dev libssl-dev cpio xz-utils busybox-static qemu-system-x86)

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HMM_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hmm-debug/kernel}
JOBS=${HMM_KERNEL_JOBS:-2}
TARBALL=/usr/src/linux-source-6.12.tar.xz

die() { echo "kernel/build.sh: error: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
T_ALL=$(now_ms)
phase() { PHASE=$1; T_PHASE=$(now_ms); echo "==> $PHASE"; }
phase_done() {
  local ms=$(( $(now_ms) - T_PHASE ))
  printf '    %s: %d.%01ds%s\n' "$PHASE" $((ms / 1000)) $(((ms % 1000) / 100)) "${1:+ ($1)}"
}
sha() { sha256sum | cut -c1-12; }

# ---- packages ------------------------------------------------------------------------------
phase packages
installed_version() { dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null | sed -n 's/^ii *//p'; }
missing=()
for p in "${PACKAGES[@]}"; do [ -n "$(installed_version "$p")" ] || missing+=("$p"); done
if [ "$(installed_version linux-source-6.12)" != "$KERNEL_DEB_VERSION" ]; then
  missing+=("linux-source-6.12=$KERNEL_DEB_VERSION")
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    die "missing Debian packages: ${missing[*]}
  install them as root:  apt-get install ${missing[*]}
  (or run this script as root: it installs them itself)"
  fi
  echo "    installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die 'apt-get update failed'
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --allow-downgrades \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
[ -f "$TARBALL" ] || die "$TARBALL is missing although linux-source-6.12 is installed"
BUSYBOX_VERSION=$(installed_version busybox-static)
GCC_VERSION=$(gcc -dumpfullversion)
phase_done "linux-source-6.12 $KERNEL_DEB_VERSION, busybox-static $BUSYBOX_VERSION, gcc $GCC_VERSION"

mkdir -p "$CACHE"
# One build at a time per cache (a second `npm run kernel` waits instead of racing).
exec 9>"$CACHE/build.lock"
flock 9

KERNEL_KEY=$( { echo "$KERNEL_RECIPE $GCC_VERSION"; cat "$HERE/config.fragment"; } | sha)
KDIR=$CACHE/$KERNEL_DEB_VERSION-$KERNEL_KEY
KSRC=$KDIR/linux
echo "    kernel cache: $KDIR"

# ---- unpack --------------------------------------------------------------------------------
phase unpack
if [ -f "$KDIR/.unpacked" ]; then
  phase_done cached
else
  rm -rf "$KDIR"
  mkdir -p "$KDIR/unpack.tmp"
  tar -xJf "$TARBALL" -C "$KDIR/unpack.tmp" || die "cannot unpack $TARBALL"
  mv "$KDIR/unpack.tmp/linux-source-6.12" "$KSRC"
  rmdir "$KDIR/unpack.tmp"
  touch "$KDIR/.unpacked"
  phase_done
fi

# ---- config --------------------------------------------------------------------------------
phase config
if [ -f "$KDIR/.configured" ]; then
  phase_done cached
else
  (
    cd "$KSRC"
    make -s tinyconfig >"$KDIR/config.log" 2>&1
    scripts/kconfig/merge_config.sh -m .config "$HERE/config.fragment" >>"$KDIR/config.log" 2>&1
    make -s olddefconfig >>"$KDIR/config.log" 2>&1
  ) || { tail -n 30 "$KDIR/config.log" >&2; die "configuring the kernel failed (log: $KDIR/config.log)"; }
  # tinyconfig silently drops what it cannot satisfy: every fragment line must be in the result.
  lost=()
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) grep -qxF -- "$line" "$KSRC/.config" || lost+=("$line (got: $(grep -E "^(# )?${line%%=*}[= ]" "$KSRC/.config" || echo 'absent'))") ;;
    esac
  done <"$HERE/config.fragment"
  if [ ${#lost[@]} -gt 0 ]; then
    printf '    not set after olddefconfig: %s\n' "${lost[@]}" >&2
    die "${#lost[@]} option(s) of kernel/config.fragment did not land in .config (a dependency is missing)"
  fi
  touch "$KDIR/.configured"
  phase_done "$(grep -c '=y' "$KSRC/.config") options =y"
fi
CONFIG_HASH=$(sha <"$KSRC/.config")

# ---- bzImage -------------------------------------------------------------------------------
phase bzImage
BZIMAGE=$KSRC/arch/x86/boot/bzImage
if [ -f "$KDIR/.built" ] && [ -f "$BZIMAGE" ]; then
  phase_done cached
else
  echo "    make -j$JOBS bzImage (a few minutes; log: $KDIR/build.log)"
  ( cd "$KSRC" && make -j"$JOBS" bzImage ) >"$KDIR/build.log" 2>&1 &
  make_pid=$!
  # A heartbeat so that a CI log shows progress without the whole make output.
  while kill -0 "$make_pid" 2>/dev/null; do
    for _ in $(seq 30); do kill -0 "$make_pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$make_pid" 2>/dev/null && echo "    ... $(( ($(now_ms) - T_PHASE) / 1000 ))s: $(tail -n 1 "$KDIR/build.log" | cut -c1-100)"
  done
  wait "$make_pid" || { tail -n 40 "$KDIR/build.log" >&2; die "make bzImage failed (log: $KDIR/build.log)"; }
  touch "$KDIR/.built"
  phase_done "$(stat -c %s "$BZIMAGE") bytes"
fi
KERNEL_RELEASE=$(cat "$KSRC/include/config/kernel.release")

# ---- hmm-tests (the kernel's own selftest, from the same tree) -----------------------------
phase hmm-tests
HMM_TESTS=$KDIR/hmm-tests
if [ -f "$HMM_TESTS" ]; then
  phase_done cached
else
  gcc -static -O2 -U_FORTIFY_SOURCE -no-pie -I "$KSRC" -I "$KSRC/tools/include/uapi" \
    -o "$HMM_TESTS.tmp" "$KSRC/tools/testing/selftests/mm/hmm-tests.c" -lpthread -lrt -lm \
    >"$KDIR/hmm-tests.log" 2>&1 || { cat "$KDIR/hmm-tests.log" >&2; die 'building hmm-tests failed'; }
  mv "$HMM_TESTS.tmp" "$HMM_TESTS"
  phase_done
fi

# ---- the runner and the base initramfs -------------------------------------------------------
USER_KEY=$( { echo "$USER_RECIPE $BUSYBOX_VERSION"; cat "$HERE/hmm-runner.c" "$HERE/init"; } | sha)
# What src/oracle/artifacts.ts compares with the checkout it runs from (another worktree may have
# built the manifest from a different runner).
SOURCES_HASH=$(cat "$HERE/hmm-runner.c" "$HERE/init" | sha)
UDIR=$KDIR/user-$USER_KEY
RUNNER=$UDIR/hmm-runner
INITRAMFS=$UDIR/initramfs.cpio
phase hmm-runner
if [ -f "$RUNNER" ]; then
  phase_done cached
else
  mkdir -p "$UDIR"
  gcc -static -O2 -Wall -Wextra -Werror -I "$KSRC" -o "$RUNNER.tmp" "$HERE/hmm-runner.c" \
    >"$UDIR/hmm-runner.log" 2>&1 || { cat "$UDIR/hmm-runner.log" >&2; die 'building kernel/hmm-runner.c failed'; }
  mv "$RUNNER.tmp" "$RUNNER"
  phase_done
fi

phase initramfs
if [ -f "$INITRAMFS" ]; then
  phase_done cached
else
  GEN=$KDIR/gen_init_cpio
  [ -x "$GEN" ] || gcc -O2 -o "$GEN" "$KSRC/usr/gen_init_cpio.c" || die 'building gen_init_cpio failed'
  cat >"$UDIR/initramfs.list" <<LIST
dir /dev 755 0 0
nod /dev/console 600 0 0 c 5 1
dir /proc 755 0 0
dir /sys 755 0 0
dir /tmp 1777 0 0
dir /bin 755 0 0
dir /sbin 755 0 0
dir /usr 755 0 0
dir /usr/bin 755 0 0
dir /usr/sbin 755 0 0
file /bin/busybox /bin/busybox 755 0 0
slink /bin/sh busybox 777 0 0
file /init $HERE/init 755 0 0
file /hmm-tests $HMM_TESTS 755 0 0
file /hmm-runner $RUNNER 755 0 0
LIST
  # A fixed timestamp: the same inputs give the same image.
  "$GEN" -t 0 "$UDIR/initramfs.list" >"$INITRAMFS.tmp" || die 'gen_init_cpio failed'
  mv "$INITRAMFS.tmp" "$INITRAMFS"
  phase_done "$(stat -c %s "$INITRAMFS") bytes"
fi

# ---- manifest ------------------------------------------------------------------------------
json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
{
  echo '{'
  echo "  \"format\": 1,"
  echo "  \"debianVersion\": $(json_string "$KERNEL_DEB_VERSION"),"
  echo "  \"kernelRelease\": $(json_string "$KERNEL_RELEASE"),"
  echo "  \"kernelKey\": $(json_string "$KERNEL_KEY"),"
  echo "  \"configHash\": $(json_string "$CONFIG_HASH"),"
  echo "  \"userKey\": $(json_string "$USER_KEY"),"
  echo "  \"sourcesHash\": $(json_string "$SOURCES_HASH"),"
  echo "  \"bzImage\": $(json_string "$BZIMAGE"),"
  echo "  \"initramfs\": $(json_string "$INITRAMFS"),"
  echo "  \"runner\": $(json_string "$RUNNER"),"
  echo "  \"hmmTests\": $(json_string "$HMM_TESTS"),"
  echo "  \"source\": $(json_string "$KSRC")"
  echo '}'
} >"$CACHE/current.json.tmp"
mv "$CACHE/current.json.tmp" "$CACHE/current.json"

# Bounded cache: the 8 newest runner/initramfs sets (several checkouts may share the cache) and
# one kernel tree (1.8 GB each).
touch "$UDIR"
ls -dt "$KDIR"/user-*/ | tail -n +9 | while IFS= read -r d; do rm -rf "${d%/}"; done
for d in "$CACHE"/*/; do
  d=${d%/}
  if [ "$d" != "$KDIR" ] && [ -f "$d/.unpacked" ]; then
    echo "    removing the previous build $d"
    rm -rf "$d"
  fi
done
ms=$(( $(now_ms) - T_ALL ))
echo "==> done in $((ms / 1000)).$(((ms % 1000) / 100))s: Linux $KERNEL_RELEASE, manifest $CACHE/current.json"
