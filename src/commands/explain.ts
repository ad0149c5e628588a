import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { configDir, loadGatewayConfig } from '../config/load.js';
import { InvalidInputError, MagratheaError } from '../core/errors.js';
import { explainInstance } from '../core/manifest/explain.js';
import { environmentForBranch, resolveInstance } from '../core/manifest/resolve.js';
import { readApp } from '../push/read-app.js';
import { parseArgs } from './args.js';
import type { Command } from './types.js';

const usage = 'APP_DIR --cluster NAME [--env ENV] [--app NAME] [--config DIR] [--json]';

/** `magrathea explain`: the effective configuration of one instance, each value with the layer it came from. */
export const explainCommand: Command = {
  name: 'explain',
  summary: 'show the effective configuration of an app on a cluster, with the layer of each value',
  usage,
  async run(args, io) {
    const parsed = parseArgs('explain', usage, args, { values: ['cluster', 'env', 'app', 'config'], booleans: ['json'], positionals: [1, 1] });
    const cluster = parsed.values.cluster;
    if (!cluster) throw new MagratheaError(`explain: --cluster is required\nusage: magrathea explain ${usage}`, 'usage', 2);
    const app = await readApp(resolve(io.cwd, parsed.positionals[0]!), parsed.values.app);
    // The default environment is the one fed by the gateway's default branch (master without a config).
    const dir = configDir(parsed.values.config);
    const defaultBranch = parsed.values.config || existsSync(`${dir}/clusters.yml`) ? (await loadGatewayConfig(dir)).gateway.defaultBranch : 'master';
    const env = parsed.values.env ?? environmentForBranch(app.manifest, defaultBranch)?.name;
    if (!env) {
      throw new MagratheaError(`explain: no environment of ${app.name} is fed by the default branch "${defaultBranch}"; choose one with --env (${app.manifest.environments.map((e) => e.name).join(', ')})`, 'usage', 2);
    }
    const result = resolveInstance(app.manifest, { app: app.name, env, cluster });
    if ('problems' in result) throw new InvalidInputError(result.problems);
    const explained = explainInstance(result.instance);
    io.stdout.write(parsed.flags.has('json') ? `${JSON.stringify(explained, null, 2)}\n` : explained.text);
  },
};
