import { createServer } from 'node:net';
import { labDown } from '../../src/lab/down.js';
import { planLab } from '../../src/lab/plan.js';
import type { LabStatus } from '../../src/lab/status.js';
import { labUp } from '../../src/lab/up.js';

/** Subnets the bench may take (127.0.S.*), away from the default lab (1), the test runs' (101, 221-237) and the demo's. */
export const BENCH_SUBNETS = [241, 242, 243, 244, 245, 246, 247, 248, 249] as const;

export interface BenchLab {
  status: LabStatus;
  seconds: number;
  /** Stops every process of the lab by PID and removes its directory. Safe to call twice. */
  down(): Promise<void>;
}

/**
 * A lab of the bench's own: `clusters` clusters (default one) of `webHosts`
 * web hosts and an edge, on the first subnet of BENCH_SUBNETS whose
 * addresses nobody holds.
 * `down` is returned even when `up` fails half way (the caller's finally
 * brings down whatever started).
 */
export async function benchLabUp(dir: string, webHosts: number, onDown: (down: () => Promise<void>) => void, clusters = 1): Promise<BenchLab> {
  const subnet = await freeSubnet(webHosts, clusters);
  let done: Promise<void> | undefined;
  const down = (): Promise<void> => (done ??= labDown({ dir, purge: true }).then(() => undefined));
  onDown(down);
  const { status, seconds } = await labUp({ dir, shape: { clusters, webHosts, subnet } });
  if (!status.up) throw new Error(`the bench's lab at ${dir} is not fully up: ${status.hosts.filter((h) => !h.up).map((h) => h.name).join(', ')}`);
  return { status, seconds, down };
}

async function freeSubnet(webHosts: number, clusters: number): Promise<number> {
  for (const subnet of BENCH_SUBNETS) {
    const hosts = planLab({ clusters, webHosts, subnet }).hosts;
    const free = await Promise.all(hosts.map((h) => canBind(h.address, 22)));
    if (free.every(Boolean)) return subnet;
  }
  throw new Error(`no free subnet for the bench's lab among 127.0.{${BENCH_SUBNETS.join(',')}}.*: other labs hold them (magrathea lab status / lab down --dir ...)`);
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
