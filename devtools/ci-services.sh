#!/usr/bin/env bash
# What the container tests need on a Debian bookworm machine, installed and started idempotently
# (CI runs it as root before `make test`): a Docker engine (dockerd without iptables or a bridge:
# containers run with --network host), debootstrap for the base image, Debian's registry and skopeo
# for promotion, and QEMU user emulation for the arm64 images where binfmt_misc can be used.
# A second run changes nothing.
set -euo pipefail
PACKAGES=(docker.io debootstrap docker-registry skopeo qemu-user-static binfmt-support)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "ci-services: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

if ! /usr/bin/docker info >/dev/null 2>&1; then
    echo "ci-services: starting dockerd"
    $SUDO sh -c 'nohup dockerd --iptables=false --bridge=none >/var/log/mediascrub-dockerd.log 2>&1 &'
    for _ in $(seq 60); do
        /usr/bin/docker info >/dev/null 2>&1 && break
        sleep 1
    done
    /usr/bin/docker info >/dev/null 2>&1 || { echo "ci-services: dockerd did not answer (see /var/log/mediascrub-dockerd.log)"; exit 1; }
fi
echo "ci-services: docker engine $(/usr/bin/docker info --format '{{.ServerVersion}}') ready"

# arm64 binaries run under QEMU once binfmt_misc knows it (best effort: the arm64 test says why it skips).
binfmt=/proc/sys/fs/binfmt_misc
[ -e "$binfmt/register" ] || $SUDO mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null || true
if [ -e "$binfmt/register" ] && ! grep -q '^enabled' "$binfmt/qemu-aarch64" 2>/dev/null; then
    $SUDO update-binfmts --enable qemu-aarch64 || echo "ci-services: qemu-aarch64 not registered: arm64 tests will skip"
fi
