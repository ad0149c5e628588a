import { LiveUsers } from '../../config/live-users.js';
import { Slots } from '../../core/slots.js';
import type { Command } from '../../dispatch/command.js';
import { Dispatcher } from '../../dispatch/dispatch.js';
import type { GatewayContext } from '../../dispatch/context.js';
import { startApiServer, type ApiServer } from '../../gateway/http/server.js';
import { startGatewayServer, type GatewayServer } from '../../gateway/ssh/server.js';
import { startHookServer, type HookServer } from '../../push/hook-server.js';
import { resolveApiToken } from '../../state/api-tokens.js';

export interface Listen {
  host: string;
  port: number;
}

export interface GatewayServices {
  ssh: GatewayServer;
  http?: ApiServer;
  users: LiveUsers;
  close(): Promise<void>;
}

/**
 * The gateway's front doors, built one way for `serve`, `demo` and the
 * tests: users.yml read live, the SSH server and (unless `http` is
 * undefined) the HTTP API, each with a dispatcher over the same commands,
 * the same gateway context and the same audit log, and one count of
 * `logs -f` per user for both.
 */
export async function startGatewayServices(gateway: GatewayContext, options: { commands: readonly Command[]; configDir: string; ssh: Listen; http?: Listen; log?: (line: string) => void }): Promise<GatewayServices> {
  const log = options.log ?? (() => undefined);
  const users = new LiveUsers(options.configDir, gateway.config, log);
  users.watch();
  const follows = new Slots(gateway.config.gateway.limits.logsFollowPerUser);
  const dispatcher = (surface: 'ssh' | 'http') => new Dispatcher({ commands: options.commands, surface, configDir: options.configDir, gateway, follows });
  let ssh: GatewayServer | undefined;
  let http: ApiServer | undefined;
  let hooks: HookServer | undefined;
  const close = async () => {
    users.close();
    // The hooks first: the pushes they held are rejected, and the SSH server lets them say so before it closes.
    await hooks?.close();
    await Promise.all([ssh?.close(), http?.close()]);
  };
  try {
    hooks = await startHookServer(gateway, log);
    ssh = await startGatewayServer({ config: gateway.config, configDir: options.configDir, ...options.ssh, users, dispatcher: dispatcher('ssh'), log, ...(hooks ? { hooks } : {}) });
    if (options.http) http = await startApiServer({ config: gateway.config, configDir: options.configDir, ...options.http, users, dispatcher: dispatcher('http'), log, resolveToken: (token) => resolveApiToken(gateway.state, token), ...(hooks ? { hooks } : {}) });
  } catch (e) {
    await close();
    throw e;
  }
  return { ssh, ...(http ? { http } : {}), users, close };
}

/** `ADDRESS:PORT` as --listen and gateway.yml give it. */
export function parseListen(flag: string, text: string): Listen | { error: string } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  if (!match || Number(match[2]) > 65535) return { error: `${flag} takes ADDRESS:PORT, not ${JSON.stringify(text)}` };
  return { host: match[1]!, port: Number(match[2]) };
}
