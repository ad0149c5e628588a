import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs `magrathea <argv>` in this process, as the CLI would, and collects what it writes. */
export async function runCli(argv: string[], cwd = process.cwd()): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        into.push(chunk.toString());
        done();
      },
    });
  const status = await main(argv, { stdout: sink(out), stderr: sink(err), cwd });
  return { status, stdout: out.join(''), stderr: err.join('') };
}
