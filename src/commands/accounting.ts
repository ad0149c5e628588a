import { formatRun, runAccounting } from '../accounting/run-accounting.js';
import { configDir, loadGatewayConfig } from '../config/load.js';
import { renderEdgeLogRotate, renderEdgeLogUnit } from '../core/accounting/edge-log.js';
import { MagratheaError, UsageError } from '../core/errors.js';
import { parseArgs } from './args.js';
import { openGatewayContext, startGatewayAccounting } from '../gateway/context.js';
import { stopSignal } from '../lib/stop-signal.js';
import type { Command, CommandIO } from './types.js';

const verbs: Record<string, { usage: string; summary: string; run: (args: string[], io: CommandIO) => Promise<void> }> = {
  run: {
    usage: '[--cluster NAME] [--chunk SIZE] [--json] [--config DIR]',
    summary: 'run the accounting job now, in this process: disk per instance on every web host, new edge log lines of every cache host (--chunk: bytes read and counted per step, default 32M)',
    async run(args, io) {
      const parsed = parseArgs('accounting run', verbs.run!.usage, args, { values: ['cluster', 'chunk', 'config'], booleans: ['json'] });
      const chunk = parsed.values.chunk === undefined ? undefined : size(parsed.values.chunk);
      const gateway = await openGatewayContext(parsed.values.config);
      try {
        const cluster = parsed.values.cluster;
        if (cluster !== undefined && !gateway.config.clusters[cluster]) throw new UsageError(`accounting run: no cluster ${JSON.stringify(cluster)} in ${gateway.config.dir}/clusters.yml`);
        const json = parsed.flags.has('json');
        const run = await runAccounting({
          config: gateway.config,
          redis: { redis: gateway.redis.client, keys: gateway.keys },
          ...(cluster ? { clusters: [cluster] } : {}),
          chunkBytes: chunk,
          log: json ? undefined : (line) => io.stdout.write(`${line}\n`),
        });
        io.stdout.write(json ? `${JSON.stringify(run, null, 2)}\n` : formatRun(run));
        const failed = run.visits.filter((v) => v.error).map((v) => `${v.cluster}/${v.host}`);
        if (failed.length > 0) throw new MagratheaError(`accounting run: ${failed.length} host(s) failed: ${failed.join(', ')}; the next run goes on from where they stopped`, 'accounting-failed');
      } finally {
        await gateway.close();
      }
    },
  },
  worker: {
    usage: '[--chunk SIZE] [--config DIR]',
    summary: 'schedule the accounting job (every accounting.interval) and run it until interrupted, printing its progress; run one or more, anywhere',
    async run(args, io) {
      const parsed = parseArgs('accounting worker', verbs.worker!.usage, args, { values: ['chunk', 'config'] });
      const chunk = parsed.values.chunk === undefined ? undefined : size(parsed.values.chunk);
      const gateway = await openGatewayContext(parsed.values.config);
      try {
        const worker = await startGatewayAccounting(gateway, parsed.values.config, { chunkBytes: chunk, log: (line) => io.stdout.write(`${line}\n`) });
        io.stdout.write(`accounting worker ready (pid ${process.pid}, every ${gateway.config.gateway.accounting.intervalSeconds} s, redis ${gateway.redis.address})\n`);
        const signal = await stopSignal();
        io.stdout.write(`accounting worker: ${signal} received, finishing the running job\n`);
        await worker.close();
      } finally {
        await gateway.close();
      }
    },
  },
  'edge-log': {
    usage: '[--cluster NAME] [--config DIR]',
    summary: 'print what a real cache host needs for the edge traffic log: a systemd drop-in for varnishncsa and a logrotate file',
    async run(args, io) {
      const parsed = parseArgs('accounting edge-log', verbs['edge-log']!.usage, args, { values: ['cluster', 'config'] });
      const config = await loadGatewayConfig(configDir(parsed.values.config));
      const name = parsed.values.cluster ?? Object.keys(config.clusters)[0]!;
      const cluster = config.clusters[name];
      if (!cluster) throw new UsageError(`accounting edge-log: no cluster ${JSON.stringify(name)} in ${config.dir}/clusters.yml`);
      io.stdout.write(`# /etc/systemd/system/varnishncsa.service.d/magrathea.conf\n${renderEdgeLogUnit(cluster.paths)}\n# /etc/logrotate.d/magrathea-edge\n${renderEdgeLogRotate(cluster.paths)}`);
    },
  },
};

const usage = `run|worker|edge-log [options]\n${Object.entries(verbs).map(([name, v]) => `  accounting ${name} ${v.usage}\n      ${v.summary}`).join('\n')}`;

/** `magrathea accounting run | worker | edge-log`: disk and web traffic per instance, counted at the edge. */
export const accountingCommand: Command = {
  name: 'accounting',
  summary: 'disk and web traffic accounting: accounting run | worker | edge-log',
  usage,
  async run(args, io) {
    const [name, ...rest] = args;
    const verb = name === undefined ? undefined : verbs[name];
    if (!verb || !Object.hasOwn(verbs, name!)) {
      throw new UsageError(`accounting: ${name === undefined ? 'missing verb' : `unknown verb ${JSON.stringify(name)}`}; use run, worker or edge-log\nusage: magrathea accounting ${usage}`);
    }
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
      io.stdout.write(`usage: magrathea accounting ${name} ${verb.usage}\n${verb.summary}\n`);
      return;
    }
    await verb.run(rest, io);
  },
};

/** `4096`, `64K`, `32M`, `1G` (powers of 1024): 4 KiB to 1 GiB. */
function size(text: string): number {
  const match = /^([1-9][0-9]{0,9})([KMG]?)$/.exec(text);
  const bytes = match ? Number(match[1]) * 1024 ** ' KMG'.indexOf(match[2] || ' ') : NaN;
  if (!(bytes >= 4096 && bytes <= 1024 ** 3)) throw new UsageError(`accounting: --chunk takes a size from 4K to 1G (like 32M), not ${JSON.stringify(text)}`);
  return bytes;
}
