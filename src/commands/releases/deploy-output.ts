import type { DeployEvent } from '../../core/deploy-event.js';
import type { CommandContext } from '../../dispatch/command.js';

/** Where a followed deploy or rollback goes: its own lines, and its events when the surface shows them. */
export interface DeployOutput {
  say(line: string): void;
  onEvent?: (event: DeployEvent) => void;
}

/**
 * A deploy's progress as the command's client takes it: lines on a
 * terminal and in a push (each event rendered as its line), lines and
 * events in one ordered stream over the HTTP API.
 */
export function deployOutput(ctx: CommandContext): DeployOutput {
  const sink = ctx.events;
  if (sink) return { say: (line) => sink.line(line), onEvent: (event) => sink.event(event) };
  return { say: (line) => void ctx.io.stdout.write(`${line}\n`) };
}
