#!/usr/bin/env bash
# Makes the base image `npm run test:image` builds the gateway image from,
# without any container registry: a Debian 12 rootfs from Debian's archive
# (debootstrap --variant=minbase) plus this machine's own Node 20 and npm,
# laid out as node:20-bookworm-slim lays them out (/usr/local/bin), imported
# into podman's storage as the tag given as $1.
#
# npm's cafile, when this machine's npm has one (a network that intercepts
# TLS), goes into the base with a global npmrc naming it, so that `npm ci`
# in the build trusts what npm trusts here (node:20-bookworm-slim has neither).
#
# The debootstrapped rootfs is kept in the cache directory ($2, made here),
# one per architecture: debootstrap takes minutes, the rest seconds. Node,
# npm and the cafile are copied in at each run. Delete the directory to
# start afresh. Runs at the lowest CPU and I/O priority: the machine may be shared.
set -euo pipefail

tag=${1:?usage: image-test-base.sh TAG CACHE_DIR}
cache=${2:?usage: image-test-base.sh TAG CACHE_DIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
low=(nice -n 19 ionice -c3)

node_bin=$(command -v node)
node_version=$("$node_bin" --version)
case "$node_version" in v20.*) ;; *) echo "image-test-base: node:20 is the production base, this machine's node is $node_version" >&2; exit 1 ;; esac
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
cafile=$(npm config get cafile)
case "$cafile" in undefined|null) cafile='' ;; esac
rootfs="$cache/bookworm-minbase-$(dpkg --print-architecture)"

mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if [ ! -e "$rootfs/.complete" ]; then
  rm -rf "$rootfs"
  echo "image-test-base: debootstrap bookworm into $rootfs (a few minutes, once)" >&2
  "${low[@]}" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    echo "image-test-base: debootstrap failed; the end of $cache/debootstrap.log:" >&2
    tail -20 "$cache/debootstrap.log" >&2
    exit 1
  }
  rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
  touch "$rootfs/.complete"
fi

# This machine's Node and npm, where node:20-bookworm-slim has them; the same again at each run.
rm -rf "$rootfs/usr/local/lib/node_modules/npm" "$rootfs/usr/local/etc/npmrc" "$rootfs/usr/local/share/npm-cafile.pem"
install -D -m 755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
if [ -n "$cafile" ]; then
  install -D -m 644 "$cafile" "$rootfs/usr/local/share/npm-cafile.pem"
  install -d "$rootfs/usr/local/etc"
  echo "cafile=/usr/local/share/npm-cafile.pem" >"$rootfs/usr/local/etc/npmrc"
fi

"${low[@]}" tar -C "$rootfs" --numeric-owner --exclude=./.complete -c . |
  "${low[@]}" podman import --quiet --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$tag" >/dev/null
echo "image-test-base: $tag from $rootfs (node $node_version${cafile:+, npm cafile $cafile})" >&2
