import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunOptions, RunResult } from '../adapters/exec.js';
import type { HostSession } from '../adapters/ssh.js';

const FROM_DIST = fileURLToPath(new URL('../../../libexec/host-agent.sh', import.meta.url));
const FROM_SOURCE = fileURLToPath(new URL('../../libexec/host-agent.sh', import.meta.url));
let script: string | undefined;

/** The host agent's text (libexec/host-agent.sh), sent with every call: hosts need nothing installed. */
export function agentScript(): string {
  script ??= readFileSync(existsSync(FROM_DIST) ? FROM_DIST : FROM_SOURCE, 'utf8');
  return script;
}

/** The argv that runs one agent command on a host. */
export function agentArgv(command: string, args: readonly string[]): string[] {
  return ['sh', '-c', agentScript(), 'magrathea-agent', command, ...args];
}

/** Runs one agent command over the host's session. */
export function agent(session: HostSession, command: string, args: readonly string[], options: Pick<RunOptions, 'input' | 'timeout' | 'reject' | 'onLine'> = {}): Promise<RunResult> {
  return session.exec(agentArgv(command, args), options);
}
