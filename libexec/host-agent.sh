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

# as_user USER ARGV...: ARGV as the instance's user, its groups, no way back to root.
as_user() {
  u=$1
  shift
  env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 setpriv --reuid="$u" --regid="$u" --init-groups --no-new-privs -- "$@"
}

# wait_status CODE URL HOST_HEADER SECONDS: see status.
wait_status() {
  want=$1 url=$2 host=$3 seconds=$4
  deadline=$(($(date +%s) + seconds))
  while :; do
    got=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -H "Host: $host" -H 'User-Agent: magrathea-verify' "$url" || true)
    [ "$got" = "$want" ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && die "$url (Host: $host) answered ${got:-nothing}, expected $want within $seconds s"
    sleep 0.2
  done
}

case "$command" in

# prepare USER OWNER ROOT LOGS WEB ID [--uid N] [--storage MOUNT DIR] [--] SHARED...  (env file content on stdin)
# The instance's unix user (recorded as OWNER's: no two instances share
# one), its directories, the release's shared links and env file. The
# instance root is root's, readable by the instance's group only (its
# user, and the web server WEB as a member); the release is root's and
# read-only to the app, which writes only to its shared dirs and tmp/. Root
# never acts inside a tree the app can write: shared dirs are seeded as the
# instance's user. With --uid, a new user and its group get that number
# (the same on every host). With --storage, shared dirs live in DIR, on the
# cluster's shared filesystem mounted at MOUNT, instead of ROOT/shared.
# Prints "web-groups-changed" when WEB joined the group (the web server must
# then be restarted gracefully to read the instance's files), and "not-live"
# when ROOT has no current release (nothing is served from it yet).
prepare)
  user=$1 owner=$2 root=$3 logs=$4 web=$5 id=$6
  shift 6
  uid= storage= sdir=
  while [ $# -gt 0 ]; do
    case "$1" in
      --uid) uid=$2; shift 2 ;;
      --storage) storage=$2 sdir=$3; shift 3 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  record="magrathea $owner"
  [ -L "$root/current" ] || echo not-live
  # Each program started costs: the common case (all in place already) starts few.
  entry=$(getent passwd "$user") || entry=
  if [ -z "$entry" ]; then
    if [ -n "$uid" ]; then
      # Never a number another user or group holds: they would own each other's files on shared storage.
      held=$(getent passwd "$uid" | cut -d: -f1) || true
      [ -z "$held" ] || die "uid $uid of $owner is held by unix user $held on this host"
      held=$(getent group "$uid" | cut -d: -f1) || true
      [ -z "$held" ] || [ "$held" = "$user" ] || die "gid $uid of $owner is held by group $held on this host"
      getent group "$user" >/dev/null || groupadd --system --gid "$uid" "$user"
      # --no-log-init: lastlog and faillog are indexed by uid, and would grow to hundreds of GB (sparse) for this one.
      useradd --system --no-log-init --uid "$uid" --gid "$uid" --no-create-home --home-dir "$root/tmp" --shell /usr/sbin/nologin --comment "$record" "$user"
    else
      useradd --system --user-group --no-create-home --home-dir "$root/tmp" --shell /usr/sbin/nologin --comment "$record" "$user"
    fi
  else
    # name:password:uid:gid:comment:home:shell
    rest=${entry#*:*:*:*:}
    found=${rest%%:*} rest=${rest#*:}
    if [ "$found" != "$record" ]; then
      # Users made before the record existed had no comment and the instance root as home.
      [ -z "$found" ] && [ "${rest%%:*}" = "$root" ] || die "unix user $user belongs to ${found:-someone else}, not to $owner"
      usermod --comment "$record" --home "$root/tmp" "$user"
    fi
  fi
  if [ -n "$sdir" ]; then
    # Files on shared storage carry numbers: the user must have the same ones on every web host.
    have="$(id -u "$user"):$(getent group "$user" | cut -d: -f3)"
    [ "$have" = "$uid:$uid" ] || die "unix user $user has uid:gid $have on this host, and the cluster's storage needs $uid:$uid on every web host (a user made before Magrathea numbered them: renumber it with usermod -u $uid and groupmod -g $uid while the instance is stopped, and chown its files)"
  fi
  case " $(id -nG "$web") " in
    *" $user "*) ;;
    *) usermod -a -G "$user" "$web"; echo web-groups-changed ;;
  esac
  release="$root/releases/$id"
  mkdir -p "$release" "$logs"
  mount=",$(findmnt -n -o OPTIONS -T "$root" 2>/dev/null || true),"
  case "$mount" in *,nosuid,*) case "$mount" in *,nodev,*) ;; *) mount= ;; esac ;; *) mount= ;; esac
  [ -n "$mount" ] || echo "warning: $root is not on a nosuid,nodev mount (see the security model in Magrathea's README)"
  for dir in shared tmp; do
    [ -d "$root/$dir" ] && [ ! -L "$root/$dir" ] || { rm -f "$root/$dir"; mkdir "$root/$dir"; }
  done
  # Owners and modes read at once (no link is followed: shared and tmp are real directories now), set where they differ.
  want="$root root:$user:750
