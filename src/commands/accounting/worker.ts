import { defineCommand } from '../../dispatch/command.js';
import { startGatewayAccounting } from '../../dispatch/context.js';
import { stopSignal } from '../../lib/stop-signal.js';
import { chunkSize } from './chunk.js';

/** `magrathea accounting worker`: the accounting schedule and a worker for its jobs, until interrupted. */
export default defineCommand<void>({
  name: 'accounting worker',
  summary: 'schedule the accounting job (every accounting.interval) and run it until interrupted, printing its progress; run one or more, anywhere',
  usage: '[--chunk SIZE] [--config DIR]',
  args: { values: ['chunk'] },
  need: 'local',
  surfaces: ['cli'],
  audited: false,
  async run(args, ctx) {
    const chunk = chunkSize(args.values.chunk);
    const gateway = await ctx.gateway();
    const worker = await startGatewayAccounting(gateway, ctx.configDir, { chunkBytes: chunk, log: (line) => ctx.io.stdout.write(`${line}\n`) });
    try {
      ctx.io.stdout.write(`accounting worker ready (pid ${process.pid}, every ${gateway.config.gateway.accounting.intervalSeconds} s, redis ${gateway.redis.address})\n`);
      const signal = await stopSignal();
      ctx.io.stdout.write(`accounting worker: ${signal} received, finishing the running job\n`);
    } finally {
      await worker.close();
    }
  },
});
