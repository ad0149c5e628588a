import type { Command } from '../types.js';
import { labCommand } from './lab.js';

/** `magrathea lab up | status | down`. */
export const labCommands: Command[] = [labCommand];
