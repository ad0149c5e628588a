import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError, UsageError } from '../core/errors.js';
import { environmentForBranch, findEnvironment } from '../core/manifest/resolve.js';
import type { EnvironmentDef, Manifest } from '../core/manifest/types.js';
import { MANIFEST_FILE } from '../core/manifest/validate.js';
import { readManifest } from '../builder/manifest.js';
import { repoDir } from './repos.js';

/** An app's manifest as its repository on the gateway holds it, at `ref` (default: the gateway's default branch). */
export async function readAppManifest(config: GatewayConfig, app: string, ref?: string): Promise<Manifest> {
  const branch = ref ?? config.gateway.defaultBranch;
  // The branch by its full name: git would take a tag of the same name first.
  const source = { repo: repoDir(config.gateway.stateDir, app), rev: ref ?? `refs/heads/${branch}`, ref: branch };
  return readManifest(source, `${app}@${branch}:${MANIFEST_FILE}`).catch((e: unknown) => {
    throw e instanceof MagratheaError && e.code === 'manifest-missing' ? new UsageError(`${app}: no ${MANIFEST_FILE} on ${branch} yet: push first`) : e;
  });
}

/** The environment asked for (one of the manifest's, or a review instance `review-x`), or the one fed by the default branch. */
export function chooseEnvironment(config: GatewayConfig, manifest: Manifest, app: string, env?: string): EnvironmentDef {
  // A review instance (`review-x`) by its name too: its config vars, logs and shell are its own.
  const found = env ? findEnvironment(manifest, env) : environmentForBranch(manifest, config.gateway.defaultBranch);
  if (!found) {
    const known = manifest.environments.map((e) => `${e.name} (branch ${e.branch})`).join(', ');
    throw new UsageError(`${app}: ${env ? `no environment ${env}` : `no environment is fed by ${config.gateway.defaultBranch}`}; choose one with --env: ${known}`);
  }
  return found;
}
