import type { HostSession } from '../adapters/ssh.js';
import type { SessionStoreConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { instanceId, type InstanceKey } from '../core/render/names.js';
import { sessionRemovalCommands, sessionUser, sessionUserCommands } from '../core/render/sessions.js';
import { agent } from './agent.js';

/**
 * Runs redis-cli lines on the cluster's session store, from its host, as
 * its admin (the agent's `sessions`: the admin password never leaves the
 * host, the lines travel on stdin). Returns one reply per line; a reply
 * that is an error (a refused login comes back as NOAUTH on every line)
 * fails the call with the store's words.
 */
async function onSessionStore(session: HostSession, store: SessionStoreConfig, lines: readonly string[], ok: (reply: string) => boolean): Promise<string[]> {
  const result = await agent(session, 'sessions', [store.address, String(store.port), store.adminUser, store.passwordFile], { input: `${lines.join('\n')}\n` });
  const replies = result.stdout.replace(/\n$/, '').split('\n');
  const bad = replies.find((r) => !ok(r));
  if (replies.length !== lines.length || bad !== undefined) {
    const login = /AUTH failed[^\n]*/.exec(result.stderr)?.[0];
    throw new MagratheaError(`session store ${store.address}:${store.port}: ${login ?? bad ?? `${replies.length} replies to ${lines.length} commands`}`, 'session-store-failed');
  }
  return replies;
}

/** Creates or updates the ACL user of each instance (with its password from the gateway): idempotent, before any switch. */
export async function ensureSessionUsers(session: HostSession, store: SessionStoreConfig, instances: readonly InstanceKey[], passwords: Readonly<Record<string, string>>): Promise<void> {
  if (instances.length === 0) return;
  await onSessionStore(session, store, sessionUserCommands(instances, passwords), (r) => r === 'OK');
}

/** Removes each instance's ACL user and sessions from the store. Returns what was there, as `<app>.<env>\0word` (nothing on a second run). */
export async function removeSessionUsers(session: HostSession, store: SessionStoreConfig, instances: readonly InstanceKey[]): Promise<string[]> {
  const replies = await onSessionStore(session, store, instances.flatMap(sessionRemovalCommands), (r) => /^[0-9]+$/.test(r));
  return instances.flatMap((i, n) => {
    const [user, keys] = [Number(replies[2 * n]), Number(replies[2 * n + 1])];
    return [...(user > 0 ? [`${instanceId(i)}\u0000session user ${sessionUser(i)}`] : []), ...(keys > 0 ? [`${instanceId(i)}\u0000${keys} session(s)`] : [])];
  });
}
