#!/usr/bin/env node
/**
 * `magrathea hook pre-receive | post-receive`, as the app repositories'
 * git hooks run it. Under the gateway's SSH server, git-receive-pack's
 * environment names the gateway's socket: the hook hands its input to the
 * gateway, which runs it in its own process (push/hook-server.ts), and
 * says what the gateway says. A push then pays for Node's start only (no
 * Redis client, queue or YAML parser loaded for each hook), and a hook
 * whose gateway stops ends at once instead of waiting for it. Without the
 * socket (a push into the repository on the gateway's machine), it runs
 * the hook itself (hook-local.ts).
 */
import { connect } from 'node:net';
import { MAX_INPUT_BYTES, SOCKET_ENV, TOKEN_ENV, type HookReply, type HookRequest } from '../push/hook-wire.js';

const hook = process.argv[2] ?? '';
const socket = process.env[SOCKET_ENV];
const token = process.env[TOKEN_ENV];

if (socket && token) viaGateway(socket, token);
else await import('./hook-local.js');

function viaGateway(path: string, secret: string): void {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('GIT_') && e[1] !== undefined));
  const request: HookRequest = { token: secret, hook, receivePackPid: process.ppid, env };
  let exit: number | undefined;
  let pending = '';
  let connected = false;
  const conn = connect(path);
  conn.setEncoding('utf8');
  conn.on('connect', () => {
    connected = true;
    conn.write(`${JSON.stringify(request)}\n`);
    let sent = 0;
    process.stdin.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent <= MAX_INPUT_BYTES) conn.write(chunk);
    });
    process.stdin.on('end', () => conn.end());
  });
  conn.on('data', (text: string) => {
    pending += text;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const reply = JSON.parse(pending.slice(0, nl)) as HookReply;
      pending = pending.slice(nl + 1);
      if ('say' in reply) process.stderr.write(`${reply.say}\n`);
      else exit = reply.exit;
    }
  });
  conn.on('error', (e) => {
    if (!connected) process.stderr.write(`magrathea: the gateway is not answering (${e.message}): push rejected\n`);
  });
  conn.on('close', () => {
    if (connected && exit === undefined) process.stderr.write('magrathea: the gateway stopped during the push: push rejected (a deploy it had queued may still run: see `releases`)\n');
    process.exit(exit ?? 1);
  });
}
