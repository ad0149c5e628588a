import { run, type RunResult } from '../../src/adapters/exec.js';
import { labUp } from '../../src/lab/up.js';
import type { LabStatus } from '../../src/lab/status.js';
import type { LabShape } from '../../src/lab/plan.js';
import { reserveSubnet } from './free-subnet.js';
import { quoteForShell } from './shell-quote.js';
import { runLabDir, TEST_LABS } from './test-labs.js';

/**
 * The lab shared by the suites of one jest worker (one lab per worker: the
 * suites of a worker run one after the other). The first suite that calls
 * useLab() brings it up; jest's globalTeardown (lab-global-teardown.ts)
 * brings it down and removes it at the end of the run, failed or not, and
 * the next run's globalSetup removes labs whose run was killed before its
 * teardown.
 *
 * Why not one lab for all workers: each suite's deploys keep their own
 * state (a Redis of the suite's), as separate gateways would, and a
 * cluster has one gateway. Its edge files (main.vcl, hosts.map) list the
 * instances its gateway knows: two suites deploying to one cluster at once
 * would each take the other's domains off the edge.
 *
 * Suites share the hosts one after the other: never stop a daemon of the
 * shared lab or break a host's configuration (take a lab of your own for
 * that: useOwnLab), deploy under app names and domains of the suite's own,
 * and remove what you deployed.
 */
export const TEST_LAB_CLUSTERS = 2;
export const TEST_LAB_WEB_HOSTS = 2;

/** This jest worker's number, from 1. */
function worker(): number {
  return Number(process.env.JEST_WORKER_ID ?? 1);
}

export function testLabShape(): LabShape {
  // One subnet per worker, reserved by lab-global-setup.ts.
  const subnets = (process.env.MAGRATHEA_TEST_LAB_SUBNETS ?? '').split(',').filter(Boolean).map(Number);
  const subnet = subnets[worker() - 1];
  if (subnet === undefined) throw new Error(`no lab subnet reserved for jest worker ${worker()} (MAGRATHEA_TEST_LAB_SUBNETS=${subnets.join(',')}): run jest with the globalSetup of jest.config.js`);
  return { clusters: TEST_LAB_CLUSTERS, webHosts: TEST_LAB_WEB_HOSTS, subnet };
}

/** This worker's shared lab, up. Give the calling beforeAll a timeout of a minute or so: the first call boots it. */
export async function useLab(): Promise<LabStatus> {
  const { status, started, seconds } = await labUp({ dir: runLabDir(worker() === 1 ? undefined : `shared${worker()}`), shape: testLabShape() });
  if (started.length > 0) process.stdout.write(`lab up (${status.shape.clusters} x ${status.shape.webHosts}, ${started.length} hosts) in ${seconds.toFixed(1)} s at ${status.dir}\n`);
  return status;
}

/**
 * A lab for one suite alone, for tests that stop daemons or take the lab
 * down. `name` names its directory; `subnets` are candidates for its
 * addresses, disjoint from other suites' (the first free one is taken).
 * Bring it down in the suite's afterAll (labDown with purge); the run's
 * globalTeardown does it anyway.
 */
export async function useOwnLab(name: string, shape: Omit<LabShape, 'subnet'>, subnets: readonly number[]): Promise<LabStatus> {
  const subnet = await reserveSubnet(TEST_LABS, subnets, shape.clusters, Number(process.env.MAGRATHEA_TEST_RUN));
  const { status, seconds } = await labUp({ dir: runLabDir(name), shape: { ...shape, subnet } });
  process.stdout.write(`lab up (${shape.clusters} x ${shape.webHosts}, own lab of ${name}) in ${seconds.toFixed(1)} s\n`);
  return status;
}

export interface SshOptions {
  input?: string;
  /** Throw on a non-zero exit. Default true. */
  reject?: boolean;
  timeout?: number;
}

/** Runs argv on a lab host with the real OpenSSH client, each argument passed exactly. */
export function sshRun(lab: LabStatus, host: string, argv: readonly string[], options: SshOptions = {}): Promise<RunResult> {
  return run('ssh', ['-F', lab.ssh.config, host, '--', quoteForShell(argv)], {
    input: options.input ?? '',
    reject: options.reject ?? true,
    timeout: options.timeout ?? 30_000,
  });
}

/** Writes a file on a lab host (parent directories made), through ssh. */
export async function putFile(lab: LabStatus, host: string, path: string, content: string): Promise<void> {
  await sshRun(lab, host, ['sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'sh', path], { input: content });
}
