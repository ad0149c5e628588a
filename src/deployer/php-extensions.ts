import type { HostSession } from '../adapters/ssh.js';
import { missingExtensions } from '../core/advice.js';
import { MagratheaError } from '../core/errors.js';

/**
 * Fails unless the host's PHP has every extension composer.json requires:
 * a missing one would stop the app at its first request, after the switch.
 * Asked of the CLI (`php<v> -m`), which the release hook and `shell` run too;
 * Debian's php<v>-<ext> packages enable an extension for the CLI and FPM alike.
 */
export async function checkPhpExtensions(session: HostSession, php: string, required: readonly string[]): Promise<void> {
  const program = `php${php}`;
  const result = await session.exec([program, '-m'], { reject: false });
  if (result.exitCode !== 0) throw new MagratheaError(`${program} -m exited with ${result.exitCode}: is PHP ${php} installed? (composer.json requires ${required.map((e) => `ext-${e}`).join(', ')})`, 'php-extension-missing');
  const missing = missingExtensions(required, result.stdout);
  if (missing.length > 0) {
    throw new MagratheaError(
      `PHP ${php} lacks ${missing.map((e) => `ext-${e}`).join(', ')}, required by composer.json (${program} -m does not list ${missing.length === 1 ? 'it' : 'them'}): install it on the host (Debian: php${php}-<name>) or drop the requirement`,
      'php-extension-missing',
    );
  }
}
