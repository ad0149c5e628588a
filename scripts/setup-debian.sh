#!/usr/bin/env bash
# Installs the Debian packages Magrathea's tests, lab and demo need, when missing.
# Idempotent and fast when everything is present (one dpkg-query call).
# Services are NOT started by the install: a temporary policy-rc.d refuses every
# start (exit 101) and is put back as it was afterwards, so that no daemon grabs
# 0.0.0.0:22 or :80 and keeps lab hosts from binding their own addresses.
set -euo pipefail

packages=(
  apache2 php8.2-fpm varnish haproxy
  openssh-server openssh-client redis-server rsync curl git
  php8.2-cli util-linux iproute2 procps psmisc mawk
  # What a real LAMP web host has; php8.2-redis also keeps each instance's sessions in its cluster's store.
  php8.2-mysql php8.2-sqlite3 php8.2-gd php8.2-mbstring php8.2-xml php8.2-curl php8.2-zip php8.2-intl php8.2-redis
  tmux  # a real terminal, for the tests of `ssh -t magrathea shell`
  # A cluster's database (role db): the server (mariadbd, mariadb-install-db) without Debian's service, and the client (mariadb, mariadb-dump).
  mariadb-server-core mariadb-client
  # The ISPConfig panel the tests use as a partner (its remote API throws every error as a SoapFault).
  php8.2-soap
  # The browser of the dashboard's tests, driven by playwright-core (which never downloads a browser of its own here).
  chromium
)

find_missing() {
  missing=()
  for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = installed ] || missing+=("$p")
  done
}
find_missing
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing Debian packages: ${missing[*]}" >&2
  echo "setup: run as root (or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi

# One setup at a time on the machine (two checkouts testing at once): the
# second waits, then finds what the first installed. Both would otherwise
# fight over apt's lock and over policy-rc.d.
exec 9>/run/magrathea-setup.lock
flock 9
find_missing
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
backup=""
if [ -e "$policy" ]; then backup=$(mktemp); cp -p "$policy" "$backup"; fi
restore() {
  if [ -n "$backup" ]; then mv -f "$backup" "$policy"; else rm -f "$policy"; fi
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' > "$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
