import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HostSession, type SshSettings } from '../../src/adapters/ssh.js';
import type { ClusterConfig } from '../../src/core/config/types.js';
import { resolveInstance } from '../../src/core/manifest/resolve.js';
import type { ConfigVars, InstanceConfig, Manifest } from '../../src/core/manifest/types.js';
import { validateManifest } from '../../src/core/manifest/validate.js';
import { instanceRoot } from '../../src/core/render/names.js';
import { formatProblem } from '../../src/core/source.js';
import { agent } from '../../src/deployer/agent.js';
import { prepareArgs } from '../../src/deployer/deploy-cluster.js';
import { envFile } from '../../src/deployer/env-file.js';
import type { DeployState } from '../../src/deployer/types.js';

/** The bench's app: a page that says its app, release and greeting, a health page; every cluster of the lab. */
export function scaleManifest(clusters: readonly string[]): Manifest {
  const yaml = [
    'stack: { php: "8.2", docroot: public }',
    'domains: ["${app}.scale-bench.test"]',
    'env: { GREETING: hello }',
    'health: { path: /health.php, status: 200 }',
    `environments:\n  production: { branch: master, clusters: [${clusters.join(', ')}] }`,
    '',
  ].join('\n');
  const parsed = validateManifest(yaml);
  if ('problems' in parsed) throw new Error(parsed.problems.map(formatProblem).join('\n'));
  return parsed.manifest;
}

/** Writes the app's tree (the release as the build would leave it); `marker` is in its page, for a 1-file change. */
export async function writeScaleApp(dir: string, marker: string): Promise<void> {
  await mkdir(join(dir, 'public'), { recursive: true });
  await writeFile(join(dir, 'public/health.php'), '<?php echo "ok\\n";\n');
  await writeFile(join(dir, 'public/index.php'), `<?php echo getenv('GREETING'), " ${marker}\\n";\n`);
  for (let i = 0; i < 20; i++) await writeFile(join(dir, `public/part${i}.php`), `<?php // part ${i}\n`);
}

export function scaleInstance(manifest: Manifest, app: string, cluster: string, vars?: ConfigVars): InstanceConfig {
  const resolved = resolveInstance(manifest, { app, env: 'production', cluster }, vars);
  if ('problems' in resolved) throw new Error(resolved.problems.map(formatProblem).join('\n'));
  return resolved.instance;
}

/**
 * Puts instances on a cluster without a deploy each, so that a cluster of
 * many apps is set up in minutes: on every web host the release is synced,
 * prepared by the host agent as a deploy prepares it (user, dirs, env file)
 * and made current (no reload), and each instance is recorded live. Their
 * vhosts, pools and edge routes are installed by the next real deploy on the
 * cluster, which renders every instance recorded (today's deployer does; a
 * deployer that renders only its own instance would leave these unrouted, and
 * the bench's check that every app is served would say so).
 */
export async function stageInstances(cluster: ClusterConfig, instances: readonly InstanceConfig[], source: string, ssh: SshSettings, state: DeployState, concurrency = 8): Promise<void> {
  const web = cluster.hosts.filter((h) => h.roles.includes('web'));
  const sessions = web.map((h) => ({ host: h, session: new HostSession({ name: h.name, address: h.address, user: h.ssh.user, port: h.ssh.port }, ssh) }));
  try {
    await Promise.all(sessions.map(({ session }) => session.open()));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < instances.length) {
        const instance = instances[next++]!;
        const root = instanceRoot(cluster.paths, instance);
        await Promise.all(
          sessions.map(async ({ host, session }) => {
            await session.rsyncTo(source, `${root}/releases/r1`, { mkdir: true, release: true });
            await agent(session, 'prepare', prepareArgs(cluster, instance, 'r1'), { input: envFile(instance, host) });
            await agent(session, 'switch', [root, 'r1', '--', 'true']);
          }),
        );
        await state.recordSwitch(instance.app, instance.env, cluster.name, 'r1', web.map((h) => h.name));
        await state.saveInstance(instance, 'r1');
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, instances.length) }, worker));
  } finally {
    await Promise.all(sessions.map(({ session }) => session.close()));
  }
}
