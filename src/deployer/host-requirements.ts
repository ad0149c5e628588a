import { tail, type RunResult } from '../adapters/exec.js';
import type { HostSession } from '../adapters/ssh.js';
import type { ClusterConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { MIN_PROCESS_CONTROL_TIMEOUT, readProcessControlTimeout } from '../core/fpm-global.js';
import { checkArgv } from './services.js';

/**
 * Refuses a web host whose PHP-FPM would kill the requests in flight when
 * the switch reloads it: `process_control_timeout` below the minimum (Debian
 * ships 0). Read from the effective configuration, which the cluster's FPM
 * check prints when given one more `-t` (`php-fpm -tt`), so a value set in
 * any file FPM includes counts, and a host where it cannot be read is
 * refused rather than trusted. About 50 ms per host, before the switch.
 */
export async function checkFpmReload(session: HostSession, cluster: ClusterConfig, php: string): Promise<void> {
  const argv = checkArgv(cluster, 'fpm', php)[0]!;
  checkFpmReloadOutput(await session.exec([...argv, '-t'], { reject: false }), php, argv);
}

/** The same, from the output of `argv -t` already run (the check of staged pools, with the extra `-t`). */
export function checkFpmReloadOutput(result: Pick<RunResult, 'exitCode' | 'stdout' | 'stderr'>, php: string, argv: readonly string[]): void {
  const seconds = readProcessControlTimeout(`${result.stderr}\n${result.stdout}`);
  const fix = `set process_control_timeout = 60s (at least ${MIN_PROCESS_CONTROL_TIMEOUT}s, above your longest request) in the [global] section of PHP-FPM ${php}'s php-fpm.conf; see "What a real web host must provide" in Magrathea's README`;
  if (seconds === undefined) {
    throw new MagratheaError(`cannot read PHP-FPM ${php}'s process_control_timeout from \`${[...argv, '-t'].join(' ')}\` (exit ${result.exitCode}: ${tail(result.stderr || result.stdout) || 'no output'}); ${fix}`, 'host-requirement');
  }
  if (seconds < MIN_PROCESS_CONTROL_TIMEOUT) {
    throw new MagratheaError(`PHP-FPM ${php} has process_control_timeout = ${seconds}s: its reload at the switch would kill the requests in flight; ${fix}`, 'host-requirement');
  }
}
