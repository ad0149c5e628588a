# Magrathea's steps on a host. The deployer sends this script with every call
# (`sh -c SCRIPT magrathea-agent COMMAND ARG...` over its SSH connection), so
# hosts need nothing installed and always run the gateway's version. Every
# argument arrives single-quoted; every step can run twice and converge (a
# deploy job is re-run when its worker dies). Names and paths were validated
# on the gateway: no spaces, quotes or newlines.
set -eu
command=$1
shift

die() { echo "magrathea-agent: $*" >&2; exit 1; }

case "$command" in

# prepare USER ROOT LOGS ID SHARED...  (env file content on stdin)
# The instance's unix user, its directories, the release's shared links and env file.
prepare)
  user=$1 root=$2 logs=$3 id=$4
  shift 4
  if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir "$root" --shell /usr/sbin/nologin "$user"
  fi
  mkdir -p "$root/releases/$id" "$root/shared" "$logs"
  chown "$user:$user" "$logs"
  release="$root/releases/$id"
  for path in "$@"; do
    # Seeded from the release the first time, kept across releases afterwards.
    if [ ! -e "$root/shared/$path" ] && [ ! -L "$root/shared/$path" ]; then
      mkdir -p "$(dirname "$root/shared/$path")"
      if [ -d "$release/$path" ] && [ ! -L "$release/$path" ]; then cp -a "$release/$path" "$root/shared/$path"; else mkdir -p "$root/shared/$path"; fi
      chown -R "$user:$user" "$root/shared/$path"
    fi
    rm -rf "${release:?}/$path"
    mkdir -p "$(dirname "$release/$path")"
    up=$(echo "releases/$id/$path" | sed 's#[^/]*/#../#g; s#[^/]*$##')
    ln -sfn "${up}shared/$path" "$release/$path"
  done
  umask 027
  cat > "$root/releases/$id.env.tmp"
  chown "root:$user" "$root/releases/$id.env.tmp"
  mv -f "$root/releases/$id.env.tmp" "$root/releases/$id.env"
  ;;

# view STAGED DIR[,DIR...] -- ARGV...   (run under unshare --mount)
# Runs ARGV with each DIR showing its live files plus the staged ones.
view)
  staged=$1 dirs=$2
  shift 2
  [ "$1" = "--" ] && shift
  work=$(mktemp -d)
  n=0
  IFS=,
  for dir in $dirs; do
    n=$((n + 1))
    mkdir -p "$work/$n" "$dir"
    cp -a "$dir/." "$work/$n/"
    if [ -d "$staged$dir" ]; then cp -a "$staged$dir/." "$work/$n/"; fi
    mount --bind "$work/$n" "$dir"
  done
  unset IFS
  status=0
  "$@" || status=$?
  IFS=,
  for dir in $dirs; do umount -l "$dir" || true; done
  unset IFS
  rm -rf "$work"
  exit "$status"
  ;;

# install STAGED BACKUP
# Puts every staged file in place, each by an atomic rename, after copying
# the file it replaces (or a marker that there was none) under BACKUP.
install)
  staged=$1 backup=$2
  mkdir -p "$backup"
  (cd "$staged" && find . -type f) | while read -r file; do
    target=${file#.}
    mkdir -p "$(dirname "$target")" "$(dirname "$backup$target")"
    if [ ! -e "$backup$target" ] && [ ! -e "$backup$target.absent" ]; then
      if [ -e "$target" ]; then cp -p "$target" "$backup$target"; else : > "$backup$target.absent"; fi
    fi
    cp -p "$staged$target" "$target.magrathea-new"
    mv -f "$target.magrathea-new" "$target"
  done
  ;;

# restore BACKUP
# Puts back what install replaced.
restore)
  backup=$1
  [ -d "$backup" ] || exit 0
  (cd "$backup" && find . -type f) | while read -r file; do
    target=${file#.}
    case "$target" in
      *.absent) rm -f "${target%.absent}" ;;
      *) cp -p "$backup$target" "$target.magrathea-new" && mv -f "$target.magrathea-new" "$target" ;;
    esac
  done
  ;;

# switch ROOT ID [-- ARGV...]
# Points current at releases/ID: a relative symlink renamed over the old
# one. Then runs ARGV (the PHP-FPM reload), in the same call.
switch)
  root=$1 id=$2
  shift 2
  [ -d "$root/releases/$id" ] || die "no release $id in $root/releases"
  ln -sfn "releases/$id" "$root/current.magrathea-new"
  mv -T "$root/current.magrathea-new" "$root/current"
  if [ "${1:-}" = "--" ]; then
    shift
    "$@" || die "switched to $id, then $* exited with $?"
  fi
  ;;

# hook USER ROOT ID COMMAND
# The release hook, as the instance's user, in the new release, with its env.
hook)
  user=$1 root=$2 id=$3 hook=$4
  cd "$root/releases/$id"
  exec env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$root" LANG=C.UTF-8 \
    setpriv --reuid="$user" --regid="$user" --init-groups -- \
    sh -c 'set -a; . "$1"; set +a; shift; exec sh -c "$1"' hook "$root/releases/$id.env" "$hook"
  ;;

