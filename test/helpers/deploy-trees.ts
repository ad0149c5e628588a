import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sshMasters } from '../../src/adapters/ssh-masters.js';
import { createKeys } from '../../src/state/keys.js';
import { openRedis, type RedisHandle } from '../../src/state/redis.js';
import { loadGatewayConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/core/config/types.js';
import type { ConfigVars } from '../../src/core/manifest/types.js';
import { validateManifest } from '../../src/core/manifest/validate.js';
import { deploy } from '../../src/deployer/deploy.js';
import { redisDeployState } from '../../src/deployer/redis-state.js';
import type { DeployOutcome, DeployState } from '../../src/deployer/types.js';

/** A file's content, a symbolic link, or a copy of a file of this machine with a mode (a setuid binary). */
export type TreeEntry = string | { link: string } | { copyOf: string; mode: number };

/**
 * What a suite needs to call deploy() on a lab: its gateway configuration
 * (state in a scratch directory, `work/state`), a Redis of its own (stopped
 * by PID in close(), which also removes `work` and stops by PID the SSH
 * masters the deploys kept), and the deploy state in it under a prefix of
 * the suite's (`name` without its dashes, and the PID).
 */
export interface SuiteDeployState {
  config: GatewayConfig;
  state: DeployState;
  work: string;
  close(): Promise<void>;
}

export async function openDeployState(labConfig: string, name: string): Promise<SuiteDeployState> {
  const config = await loadGatewayConfig(labConfig);
  const work = await mkdtemp(join(tmpdir(), `magrathea-${name}-`));
  config.gateway.stateDir = join(work, 'state');
  let redis: RedisHandle;
  try {
    redis = await openRedis({ stateDir: config.gateway.stateDir, env: {} });
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
  const state = redisDeployState({ redis: redis.client, keys: createKeys(`${name.replace(/[^a-z0-9]/g, '')}${process.pid}`) });
  return {
    config,
    state,
    work,
    async close() {
      await sshMasters.close();
      await redis.stop();
      await rm(work, { recursive: true, force: true });
    },
  };
}

/** A suite's deploy state (openDeployState), and a way to deploy hand-made release trees with it. */
export interface DeployHarness extends SuiteDeployState {
  /**
   * Writes a release tree and deploys it as app's next release, as a built
   * release would arrive (nothing checks it on the way: the hosts' own
   * checks are what the suites test). `gateway` stands in for `config`.
   */
  deployTree(app: string, entries: Record<string, TreeEntry>, yaml: string, options?: { vars?: ConfigVars; gateway?: GatewayConfig }): Promise<{ result: DeployOutcome; lines: string[] }>;
}

export async function openDeployHarness(labConfig: string, name: string): Promise<DeployHarness> {
  const suite = await openDeployState(labConfig, name);
  const { config, state, work } = suite;
  let n = 0;
  return {
    ...suite,
    async deployTree(app, entries, yaml, options = {}) {
      const tree = join(work, `${app}-${++n}`);
      await writeTree(tree, entries);
      const parsed = validateManifest(yaml);
      if ('problems' in parsed) throw new Error(JSON.stringify(parsed.problems));
      const lines: string[] = [];
      const result = await deploy(
        { app, env: 'production', release: `r${n}`, manifest: parsed.manifest, source: tree, ...(options.vars ? { vars: options.vars } : {}) },
        { config: options.gateway ?? config, state, log: (l) => lines.push(l) },
      );
      return { result, lines };
    },
  };
}

export async function writeTree(dir: string, entries: Record<string, TreeEntry>): Promise<void> {
  for (const [path, entry] of Object.entries(entries)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    if (typeof entry === 'string') await writeFile(file, entry);
    else if ('link' in entry) await symlink(entry.link, file);
    else {
      await copyFile(entry.copyOf, file);
      await chmod(file, entry.mode);
    }
  }
}
