import type { Command } from '../types.js';

/** `magrathea lab up | status | down`. */
export const labCommands: Command[] = [];
