import { accountingCommand } from './accounting.js';
import { demoCommand } from './demo.js';
import { deployCommand } from './deploy.js';
import { explainCommand } from './explain.js';
import { labCommands } from './lab/index.js';
import { releasesCommand } from './releases.js';
import { renderCommand } from './render.js';
import { rollbackCommand } from './rollback.js';
import { serveCommand } from './serve.js';
import { statusCommand } from './status.js';
import type { Command } from './types.js';
import { usageCommand } from './usage.js';
import { validateCommand } from './validate.js';
import { workerCommand } from './worker.js';

/** Every `magrathea` command, in the order `help` lists them. */
export const commands: Command[] = [validateCommand, renderCommand, explainCommand, deployCommand, releasesCommand, rollbackCommand, usageCommand, statusCommand, serveCommand, workerCommand, accountingCommand, ...labCommands, demoCommand];
