import type { UserConfig, Verb } from '../config/types.js';

/**
 * What a command needs: one of the verbs a member can be given, `read`
 * (seeing an app at all: info, releases), `admin` (creating, destroying,
 * the audit log), or nothing (help).
 */
export type Need = Verb | 'read' | 'admin' | 'none';

export type Access = { ok: true } | { ok: false; reason: string };

/** Whether `user` may do `need` on `app`. Admins may do everything; members what their apps and verbs say. */
export function authorize(user: Pick<UserConfig, 'name' | 'role' | 'apps' | 'verbs'>, need: Need, app?: string): Access {
  if (need === 'none' || user.role === 'admin') return { ok: true };
  if (need === 'admin') return { ok: false, reason: `${user.name} is not an admin` };
  if (app === undefined) return { ok: true };
  if (!user.apps.some((glob) => globMatches(glob, app))) return { ok: false, reason: `${user.name} has no access to app ${app}` };
  if (need !== 'read' && !user.verbs.includes(need)) return { ok: false, reason: `${user.name} may not ${need} ${app}` };
  return { ok: true };
}

/** `shop-*` matches `shop-eu`; `?` is one character. Globs are validated: a-z, 0-9, -, * and ?. */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob.replace(/[*?]/g, (c) => (c === '*' ? '[a-z0-9-]*' : '[a-z0-9-]'));
  return new RegExp(`^${pattern}$`).test(name);
}
