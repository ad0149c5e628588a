import { basename, resolve } from 'node:path';
import { checkName } from '../core/values.js';
import { checkAllInstances } from '../core/manifest/resolve.js';
import { InvalidInputError } from '../core/errors.js';
import { readApp } from '../push/read-app.js';
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
    const dir = resolve(io.cwd, parsed.positionals[0] ?? '.');
    // The name only fills ${app}: a checkout directory that is not a valid app name still validates.
    const app = await readApp(dir, parsed.values.app ?? (checkName(basename(dir)) ? 'app' : undefined));
    const problems = checkAllInstances(app.manifest, app.name);
    if (problems.length > 0) throw new InvalidInputError(problems);
    const instances = app.manifest.environments.map((e) => `${e.name} (branch ${e.branch}): ${e.clusters.join(', ')}`);
    io.stdout.write(`${app.manifest.file}: ok\n${instances.map((l) => `  ${l}`).join('\n')}\n`);
  },
};
