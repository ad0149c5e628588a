/**
 * How a git hook talks to the gateway that runs it (push/hook-server.ts):
 * over the gateway's unix socket, one JSON line asking (HookRequest), then
 * the hook's input (the updated refs) until the hook ends its side; the
 * gateway answers with JSON lines (HookReply): what to say, then the exit
 * code. Imports nothing: the hook's process loads this and node:net only.
 */

/** The socket, and the push's secret: set by the gateway in git-receive-pack's environment, inherited by its hooks. */
export const SOCKET_ENV = 'MAGRATHEA_HOOK_SOCKET';
export const TOKEN_ENV = 'MAGRATHEA_HOOK_TOKEN';

export interface HookRequest {
  /** The push's secret, which names its app and pusher on the gateway. */
  token: string;
  hook: string;
  /** The git-receive-pack the hook is a child of. */
  receivePackPid: number;
  /** The hook's environment, of which the gateway takes the push options and the quarantine only. */
  env: Record<string, string>;
}

export type HookReply = { say: string } | { exit: number };

/** Longest first line the gateway reads (the request), and most input it takes after it. */
export const MAX_REQUEST_BYTES = 256 * 1024;
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

export function replyLine(reply: HookReply): string {
  return `${JSON.stringify(reply)}\n`;
}
