import { UsageError } from '../../core/errors.js';
import type { Command } from '../types.js';
import { labDownVerb } from './down.js';
import { labStatusVerb } from './status.js';
import { labUpVerb } from './up.js';
import type { LabVerb } from './verb.js';

const verbs: LabVerb[] = [labUpVerb, labStatusVerb, labDownVerb];

const usage = `up|status|down [options]\n${verbs.map((v) => `  lab ${v.name} ${v.usage}\n      ${v.summary}`).join('\n')}`;

/**
 * `magrathea lab up | status | down`: real clusters on this machine, each
 * host with its own 127.0.x.y address, filesystem view, sshd, Apache with
 * PHP-FPM, and per cluster a Varnish and an HAProxy.
 */
export const labCommand: Command = {
  name: 'lab',
  summary: 'real clusters on this machine for trying Magrathea and for tests: lab up | status | down',
  usage,
  async run(args, io) {
    const [name, ...rest] = args;
    const verb = verbs.find((v) => v.name === name);
    if (!verb) {
      throw new UsageError(`lab: ${name === undefined ? 'missing verb' : `unknown verb ${JSON.stringify(name)}`}; use up, status or down\nusage: magrathea lab ${usage}`);
    }
    if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h')) {
      io.stdout.write(`usage: magrathea lab ${verb.name} ${verb.usage}\n${verb.summary}\n`);
      return;
    }
    await verb.run(rest, io);
  },
};
