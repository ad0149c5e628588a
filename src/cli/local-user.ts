import type { UserConfig } from '../core/config/types.js';

/**
 * Who runs a command at the gateway's command line: its operator, with an
 * admin's rights (they hold the configuration and the state already),
 * named as the system knows them for the audit log and the releases.
 */
export function localUser(): UserConfig {
  return { name: process.env.SUDO_USER || process.env.USER || 'cli', role: 'admin', keys: [], apps: ['*'], verbs: [], clusters: ['*'], domains: ['*'] };
}
