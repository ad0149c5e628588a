import { createHash } from 'node:crypto';
import type { ClusterPaths } from '../config/types.js';

/**
 * Names derived from an instance, in one place. App and environment names
 * never contain `.` or `_`, so `<app>.<env>` (files) and `<app>_<env>`
 * (identifiers) can never collide, as `<app>-<env>` could (`a-b`+`c` and
 * `a`+`b-c`).
 */
export interface InstanceKey {
  app: string;
  env: string;
}

/** `hello.production`: file names, FPM pool, log directory. */
export function instanceId(i: InstanceKey): string {
  return `${i.app}.${i.env}`;
}

/** `hello_production`: VCL and HAProxy identifiers. */
export function instanceIdent(i: InstanceKey): string {
  return `${i.app}_${i.env}`;
}

/**
 * The unix user the instance's PHP runs as (and shells open as). At most 32
 * characters, as useradd requires: long names are cut and made unique by 64
 * bits of a hash of the whole (the host also records which instance owns a
 * user, and refuses to hand it to another).
 */
export function unixUser(i: InstanceKey): string {
  const full = `m_${i.app}_${i.env}`;
  if (full.length <= 32) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 16);
  return `${full.slice(0, 15)}_${hash}`;
}

/**
 * The uid (and gid) of the instance's unix user, the same on every web host
 * of every cluster: files on a cluster's shared storage carry numbers, and a
 * user `useradd` numbered per host would own its files on one host and
 * somebody else's (or nobody's) on the next. Derived from the instance's
 * name, so no state has to be kept or agree between workers, and Puppet can
 * compute it too. The range, 2000000000-2099999999, lies in what systemd
 * leaves unassigned (above container ranges, below 2^31) and apart from the
 * build sandbox's 1900000000-1999999999. Two instances may hash alike (about
 * one chance in 200 for 1,000 instances on one host): the host refuses to
 * give a uid another user holds, and the deployer checks the instances live
 * on the cluster first, so a clash is reported, never shared.
 */
export function unixId(i: InstanceKey): number {
  const digest = createHash('sha256').update(`magrathea-uid\u0000${instanceId(i)}`).digest();
  return UID_BASE + Number(digest.readBigUInt64BE(0) % BigInt(UID_SPAN));
}
export const UID_BASE = 2_000_000_000;
export const UID_SPAN = 100_000_000;

/** Where the instance's shared dirs live on cluster storage: `<storage>/<app>/<env>`. */
export function instanceStorage(storage: string, i: InstanceKey): string {
  return `${storage}/${i.app}/${i.env}`;
}

export function instanceRoot(paths: ClusterPaths, i: InstanceKey): string {
  return `${paths.apps}/${i.app}/${i.env}`;
}

/**
 * What Varnish's probe of a web host asks for, in every instance's vhost,
 * and the file that answers it: one per host, beside the instance roots
 * (no app name has a dot), made by the host agent's prepare of any
 * instance, before any vhost that names it is installed. Apache serves it
 * without PHP; requests for it never reach the app.
 */
export const PROBE_PATH = '/.well-known/magrathea-probe';

export function probeFile(paths: ClusterPaths): string {
  return `${paths.apps}/probe.txt`;
}

export function logDir(paths: ClusterPaths, i: InstanceKey): string {
  return `${paths.logs}/${i.app}/${i.env}`;
}

export function fpmSocket(paths: ClusterPaths, i: InstanceKey): string {
  return `${paths.fpmSockets}/magrathea-${instanceId(i)}.sock`;
}

export function fpmPoolDir(paths: ClusterPaths, php: string): string {
  return paths.fpm.replaceAll('{php}', php);
}
