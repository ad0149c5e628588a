import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec.js';
import { labDown } from '../../src/lab/down.js';
import type { LabStatus } from '../../src/lab/status.js';
import { commitAll, deployHead, expectedBody, rollBack, SLOW_SECONDS, writeApp, type AppVersion, type DeployContext } from '../../bench/zero-downtime/app.js';
import { get, RequestStream, type Hit } from '../../bench/zero-downtime/traffic.js';
import { openDeployState, type SuiteDeployState } from '../helpers/deploy-trees.js';
import { putFile, sshRun, useOwnLab } from '../helpers/lab.js';

/**
 * No request is lost to a switch: slow requests through the edge, sent
 * while a deploy, a config change or a rollback switches both web hosts,
 * answer 200 with the release they started on, and a stream of short
 * requests meanwhile sees no failure. A lab of its own (one cluster, two
 * web hosts): it deploys many times and changes a host's FPM settings.
 */
const APP = 'zdt';
const ROOT = `/var/www/magrathea/${APP}/production`;
const WEB = ['a-web-1', 'a-web-2'];
/** A request sent this long before `current` changed has surely reached PHP by then. */
const MARGIN_MS = 300;

let lab: LabStatus;
let ctx: DeployContext;
let suite: SuiteDeployState | undefined;
let edge: string;
/** Each web host's address, where its Apache listens (the lab's web port is 80). */
let webAddress: Record<string, string>;
let n = 0;

beforeAll(async () => {
  lab = await useOwnLab('zero-downtime', { clusters: 1, webHosts: 2 }, [209, 217, 219]);
  suite = await openDeployState(lab.config, 'zd-test');
  const { config, state, work } = suite;
  const repo = join(work, APP);
  await run('git', ['init', '-q', '-b', 'master', repo]);
  ctx = { app: APP, repo, work, config, state, log: () => undefined };
  edge = lab.edges[0]!.url;
  webAddress = Object.fromEntries(lab.hosts.filter((h) => WEB.includes(h.name)).map((h) => [h.name, `${h.address}:${config.clusters['cluster-a']!.ports.web}`]));
}, 120_000);

afterAll(async () => {
  await suite?.close();
  if (lab) await labDown({ dir: lab.dir, purge: true });
}, 60_000);

async function release(version: AppVersion): Promise<string> {
  await writeApp(ctx.repo, APP, ['cluster-a'], version);
  await commitAll(ctx.repo, version.code);
  const id = `r${++n}`;
  const result = await deployHead(ctx, id);
  if (!result.ok) throw new Error(result.clusters.map((c) => c.error).join('; '));
  return id;
}

interface Slow {
  sentAt: number;
  hit: Hit;
}

/**
 * Runs `action` while a short request stream and a wave of slow requests
 * (one every 250 ms, from before the action until it is done) go through
 * the edge, and slow requests go straight to each web host in turn (one
 * every 500 ms): the edge's director may send most to one host, and each
 * host must have some in flight across its own switch. Returns what they
 * got, and when each web host's `current` changed.
 */
