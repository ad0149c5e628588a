#!/bin/sh
# Runs one validator (apache2 -t, php-fpm -t, varnishd -C, haproxy -c) on the
# rendered files of one host, seen at their real paths, without touching the
# real ones. Run it under `unshare --mount --propagation private`: each of TOPS
# (etc, var...) gets an overlay, TREE's files are copied in,
# the instances' unix users are added to the overlaid /etc/passwd (FPM refuses
# a pool whose user does not exist), and DIRS are created (document roots, log
# and socket directories), so the validator sees what a prepared host has.
#
# usage: check-rendered-host.sh WORK TREE TOPS USERS DIRS -- COMMAND [ARG...]
#   TOPS, USERS, DIRS: comma-separated lists (names and paths are validated: no commas)
set -eu
work=$1 tree=$2 tops=$3 users=$4 dirs=$5
shift 5
[ "$1" = "--" ] && shift

# Never copy or write outside an overlay.
for entry in "$tree"/* /etc; do
  case ",$tops," in
    *,"${entry##*/}",*) ;;
    *) echo "check-rendered-host: /${entry##*/} is not overlaid" >&2; exit 90 ;;
  esac
done

n=0
IFS=,
for top in $tops; do
  n=$((n + 1))
  mkdir -p "$work/upper$n" "$work/work$n"
  mount -t overlay overlay -o "lowerdir=/$top,upperdir=$work/upper$n,workdir=$work/work$n" "/$top"
done
unset IFS
cp -R "$tree/." /

uid=61000
IFS=,
for user in $users; do
  echo "$user:x:$uid:$uid::/nonexistent:/usr/sbin/nologin" >> /etc/passwd
  echo "$user:x:$uid:" >> /etc/group
  uid=$((uid + 1))
done
for dir in $dirs; do mkdir -p "$dir"; done
unset IFS

exec "$@"