# cleanup ROOT KEEP ID... [--staging DIR]
# Removes releases beyond the KEEP newest, never one of the IDs given
# (current, previous); with --staging, the deploy's staged configs too.
cleanup)
  root=$1 keep=$2
  shift 2
  protected=
  while [ $# -gt 0 ]; do
    case "$1" in
      --staging) rm -rf "$2" "$2.backup"; shift 2 ;;
      *) protected="$protected $1"; shift ;;
    esac
  done
  set -- $protected
  cd "$root/releases"
  ls -d r[0-9]* 2>/dev/null | grep -v '\.env$' | sort -t r -k 2 -n -r | tail -n +"$((keep + 1))" | while read -r old; do
    for protected in "$@"; do [ "$old" = "$protected" ] && continue 2; done
    rm -rf "./$old" "./$old.env"
  done
  ;;

# status CODE URL HOST_HEADER SECONDS
# Exits 0 once URL, asked with that Host, answers CODE; gives up after
# SECONDS (graceful reloads take effect a moment after they return).
status)
  want=$1 url=$2 host=$3 seconds=$4
  deadline=$(($(date +%s) + seconds))
  while :; do
    got=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Host: $host" -H 'User-Agent: magrathea-verify' "$url" || true)
    [ "$got" = "$want" ] && exit 0
    [ "$(date +%s)" -ge "$deadline" ] && die "$url (Host: $host) answered ${got:-nothing}, expected $want"
    sleep 0.2
  done
  ;;

# without FILE[,FILE...] -- ARGV...   (run under unshare --mount, around view)
# Runs ARGV with each FILE absent from its directory: what a check sees once
# they are removed. Nested around `view`, the staged files show too.
without)
  files=$1
  shift
  [ "$1" = "--" ] && shift
  work=$(mktemp -d)
  n=0 mounted=
  for dir in $(echo "$files" | tr , '\n' | sed 's#/[^/]*$##' | sort -u); do
    [ -d "$dir" ] || continue
    n=$((n + 1))
    mkdir -p "$work/$n"
    cp -a "$dir/." "$work/$n/"
    for file in $(echo "$files" | tr , '\n'); do
      if [ "${file%/*}" = "$dir" ]; then rm -f "$work/$n/${file##*/}"; fi
    done
    mount --bind "$work/$n" "$dir"
    mounted="$mounted $dir"
  done
  status=0
  "$@" || status=$?
  for dir in $mounted; do umount -l "$dir" || true; done
  rm -rf "$work"
  exit "$status"
  ;;

# remove BACKUP FILE...
# Deletes each FILE after copying it (or a marker that there was none) under
# BACKUP, as install does: restore puts it back.
remove)
  backup=$1
  shift
  for target in "$@"; do
    mkdir -p "$(dirname "$backup$target")"
    if [ ! -e "$backup$target" ] && [ ! -e "$backup$target.absent" ]; then
      if [ -e "$target" ]; then cp -p "$target" "$backup$target"; else : > "$backup$target.absent"; fi
    fi
    if [ -e "$target" ]; then rm -f "$target" && echo "removed $target"; fi
  done
  ;;

# purge USER ROOT LOGS [PATH...]
# Removes an instance from a web host once no config names it any more: the
# processes of its user (in this host's mount namespace: elsewhere the same
# uid may be another host's user), its tree and logs (rm does not follow the
# links an app may have planted), the other PATHs, its user and its group
# (userdel keeps a group another user, like www-data, is a member of).
purge)
  user=$1 root=$2 logs=$3
  shift 3
  if uid=$(id -u "$user" 2>/dev/null); then
    mine=$(readlink /proc/$$/ns/mnt)
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      left=
      for pid in $(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' -uid "$uid" -printf '%f\n' 2>/dev/null); do
        if [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$mine" ]; then left=1; kill -KILL "$pid" 2>/dev/null || true; fi
      done
      [ -z "$left" ] && break
      [ "$attempt" = 10 ] && die "processes of $user are still running"
      sleep 0.2
    done
  fi
  # What was there is printed, one word a line: a second run says it found nothing.
  if [ -e "$root" ]; then rm -rf "$root" && echo files; fi
  if [ -e "$logs" ]; then rm -rf "$logs" && echo logs; fi
  rm -rf "$@"
  rmdir "${root%/*}" "${logs%/*}" 2>/dev/null || true
  # -f: another host of a machine shared by several (the lab) may run processes under the same uid.
  if id -u "$user" >/dev/null 2>&1; then userdel -f "$user" && echo user; fi
  if getent group "$user" >/dev/null 2>&1; then groupdel "$user" && echo group; fi
  ;;

*)
  die "unknown command $command"
  ;;
esac
