import { readFile } from 'node:fs/promises';
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
  return result.config;
}
