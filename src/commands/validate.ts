import { checkAllInstances } from '../core/manifest/resolve.js';
import { InvalidInputError } from '../core/errors.js';
import { readApp } from '../render/read-app.js';
import { parseArgs } from './args.js';
import type { Command } from './types.js';

const usage = '[APP_DIR] [--app NAME]';

/** `magrathea validate [APP_DIR]`: the manifest's shape, then every instance it can produce. */
export const validateCommand: Command = {
  name: 'validate',
  summary: 'check magrathea.yml: prints file:line:col: message per problem, exits 1 if any',
  usage,
  async run(args, io) {
    const parsed = parseArgs('validate', usage, args, { values: ['app'], positionals: [0, 1] });
    const app = await readApp(parsed.positionals[0] ?? io.cwd, parsed.values.app);
    const problems = checkAllInstances(app.manifest, app.name);
    if (problems.length > 0) throw new InvalidInputError(problems);
    const instances = app.manifest.environments.map((e) => `${e.name} (branch ${e.branch}): ${e.clusters.join(', ')}`);
    io.stdout.write(`${app.manifest.file}: ok\n${instances.map((l) => `  ${l}`).join('\n')}\n`);
  },
};
