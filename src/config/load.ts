import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import type { GatewayConfig } from '../core/config/types.js';
import { validateGatewayConfig, type GatewayConfigFiles } from '../core/config/validate.js';

const FILES = ['gateway.yml', 'clusters.yml', 'users.yml'] as const;

/** The configuration directory to use: `--config`, else `$MAGRATHEA_CONFIG`, else `config/`. */
export function configDir(flag?: string): string {
  return resolve(flag ?? process.env.MAGRATHEA_CONFIG ?? 'config');
}

/** Reads and validates a gateway configuration directory; throws InvalidInputError naming file:line:col. */
export async function loadGatewayConfig(dir: string): Promise<GatewayConfig> {
  const absolute = resolve(dir);
  const files: GatewayConfigFiles = {};
  for (const name of FILES) {
    try {
      files[name] = await readFile(`${absolute}/${name}`, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new MagratheaError(`cannot read ${absolute}/${name}: ${(e as Error).message}`, 'config-unreadable', 1, false, { cause: e });
    }
  }
  const result = validateGatewayConfig(absolute, files);
  if ('problems' in result) throw new InvalidInputError(result.problems);
  for (const cluster of Object.values(result.config.clusters)) {
    if (cluster.ispconfig) cluster.ispconfig.password = await readSecretFile(cluster.ispconfig.passwordFile, `${absolute}/clusters.yml: ${cluster.name}.ispconfig.password_file`);
  }
  return result.config;
}

/**
 * A password from a root-only file (its first line): refused when another
 * user could read or change it, or when it is empty. `what` names where
 * the configuration points at it.
 */
export async function readSecretFile(path: string, what: string): Promise<string> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new MagratheaError(`${what}: ${path} is not a file`, 'config-secret', 1);
    if ((info.mode & 0o077) !== 0 || (info.uid !== 0 && info.uid !== process.getuid?.())) {
      throw new MagratheaError(`${what}: ${path} may be read or changed by others (mode ${(info.mode & 0o777).toString(8)}, owner uid ${info.uid}): make it root's, mode 600 (chown root: ${path}; chmod 600 ${path})`, 'config-secret', 1);
    }
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof MagratheaError) throw e;
    throw new MagratheaError(`${what}: cannot read ${path}: ${(e as Error).message}`, 'config-secret', 1, false, { cause: e });
  }
  const password = text.split('\n')[0]!.replace(/\r$/, '');
  if (password === '') throw new MagratheaError(`${what}: ${path} is empty: its first line is the password`, 'config-secret', 1);
  return password;
}