async function acrossSwitch(action: () => Promise<void>): Promise<{ stream: Awaited<ReturnType<RequestStream['stop']>>; slow: Slow[]; switchedAt: Record<string, number> }> {
  const stream = new RequestStream([{ url: edge, host: `${APP}.example.com` }], 2, 10, 20_000);
  const slow: Promise<Slow>[] = [];
  let sending = true;
  const waves = (async () => {
    for (let i = 0; sending; i++) {
      const sentAt = Date.now();
      slow.push(get(`${edge}/slow.php?w=${i}`, `${APP}.example.com`).then((hit) => ({ sentAt, hit })));
      if (i % 2 === 0) slow.push(get(`http://${webAddress[WEB[(i / 2) % WEB.length]!]}/slow.php?d=${i}`, `${APP}.example.com`).then((hit) => ({ sentAt, hit })));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    await new Promise((r) => setTimeout(r, 1000)); // slow requests in flight before anything starts
    await action();
  } finally {
    sending = false;
    await waves;
  }
  const [summary, answers] = await Promise.all([stream.stop(), Promise.all(slow)]);
  process.stdout.write(`zero-downtime: ${summary.requests} short requests, ${summary.failed} failed, slowest ${summary.slowestMs.toFixed(0)} ms; ${answers.length} slow requests\n`);
  const switchedAt: Record<string, number> = {};
  for (const host of WEB) switchedAt[host] = Number((await sshRun(lab, host, ['stat', '-c', '%.3Y', `${ROOT}/current`])).stdout.trim()) * 1000;
  return { stream: summary, slow: answers, switchedAt };
}

/**
 * Every slow request answered 200; those sent before the host that served
 * them switched, with the old release; some on each host were in flight
 * across its switch (else this proves nothing); the stream lost nothing;
 * and now every web host serves the new release.
 */
async function expectNothingDropped(got: Awaited<ReturnType<typeof acrossSwitch>>, before: AppVersion, after: AppVersion): Promise<void> {
  expect({ failed: got.stream.failed, examples: got.stream.examples }).toEqual({ failed: 0, examples: [] });
  expect(got.stream.requests).toBeGreaterThan(50);
  const failed = got.slow.filter((s) => s.hit.status !== 200).map((s) => `${s.hit.status || s.hit.error} ${s.hit.body.slice(0, 100)}`);
  expect(failed).toEqual([]);
  const straddling: Record<string, number> = Object.fromEntries(WEB.map((h) => [h, 0]));
  const wrong: string[] = [];
  for (const { sentAt, hit } of got.slow) {
    const [code, mark, host, start] = hit.body.trim().split(' ');
    const switchedAt = got.switchedAt[host!]!;
    if (sentAt < switchedAt - MARGIN_MS) {
      if (`${code} ${mark}` !== expectedBody(before)) wrong.push(`sent ${switchedAt - sentAt} ms before ${host} switched: ${hit.body.trim()}`);
      if (Number(start) * 1000 + SLOW_SECONDS * 1000 > switchedAt) straddling[host!]!++;
    }
  }
  expect(wrong).toEqual([]);
  for (const host of WEB) expect({ host, straddling: straddling[host]! > 0 }).toEqual({ host, straddling: true });
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const hit = await get(`${edge}/?after=${i}`, `${APP}.example.com`);
    expect(hit.body).toMatch(new RegExp(`^${expectedBody(after)} `));
    seen.add(hit.body.trim().split(' ')[2]!);
  }
  expect([...seen].sort()).toEqual(WEB);
}

describe('zero downtime on the lab', () => {
  const v1: AppVersion = { code: 'code1', mark: 'mark1', extraDomain: false };
  const v2: AppVersion = { code: 'code2', mark: 'mark1', extraDomain: false };
  const v3: AppVersion = { code: 'code2', mark: 'mark2', extraDomain: true };
  let r2 = '';

  beforeAll(async () => {
    await release(v1);
  }, 120_000);

  it('a code-only deploy: slow requests in flight finish on the old release, the stream loses nothing', async () => {
    const result = await acrossSwitch(async () => {
      r2 = await release(v2);
    });
    await expectNothingDropped(result, v1, v2);
  }, 120_000);

  it('a config-changing deploy (an env var, a domain added: vhost, pool, VCL, HAProxy map reloaded): the same', async () => {
    const result = await acrossSwitch(async () => {
      await release(v3);
    });
    await expectNothingDropped(result, v2, v3);
    expect((await get(edge, `www.${APP}.example.com`)).body).toMatch(new RegExp(`^${expectedBody(v3)} `));
  }, 120_000);

  it('a rollback (to the release before the config change): the same', async () => {
    const result = await acrossSwitch(async () => {
      const outcome = await rollBack(ctx, 'cluster-a', r2);
      expect({ status: outcome.status, error: outcome.error }).toEqual({ status: 'live', error: undefined });
    });
    await expectNothingDropped(result, v3, v2);
    expect((await get(edge, `www.${APP}.example.com`)).status).toBe(404);
  }, 120_000);

  it('refuses, before the switch, a config change on a web host whose FPM would kill the requests in flight at its reload (Debian\'s process_control_timeout = 0), naming the host and the setting; a code change, which reloads nothing, goes through', async () => {
    const conf = '/etc/php/8.2/fpm/php-fpm.conf';
    const saved = (await sshRun(lab, 'a-web-2', ['cat', conf])).stdout;
    expect(saved).toMatch(/^process_control_timeout = 30s$/m);
    await putFile(lab, 'a-web-2', conf, saved.replace(/^process_control_timeout = .*$/m, 'process_control_timeout = 0'));
    try {
      // v2's code with another env var: its pool changes, PHP-FPM would be reloaded.
      await writeApp(ctx.repo, APP, ['cluster-a'], { code: 'code2', mark: 'mark3', extraDomain: false });
      await commitAll(ctx.repo, 'a config change on a host without the setting');
      const result = await deployHead(ctx, `r${++n}`);
      expect(result.clusters[0]).toMatchObject({ status: 'failed' });
      expect(result.clusters[0]!.error).toMatch(/^cluster-a: a-web-2: check: PHP-FPM 8\.2 has process_control_timeout = 0s: .*\[global\] section/);
      for (const host of WEB) expect((await sshRun(lab, host, ['readlink', `${ROOT}/current`])).stdout.trim()).toBe(`releases/${r2}`);
      expect((await get(edge, `${APP}.example.com`)).body).toMatch(new RegExp(`^${expectedBody(v2)} `));

      const v4: AppVersion = { code: 'code4', mark: v2.mark, extraDomain: false };
      await writeApp(ctx.repo, APP, ['cluster-a'], v4);
      await commitAll(ctx.repo, 'a code change on a host without the setting');
      const code = await deployHead(ctx, `r${++n}`);
      expect({ status: code.clusters[0]!.status, error: code.clusters[0]!.error }).toEqual({ status: 'live', error: undefined });
      expect((await get(edge, `${APP}.example.com`)).body).toMatch(new RegExp(`^${expectedBody(v4)} `));
    } finally {
      await putFile(lab, 'a-web-2', conf, saved);
    }
  }, 120_000);
});
