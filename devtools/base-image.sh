#!/usr/bin/env bash
# The one base both images build on, where no registry is reachable: Debian bookworm made with
# `debootstrap --variant=minbase` from the mirror apt uses here, loaded as ENGINE image NAME, and
# configured like the registry's debian:bookworm-slim (bookworm, -updates and -security sources; no
# docs, man pages or apt caches in later installs). Does nothing when NAME already exists.
# The root file system is loaded as a one-layer image archive rather than with `docker import`, whose
# --platform dockerd 20.10 ignores: the image must say its architecture for arm64 builds to use it.
#   devtools/base-image.sh docker|podman NAME amd64|arm64
set -euo pipefail
engine=$1 name=$2 arch=$3
if "$engine" image inspect "$name" >/dev/null 2>&1; then
    exit 0
fi
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
command -v debootstrap >/dev/null || { echo "base-image: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }

# The mirrors apt uses on this machine (deb822 or one-line sources), deb.debian.org otherwise.
uris=$({ cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | sed -n 's/^URIs: *//p'; \
       { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | awk '$1 == "deb" {print $2}')
mirror=$(tr ' ' '\n' <<<"$uris" | grep -v security | grep . | head -n1 || true)
security=$(tr ' ' '\n' <<<"$uris" | grep security | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}

root=$(mktemp -d)
trap '$SUDO rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm ($arch) from $mirror"
$SUDO debootstrap --variant=minbase --arch="$arch" bookworm "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
$SUDO tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
$SUDO rm -f "$root/etc/apt/sources.list"
# What debian:bookworm-slim configures: packages installed later leave no docs or apt caches behind.
$SUDO tee "$root/etc/dpkg/dpkg.cfg.d/mediascrub-slim" >/dev/null <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
DPKG
$SUDO tee "$root/etc/apt/apt.conf.d/mediascrub-slim" >/dev/null <<'APT'
APT::Install-Recommends "false";
Binary::apt::APT::Keep-Downloaded-Packages "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT
$SUDO sh -c "rm -rf '$root'/var/lib/apt/lists/* '$root'/var/cache/apt/* '$root'/var/log/*.log \
    '$root'/usr/share/man/* '$root'/usr/share/info/* '$root'/usr/share/locale/*; \
    find '$root'/usr/share/doc -type f ! -name copyright -delete"
archive=$(mktemp -d)
trap '$SUDO rm -rf "$root" "$archive"' EXIT
$SUDO tar --numeric-owner -C "$root" -cf "$archive/layer.tar" .
diff_id=$(sha256sum "$archive/layer.tar" | cut -d' ' -f1)
cat >"$archive/config.json" <<CONFIG
{"architecture": "$arch", "os": "linux", "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
 "rootfs": {"type": "layers", "diff_ids": ["sha256:$diff_id"]},
 "history": [{"created_by": "debootstrap --variant=minbase bookworm (devtools/base-image.sh)"}]}
CONFIG
config_id=$(sha256sum "$archive/config.json" | cut -d' ' -f1)
mv "$archive/config.json" "$archive/$config_id.json"
printf '[{"Config": "%s.json", "RepoTags": ["%s"], "Layers": ["layer.tar"]}]' "$config_id" "$name" >"$archive/manifest.json"
tar -C "$archive" -c manifest.json "$config_id.json" layer.tar | "$engine" load >/dev/null
echo "base-image: $name ($("$engine" image inspect --format '{{.Size}}' "$name" | numfmt --to=iec) uncompressed)"
