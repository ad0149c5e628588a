import { describe, expect, it } from '@jest/globals';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { DumpFilter, maybeGunzip } from './dump-stream.js';

/** The input through maybeGunzip and the filter: the bytes out, or the error. */
async function filtered(input: Buffer, max?: number): Promise<{ out: Buffer; filter: DumpFilter; gzipped: boolean }> {
  let gzipped = false;
  const filter = new DumpFilter(max);
  const source = Readable.from([input.subarray(0, 1), input.subarray(1, 7), input.subarray(7)].filter((b) => b.length > 0));
  const chunks: Buffer[] = [];
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (chunks.push(chunk), done()) });
  await pipeline(Readable.from(maybeGunzip(source, () => (gzipped = true))), filter, sink);
  return { out: Buffer.concat(chunks), filter, gzipped };
}

const DUMP = '-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\nCREATE DATABASE `x`;\r\nUSE `x`;\nCREATE TABLE `t` (a BLOB);\n';

describe('the import filter', () => {
  it('passes every other byte as it is: binary data, CRLF, a line of megabytes, no final newline', async () => {
    const blob = Buffer.from([0xff, 0xfe, 0x80, 0x0d, 0x01, 0x7f]);
    const long = Buffer.concat([Buffer.from("INSERT INTO `t` VALUES ('"), Buffer.alloc(3 * 1024 * 1024, 0x61), Buffer.from("');\r\n")]);
    const input = Buffer.concat([Buffer.from(DUMP), Buffer.from("INSERT INTO `t` VALUES ('"), blob, Buffer.from("');\n"), long, Buffer.from('-- end')]);
    const { out, filter, gzipped } = await filtered(input);
    const expected = Buffer.concat([Buffer.from('-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE `t` (a BLOB);\n'), Buffer.from("INSERT INTO `t` VALUES ('"), blob, Buffer.from("');\n"), long, Buffer.from('-- end')]);
    expect(out.equals(expected)).toBe(true);
    expect(filter.counts.dropped).toEqual({ 'create-database': 1, 'drop-database': 0, use: 1, 'server-variable': 0 });
    expect(gzipped).toBe(false);
  });

  it('drops a GTID set over several lines to the line that ends it, and keeps what follows', async () => {
    const gtid = "SET @@SESSION.SQL_LOG_BIN= 0;\nSET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'a:1-5,\nb:1-2,\nc:7';\nINSERT INTO `t` VALUES ('x');\n";
    const { out, filter } = await filtered(Buffer.from(DUMP + gtid));
    expect(out.toString()).toBe("-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE `t` (a BLOB);\nINSERT INTO `t` VALUES ('x');\n");
    expect(filter.counts.dropped['server-variable']).toBe(2);
  });

  it('gunzips gzip input (by its magic bytes), and refuses a damaged one', async () => {
    const { out, gzipped } = await filtered(gzipSync(DUMP));
    expect(gzipped).toBe(true);
    expect(out.toString()).toBe('-- MariaDB dump\n/*!40101 SET NAMES utf8mb4 */;\nCREATE TABLE `t` (a BLOB);\n');
    await expect(filtered(gzipSync(DUMP).subarray(0, 20))).rejects.toThrow(/^db:import: the gzip input is damaged \(unexpected end of file\); nothing was imported$/);
  });

  it('refuses what is not a dump, a NUL byte, and more than its maximum', async () => {
    await expect(filtered(Buffer.from('GIF89a\x01\x00'))).rejects.toThrow(/^db:import: this is not an SQL dump: a NUL byte at offset 7 \(it begins "GIF89a\\x01\\x00"\); nothing was imported$/);
    await expect(filtered(Buffer.from('hello\nworld\n'))).rejects.toThrow(/it does not begin like an SQL dump: "hello"/);
    await expect(filtered(Buffer.from(''))).rejects.toThrow(/it holds no SQL statement/);
    await expect(filtered(Buffer.from(DUMP), 40)).rejects.toThrow(/^db:import: the dump is over 40 bytes uncompressed/);
  });
});
