import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayConfig } from '../core/config/types.js';
import { MagratheaError } from '../core/errors.js';
import { renderCluster } from '../core/render/cluster.js';
import { formatProblem } from '../core/source.js';
import { writeLabConfig } from './gateway-config.js';
import { bootHost, haltHost, isHostUp } from './host-lifecycle.js';
import { provisionFpm, provisionHost, writeIfAbsent } from './host-files.js';
import { withLabLock } from './lock.js';
import { ensureNamespaceDir } from './namespace.js';
import { hostPaths, labPaths, onHost, type LabPaths } from './paths.js';
import { DEFAULT_SHAPE, LAB_STORAGE, planLab, type LabHost, type LabShape } from './plan.js';
import { assertLabRequirements } from './requirements.js';
import { hostServices, installedPhpVersions } from './services.js';
import { ensureKey, writeSshClientFiles } from './ssh-files.js';
import { readLabState, writeLabState, type LabState } from './state.js';
import { forEachSettled } from '../lib/settle.js';
import { readLabStatus, type LabStatus } from './status.js';

export interface LabUpOptions {
  dir: string;
  /** What is not given is the existing lab's, else DEFAULT_SHAPE's: `lab up` again needs no flags. */
  shape: Partial<LabShape>;
}

export interface LabUpResult {
  status: LabStatus;
  /** Hosts (re)started by this call; empty when the lab was already up. */
  started: string[];
  seconds: number;
}

/**
 * Brings the lab up. Idempotent: hosts whose every daemon answers are left
 * alone; a host that is partly up (a daemon died, the lab crashed) is
 * stopped and booted again from its files, which survive `down`.
 */
export async function labUp(options: LabUpOptions): Promise<LabUpResult> {
  const began = Date.now();
  const lab = labPaths(options.dir);
  const given = Object.fromEntries(Object.entries(options.shape).filter(([, v]) => v !== undefined));
  planLab({ ...DEFAULT_SHAPE, ...given }); // a bad flag is refused before anything is touched
  await assertLabRequirements();
  await mkdir(lab.dir, { recursive: true });
  const started = await withLabLock(lab, async () => {
    const previous = await readLabState(lab);
    const plan = planLab({ ...DEFAULT_SHAPE, ...previous?.shape, ...given });
    const same = (a: LabShape, b: LabShape): boolean => a.clusters === b.clusters && a.webHosts === b.webHosts && a.subnet === b.subnet;
    if (previous && !same(previous.shape, plan.shape) && Object.keys(previous.namespaces).length > 0) {
      const s = previous.shape;
      throw new MagratheaError(
        `a lab of ${s.clusters} cluster(s) x ${s.webHosts} web host(s) on 127.0.${s.subnet}.* is up at ${lab.dir}; bring it down first (magrathea lab down --dir ${lab.dir}) or use another --dir`,
        'lab-shape',
      );
    }
    const state: LabState = { version: 1, shape: plan.shape, namespaces: previous?.namespaces ?? {} };
    await writeLabState(lab, state);
    const record = serialize(() => writeLabState(lab, state));

    const hostsKey = await ensureKey(lab.hostsKey, 'magrathea-lab-hosts');
    const userKey = await ensureKey(lab.userKey, 'magrathea-lab-admin');
    const config = await writeLabConfig(lab, plan, userKey);
    await ensureNamespaceDir(lab);
    const php = await installedPhpVersions();

    const startedHosts: string[] = [];
    await forEachSettled(plan.hosts, async (host): Promise<void> => {
      const paths = hostPaths(lab, host.name);
      const services = hostServices(host, php);
      if (await isHostUp(host, paths, services)) return;
      await haltHost(paths);
      await provisionHost(host, paths, hostsKey);
      if (host.roles.includes('web')) await provisionFpm(paths, php);
      await writeInitialConfigs(config, host, lab);
      const storage = join(lab.storage, host.cluster);
      if (host.roles.includes('web')) await mkdir(storage, { recursive: true, mode: 0o755 });
      await bootHost(
        host,
        paths,
        services,
        (inode) => {
          state.namespaces[host.name] = inode;
          return record();
        },
        host.roles.includes('web') ? [{ source: storage, target: LAB_STORAGE }] : [],
      );
      startedHosts.push(host.name);
    }).catch((e: unknown) => {
      const hint = `the lab at ${lab.dir} is partly up: \`magrathea lab up\` again retries what is down, \`magrathea lab down --dir ${lab.dir}\` stops it`;
      throw e instanceof MagratheaError ? new MagratheaError(`${e.message}\n${hint}`, e.code, e.exitStatus, e.retryable, { cause: e }) : e;
    });
    const hostKeys = new Map<string, string>();
    for (const host of plan.hosts) hostKeys.set(host.name, (await readFile(onHost(hostPaths(lab, host.name), '/etc/ssh/ssh_host_ed25519_key.pub'), 'utf8')).trim());
    await writeSshClientFiles(lab, plan, hostKeys);
    return startedHosts.sort();
  });
  const status = await readLabStatus(lab.dir);
  return { status, started, seconds: (Date.now() - began) / 1000 };
}

/**
 * Magrathea's own files for a cluster with no app yet, from the same
 * renderers a deploy uses: varnishd needs boot.cli and a main.vcl to start, and the edge
 * answers 404 for every Host until an app is deployed.
 */
async function writeInitialConfigs(config: GatewayConfig, host: LabHost, lab: LabPaths): Promise<void> {
  const cluster = config.clusters[host.cluster];
  if (!cluster) throw new Error(`cluster ${host.cluster} missing from the lab's own configuration`);
  const rendered = renderCluster(cluster, []);
  if ('problems' in rendered) throw new MagratheaError(rendered.problems.map(formatProblem).join('\n'), 'lab-render');
  for (const file of rendered.files) if (file.host === host.name) await writeIfAbsent(hostPaths(lab, host.name), file.path, file.content);
}

/** Runs `write` one call at a time, each seeing the latest state: hosts boot in parallel but the state file is written whole. */
function serialize(write: () => Promise<void>): () => Promise<void> {
  let last: Promise<void> = Promise.resolve();
  return () => {
    last = last.then(write, write);
    return last;
  };
}
