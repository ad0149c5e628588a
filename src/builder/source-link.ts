import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CommandError, run, tail } from '../adapters/exec.js';
import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';

/**
 * How a worker on another machine gets a release's source: the gateway
 * serves each export as a tar stream over its HTTP API
 * (`GET /v1/sources/APP/NAME`), and the job carries the URL and a key,
 * an HMAC of the export's name under a secret kept in the gateway's state
 * directory. Whoever reads the queue can fetch that export, and nothing
 * else.
 */
export interface SourceLink {
  url: string;
  key: string;
}

/** The header that carries the key (not the URL: URLs end up in logs). */
export const SOURCE_KEY_HEADER = 'x-magrathea-source-key';

/** An export's name, as sourceDir makes them. */
export const SOURCE_NAME = /^[0-9a-f]{40,64}-[0-9]+-[0-9]+-[0-9]+$/;

async function secret(stateDir: string): Promise<Buffer> {
  const path = join(stateDir, 'source.key');
  try {
    return await readFile(path);
  } catch {
    await mkdir(stateDir, { recursive: true });
    // 'wx': two processes making it at once keep the first one's.
    await writeFile(path, randomBytes(32), { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return readFile(path);
  }
}

async function sign(stateDir: string, app: string, name: string): Promise<string> {
  return createHmac('sha256', await secret(stateDir)).update(`${app}/${name}`).digest('hex');
}

/** The link to the export at `tree` (`<state>/sources/<app>/<name>`). */
export async function sourceLink(config: GatewayConfig, tree: string): Promise<SourceLink> {
  const [app, name] = [basename(dirname(tree)), basename(tree)];
  return { url: `${config.gateway.httpUrl}/v1/sources/${app}/${name}`, key: await sign(config.gateway.stateDir, app, name) };
}

/** The job fields of sourceLink. */
export async function sourceFields(config: GatewayConfig, tree: string): Promise<{ sourceUrl: string; sourceKey: string }> {
  const link = await sourceLink(config, tree);
  return { sourceUrl: link.url, sourceKey: link.key };
}

export async function checkSourceKey(stateDir: string, app: string, name: string, key: string): Promise<boolean> {
  const expected = Buffer.from(await sign(stateDir, app, name), 'hex');
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(key) ? key : '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Fetches an export into `dest` (created). */
export async function fetchSource(link: SourceLink, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  const script = 'set -o pipefail; curl -fsS --max-time 600 -H "$2" "$1" | tar -x -C "$3"';
  await run('bash', ['-c', script, 'fetch-source', link.url, `${SOURCE_KEY_HEADER}: ${link.key}`, dest]).catch((e: Error) => {
    const cause = e instanceof CommandError ? `exit ${e.exitCode}: ${tail(e.stderr) || 'no output'}` : e.message;
    throw new MagratheaError(`fetching the source from the gateway (${link.url}): ${cause}`, 'source-fetch-failed', 1, true, { cause: e });
  });
}
