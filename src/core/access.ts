import type { UserConfig, Verb } from './config/types.js';

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

/**
 * Whether `user` may deploy `app` to these instances: each cluster is one
 * of the member's `clusters`, each domain matches one of its `domains`
 * patterns (`*` is any part, `${app}` the app's name). Admins may deploy
 * anywhere. Who else serves a domain is checked against the live
 * instances, elsewhere: this is the gateway configuration's word only.
 */
export function authorizeDeploy(user: Pick<UserConfig, 'name' | 'role' | 'clusters' | 'domains'>, app: string, instances: readonly { cluster: string; domains: readonly string[] }[]): Access {
  if (user.role === 'admin') return { ok: true };
  for (const { cluster, domains } of instances) {
    if (!user.clusters.some((glob) => globMatches(glob, cluster))) {
      return { ok: false, reason: `${user.name} may not deploy to cluster ${cluster} (users.yml: ${user.name}.clusters ${user.clusters.length > 0 ? `is ${user.clusters.join(', ')}` : 'is not set'})` };
    }
    const refused = domains.find((d) => !user.domains.some((pattern) => domainMatches(pattern, app, d)));
    if (refused) {
      return { ok: false, reason: `${user.name} may not claim the domain ${refused} for ${app} (users.yml: ${user.name}.domains ${user.domains.length > 0 ? `is ${user.domains.join(', ')}` : 'is not set'})` };
    }
  }
  return { ok: true };
}

/** `*.shop.example.com` matches `eu.shop.example.com` (and `a.b.shop.example.com`); `${app}.example.com` matches `shop.example.com` for app shop. */
export function domainMatches(pattern: string, app: string, domain: string): boolean {
  const source = pattern
    .replaceAll('${app}', '\u0000')
    .split('*')
    .map((part) => part.replaceAll('.', '\\.'))
    .join('[a-z0-9.-]+')
    .replaceAll('\u0000', app);
  return new RegExp(`^${source}$`).test(domain);
}

/** `shop-*` matches `shop-eu`; `?` is one character. Globs are validated: a-z, 0-9, -, * and ?. */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob.replace(/[*?]/g, (c) => (c === '*' ? '[a-z0-9-]*' : '[a-z0-9-]'));
  return new RegExp(`^${pattern}$`).test(name);
}

/** What a token may be scoped to: the needs of commands (`releases` is `read`: seeing apps, their releases and usage). */
export const SCOPES = ['read', 'deploy', 'config', 'logs', 'shell', 'rollback', 'admin'] as const satisfies readonly Need[];
export type Scope = (typeof SCOPES)[number];
const SCOPE_ALIASES: Readonly<Record<string, Scope>> = { releases: 'read' };

/** `deploy,releases` as scopes (sorted, each once), or what is wrong with it. */
export function parseScopes(text: string): Scope[] | { error: string } {
  const words = text.split(',').map((w) => w.trim());
  const scopes = new Set<Scope>();
  for (const word of words) {
    const scope = SCOPE_ALIASES[word] ?? (SCOPES as readonly string[]).find((s) => s === word);
    if (!scope) return { error: `${JSON.stringify(word)} is not a scope; scopes: ${SCOPES.join(', ')} (releases: read)` };
    scopes.add(scope as Scope);
  }
  return SCOPES.filter((s) => scopes.has(s));
}

/** Commands every token may run, scoped or not: they show only the caller. */
const UNSCOPED = new Set(['help', 'whoami']);

/**
 * Whether a token scoped to `scopes` may run `command` (on top of what its
 * user may do). Commands that need nothing but manage the user's own
 * things (tokens:create, tokens:revoke) are refused: a scoped token must
 * not make itself a wider one.
 */
export function scopeAllows(scopes: readonly Scope[], command: { name: string; need: Need | 'local' }): Access {
  if (UNSCOPED.has(command.name)) return { ok: true };
  if (command.need !== 'none' && command.need !== 'local' && (scopes as readonly string[]).includes(command.need)) return { ok: true };
  const needs = command.need === 'none' || command.need === 'local' ? 'an unscoped token' : `the ${command.need} scope`;
  return { ok: false, reason: `this token is scoped to ${scopes.join(', ')}: ${command.name} needs ${needs}` };
}
