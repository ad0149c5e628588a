import { UsageError } from '../../core/errors.js';
import type { CommandContext } from '../../dispatch/command.js';

/**
 * The app's name, as --confirm gives it or the user types it when asked:
 * anything else refuses the command, saying that nothing was done.
 */
export async function confirmApp(ctx: CommandContext, command: string, app: string, given: string | undefined, what: string, nothing: string): Promise<void> {
  const answer = given ?? (await ctx.ask?.(`type the app's name (${app}) to ${what}: `));
  if (answer?.trim() !== app) throw new UsageError(`${command}: not confirmed; ${nothing} (give --confirm ${app}${given === undefined ? ', or type the name' : `, not ${JSON.stringify(given)}`})`);
}
