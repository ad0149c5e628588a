import { createHash } from 'node:crypto';
import type { ClusterPaths } from '../../config/types.js';

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

export function instanceRoot(paths: ClusterPaths, i: InstanceKey): string {
  return `${paths.apps}/${i.app}/${i.env}`;
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
