import { basename, resolve } from 'node:path';
import { defineCommand } from '../../dispatch/command.js';
import { InvalidInputError } from '../../core/errors.js';
import { checkAllInstances } from '../../core/manifest/resolve.js';
import { checkName } from '../../core/values.js';
import { readApp } from '../../builder/manifest.js';

/** `magrathea validate [APP_DIR]`: the manifest's shape, then every instance it can produce. */
export default defineCommand<{ file: string; environments: { name: string; branch: string; clusters: string[] }[] }>({
  name: 'validate',
  summary: 'check magrathea.yml: prints file:line:col: message per problem, exits 1 if any',
  usage: '[APP_DIR] [--app NAME]',
  args: { values: ['app'], positionals: [0, 1] },
  need: 'local',
  surfaces: ['cli'],
  async run(args, ctx) {
    const dir = resolve(ctx.io.cwd, args.positionals[0] ?? '.');
    // The name only fills ${app}: a checkout directory that is not a valid app name still validates.
    const app = await readApp(dir, args.values.app ?? (checkName(basename(dir)) ? 'app' : undefined));
    const problems = checkAllInstances(app.manifest, app.name);
    if (problems.length > 0) throw new InvalidInputError(problems);
    return { file: app.manifest.file, environments: app.manifest.environments.map((e) => ({ name: e.name, branch: e.branch, clusters: [...e.clusters] })) };
  },
  text: (r) => `${r.file}: ok\n${r.environments.map((e) => `  ${e.name} (branch ${e.branch}): ${e.clusters.join(', ')}`).join('\n')}\n`,
});
