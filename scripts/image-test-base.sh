#!/usr/bin/env bash
# Makes the base image `npm run test:image` builds the gateway image from,
# without any container registry: a Debian 12 rootfs from Debian's archive
# (debootstrap --variant=minbase) plus this machine's own Node 20 and npm,
# laid out as node:20-bookworm-slim lays them out (/usr/local/bin), imported
# into podman's storage as the tag given as $1.
#
# The rootfs is kept as a tarball in the cache directory ($2, made here),
# one per Node version and architecture: debootstrap takes minutes, an
# import of the tarball seconds. Delete the directory to start afresh.
# Runs at the lowest CPU and I/O priority: the machine may be shared.
set -euo pipefail

tag=${1:?usage: image-test-base.sh TAG CACHE_DIR}
cache=${2:?usage: image-test-base.sh TAG CACHE_DIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

node_bin=$(command -v node)
node_version=$("$node_bin" --version)
case "$node_version" in v20.*) ;; *) echo "image-test-base: node:20 is the production base, this machine's node is $node_version" >&2; exit 1 ;; esac
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
arch=$(dpkg --print-architecture)
tarball="$cache/bookworm-minbase-node-$node_version-$arch.tar"

if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "image-test-base: debootstrap bookworm into $rootfs (a few minutes, once)" >&2
  nice -n 19 ionice -c3 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    echo "image-test-base: debootstrap failed; the end of $cache/debootstrap.log:" >&2
    tail -20 "$cache/debootstrap.log" >&2
    exit 1
  }
  install -D -m 755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  nice -n 19 ionice -c3 tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

nice -n 19 ionice -c3 podman import --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$tarball" "$tag" >/dev/null
echo "image-test-base: $tag from $tarball" >&2
