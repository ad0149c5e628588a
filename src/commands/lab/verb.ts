import type { CommandIO } from '../types.js';

/** One verb of `magrathea lab`: its own usage and parser. */
export interface LabVerb {
  name: string;
  usage: string;
  summary: string;
  run(args: string[], io: CommandIO): Promise<void>;
}