$root/releases root:$user:750
$root/shared $user:$user:750
$root/tmp $user:$user:700
$logs root:$user:750"
  have=$(stat -c '%n %U:%G:%a' "$root" "$root/releases" "$root/shared" "$root/tmp" "$logs")
  if [ "$have" != "$want" ]; then
    chown root:"$user" "$root" "$root/releases" "$logs"
    chown "$user:$user" "$root/shared" "$root/tmp"
    chmod 0750 "$root" "$root/releases" "$logs" "$root/shared"
    chmod 0700 "$root/tmp"
  fi
  # What Varnish's probe asks for (every vhost's /.well-known/magrathea-probe), served by Apache without
  # PHP: one file per host, beside the instance roots, where only root writes.
  probe="${root%/*/*}/probe.txt"
  [ -f "$probe" ] && [ ! -L "$probe" ] || { rm -rf "$probe" && printf 'ok\n' > "$probe.tmp" && chmod 0644 "$probe.tmp" && mv -f "$probe.tmp" "$probe"; }
  # A link or second name planted while the directory was the app's: root (Apache, logs) must not follow it.
  find "$logs" -mindepth 1 -maxdepth 1 \( -name access.log -o -name error.log -o -name php-error.log \) \( -type l -o ! -type f -o -links +1 \) -exec rm -rf {} +
  [ -e "$logs/php-error.log" ] || install -m 0640 -o "$user" -g "$user" /dev/null "$logs/php-error.log"
  if [ -n "$sdir" ]; then
    # Without the mount, files would quietly stay on this host alone: exactly what storage is for.
    mountpoint -q "$storage" || die "storage $storage is not a mount point on this host: the cluster's shared filesystem must be mounted there"
    case "$sdir" in "$storage"/*/*) ;; *) die "storage dir $sdir is not below $storage" ;; esac
    # Only root may make names at the top of the storage: an app's user could otherwise plant another app's directory there.
    case "$(stat -c %u:%A "$storage")" in 0:d????-??-?) ;; *) die "storage $storage must be owned by root and writable by root only (it is $(stat -c '%U:%G %a' "$storage"))" ;; esac
    mount=",$(findmnt -n -o OPTIONS -T "$storage" 2>/dev/null || true),"
    case "$mount" in *,nosuid,*) case "$mount" in *,nodev,*) ;; *) mount= ;; esac ;; *) mount= ;; esac
    [ -n "$mount" ] || echo "warning: storage $storage is not mounted nosuid,nodev (see the security model in Magrathea's README)"
    # <storage>/<app> is root's: nothing the app can write lies between the mount and its own directory.
    parent=${sdir%/*}
    [ ! -L "$parent" ] && [ ! -L "$sdir" ] || die "storage $sdir: a symbolic link on the way"
    mkdir -p "$parent"
    [ "$(stat -c %U:%G:%a "$parent")" = root:root:711 ] || { chown root:root "$parent" && chmod 0711 "$parent"; }
    # Every web host runs this at once: the first mkdir wins, the others find it.
    mkdir -p "$sdir"
    [ "$(stat -c %U:%G:%a "$sdir")" = "$user:$user:750" ] || { chown "$user:$user" "$sdir" && chmod 0750 "$sdir"; }
    base=$sdir
  else
    base=$root/shared
  fi
  app=${owner%.*} instance_env=${owner#*.}
  for path in "$@"; do
    # As many ../ as the link has directories above it in the instance root.
    up= rest=releases/$id/$path
    while [ "${rest#*/}" != "$rest" ]; do up=../$up rest=${rest#*/}; done
    if [ -n "$sdir" ]; then target=$sdir/$path; else target=${up}shared/$path; fi
    ours=
    if [ -L "$release/$path" ]; then
      now=$(readlink "$release/$path")
      # Linked already (the release is prepared again: a rerun, a rollback).
      [ "$now" = "$target" ] && continue
      # Linked by an earlier prepare to where the instance's shared dirs were then (the cluster's storage changed since).
      case "$now" in "${up}shared/$path" | /*/"$app/$instance_env/$path") ours=1 ;; esac
    fi
    # The path's directories in the release must be real ones (also checked on the gateway).
    prefix= rest=$path
    while [ -n "$rest" ]; do
      prefix=${prefix:+$prefix/}${rest%%/*}
      case "$rest" in */*) rest=${rest#*/} ;; *) rest= ;; esac
      [ "$prefix" = "$path" ] && [ -n "$ours" ] && continue
      [ -L "$release/$prefix" ] && die "shared path $path: $prefix is a symbolic link in release $id"
    done
    # Seeded the first time (from this host's own shared files when storage is new to the
    # instance, else from the release), kept across releases afterwards; as the app's user.
    # Built aside and renamed into place: the other web hosts seed the same storage at once.
    from=
    [ -z "$sdir" ] || from=$root/shared
    as_user "$user" sh -c 'base=$1 release=$2 path=$3 own=$4
      [ -e "$base/$path" ] || [ -L "$base/$path" ] && exit 0
      seed=$base/.magrathea-seed.$(hostname).$$
      rm -rf "$seed"
      mkdir -p "$seed"
      if [ -n "$own" ] && [ -d "$own/$path" ] && [ ! -L "$own/$path" ]; then cp -R -p "$own/$path/." "$seed/"
      elif [ -d "$release/$path" ] && [ ! -L "$release/$path" ]; then cp -R -p "$release/$path/." "$seed/"; fi
      mkdir -p "$(dirname "$base/$path")"
      mv -T "$seed" "$base/$path" 2>/dev/null || rm -rf "$seed"
      [ -d "$base/$path" ]' \
      seed "$base" "$release" "$path" "$from" || die "shared path $path: cannot create it in $base as $user"
    rm -rf "${release:?}/$path"
    case "$path" in */*) mkdir -p "$release/${path%/*}" ;; esac
    ln -sfn "$target" "$release/$path"
    # Apache follows a link only when it and its target have one owner (SymLinksIfOwnerMatch).
    chown -h "$user:$user" "$release/$path"
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
  # Paths hold no spaces (validated on the gateway): lists are words, never patterns (set -f).
  # Directories made, and what is there backed up (once: a rerun keeps the first backup), in one program each.
  set -f
  targets=$(cd "$staged" && find . -type f | sed 's#^\.##')
  dirs=
  for target in $targets; do dirs="$dirs ${target%/*} $backup${target%/*}"; done
  mkdir -p "$backup" $dirs
  saved=
  for target in $targets; do
    [ -e "$backup$target" ] || [ -e "$backup$target.absent" ] && continue
    if [ -e "$target" ]; then saved="$saved $target"; else : > "$backup$target.absent"; fi
  done
  [ -z "$saved" ] || cp -p --parents $saved "$backup"
  for target in $targets; do
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

# switch ROOT ID [--verify CODE URL HOST_HEADER SECONDS] [--workers USER] [-- ARGV...]
# Points current at releases/ID: a relative symlink renamed over the old
# one. Then, with --workers, asks USER's PHP-FPM workers (the instance's
# pool) to finish their request and go: their realpath caches name the old
# release, and PHP-FPM starts new ones for the next requests. Or runs ARGV
# (the PHP-FPM reload, when the pool itself changed). With --verify, waits
# as `status` does (after printing "verifying"), in the same call.
switch)
  root=$1 id=$2
  shift 2
  verify= workers=
  if [ "${1:-}" = --verify ]; then
    # Kept apart, never split again: the URL holds the app's health path.
    verify=1 want=$2 url=$3 vhost=$4 seconds=$5
    shift 5
  fi
  if [ "${1:-}" = --workers ]; then
    workers=$2
    shift 2
  fi
  [ -d "$root/releases/$id" ] || die "no release $id in $root/releases"
  ln -sfn "releases/$id" "$root/current.magrathea-new"
  mv -T "$root/current.magrathea-new" "$root/current"
  if [ -n "$workers" ]; then
    # SIGQUIT: an FPM worker finishes the request it serves, then exits. 1: none was running.
    pkill -QUIT -u "$workers" '^php-fpm' || [ $? -eq 1 ] || die "switched to $id, then could not stop the PHP-FPM workers of $workers"
  fi
  if [ "${1:-}" = "--" ]; then
    shift
    "$@" || die "switched to $id, then $* exited with $?"
  fi
  if [ -n "$verify" ]; then
    echo verifying
    wait_status "$want" "$url" "$vhost" "$seconds"
  fi
  ;;

# hook USER ROOT ID SECONDS COMMAND
# The release hook, as the instance's user, in the new release, with its
# env, without a way back to root (no_new_privs: setuid files do nothing).
# It runs in a PID namespace of its own: when it ends, or after SECONDS,
# every process it started is killed with it, and nothing holds the deploy.
hook)
  user=$1 root=$2 id=$3 seconds=$4 hook=$5
  cd "$root/releases/$id"
  status=0
  timeout --kill-after=5 "$seconds" unshare --pid --fork --kill-child --mount-proc -- \
    env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$root/tmp" TMPDIR="$root/tmp" LANG=C.UTF-8 \
    setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs -- \
    sh -c 'set -a; . "$1"; set +a; shift; exec sh -c "$1"' hook "$root/releases/$id.env" "$hook" || status=$?
  [ "$status" = 124 ] || [ "$status" = 137 ] && die "timed out after $seconds s, and was stopped with everything it started"
  exit "$status"
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

# survey DIR... [-- ROOT...]
# What Magrathea keeps on this host, for `doctor`: the checksum of every file
# in each DIR (two levels down), then where each instance ROOT's current
# points ("current ROOT TARGET", "-" when it has none). Reads only.
survey)
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    if [ -d "$1" ]; then find "$1" -maxdepth 2 -type f -exec sha256sum {} +; fi
    shift
  done
  [ $# -gt 0 ] && shift
  for root in "$@"; do
    echo "current $root $(readlink "$root/current" || echo -)"
  done
  ;;

# status CODE URL HOST_HEADER SECONDS
# Exits 0 once URL, asked with that Host, answers CODE; gives up after
# SECONDS (graceful reloads take effect a moment after they return).
status)
  wait_status "$@"
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

# purge USER ROOT LOGS [--storage DIR] [PATH...]
# Removes an instance from a web host once no config names it any more: the
# processes of its user (in this host's mount namespace: elsewhere the same
# uid may be another host's user), its tree and logs (rm does not follow the
# links an app may have planted), the other PATHs, its user and its group
# (userdel keeps a group another user, like www-data, is a member of).
# DIR is the instance's directory on the cluster's storage: one host removes it for all.
purge)
  user=$1 root=$2 logs=$3
  shift 3
  stored=
  if [ "${1:-}" = --storage ]; then stored=$2; shift 2; fi
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
  if [ -n "$stored" ]; then rm -rf "$stored" && { rmdir "${stored%/*}" 2>/dev/null || true; }; fi
  # -f: another host of a machine shared by several (the lab) may run processes under the same uid.
  if id -u "$user" >/dev/null 2>&1; then userdel -f "$user" && echo user; fi
  if getent group "$user" >/dev/null 2>&1; then groupdel "$user" && echo group; fi
  ;;

# varnish ADMIN [-- [try|show] COMMAND...]...
# Runs each varnishadm COMMAND in turn with the cache's admin argv (ADMIN,
# split on spaces), in one call: the first failure stops the rest, with its
# message. `try`: a failure is ignored (a discard of what may be gone).
# `show`: the answer is printed; one cut at the cache's cli_limit raises it
# to 16M and is asked again.
# Names, paths and domains were validated on the gateway: no spaces or quotes.
varnish)
  admin=$1
  shift
  set -f
  while [ $# -gt 0 ]; do
    [ "$1" = "--" ] && shift
    mode=
    case "${1:-}" in try | show) mode=$1; shift ;; esac
    op=
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do op="$op $1"; shift; done
    [ -n "$op" ] || continue
    status=0
    out=$($admin $op 2>&1) || status=$?
    case "$mode:$out" in show:*'[response was truncated]'*)
      # Longer than the cache's cli_limit (48k by default: vcl.list of a cluster of about 100 apps is longer).
      # Raised to 16M in the running cache, and asked again: `show` steps only read.
      status=0
      $admin param.set cli_limit 16M >/dev/null && out=$($admin $op 2>&1) || status=$? ;;
    esac
    [ "$mode" = show ] && printf '%s\n' "$out"
    [ "$status" = 0 ] || [ "$mode" = try ] || die "varnishadm$op:
$out"
  done
  ;;

# sessions ADDRESS PORT ADMIN PASSWORD_FILE  (redis-cli lines on stdin)
# Runs the lines on the cluster's session store as its admin user. The
# admin's password stays on this host: read from its root-only file into
# redis-cli's environment (REDISCLI_AUTH), never onto a command line that
# `ps` shows; the lines (instances' passwords) come on stdin. A store that
# answers a client without a password is refused: any app could then read
# every session. Prints one reply a line.
sessions)
  address=$1 port=$2 admin=$3 file=$4
  [ -r "$file" ] || die "$file: the session store's admin password is not on this host"
  anonymous=$(redis-cli -h "$address" -p "$port" ping </dev/null 2>&1) || die "the session store at $address:$port does not answer: $anonymous"
  case "$anonymous" in
    *NOAUTH*) ;;
    *) die "the session store at $address:$port answers a client without a password ($anonymous): give its default user a password (requirepass) or turn it off" ;;
  esac
  REDISCLI_AUTH=$(cat "$file") exec redis-cli --no-auth-warning -h "$address" -p "$port" --user "$admin"
  ;;

*)
  die "unknown command $command"
  ;;
esac
