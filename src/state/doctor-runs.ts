import type { RedisContext } from './redis.js';

/** What `status` keeps of the last `doctor` of a cluster. */
export interface DoctorRun {
  at: string;
  ok: boolean;
  differences: number;
  unreachable: number;
}

export async function recordDoctorRun({ redis, keys }: RedisContext, cluster: string, run: DoctorRun): Promise<void> {
  await redis.hset(keys.doctorRuns(), cluster, JSON.stringify(run));
}

/** The last doctor of each cluster that had one. */
export async function readDoctorRuns({ redis, keys }: RedisContext): Promise<Record<string, DoctorRun>> {
  const raw = await redis.hgetall(keys.doctorRuns());
  return Object.fromEntries(Object.entries(raw).map(([cluster, json]) => [cluster, JSON.parse(json) as DoctorRun]));
}
