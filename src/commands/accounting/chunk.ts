import { UsageError } from '../../core/errors.js';

/** `--chunk`: `4096`, `64K`, `32M`, `1G` (powers of 1024), 4 KiB to 1 GiB; undefined: the default. */
export function chunkSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^([1-9][0-9]{0,9})([KMG]?)$/.exec(text);
  const bytes = match ? Number(match[1]) * 1024 ** ' KMG'.indexOf(match[2] || ' ') : NaN;
  if (!(bytes >= 4096 && bytes <= 1024 ** 3)) throw new UsageError(`accounting: --chunk takes a size from 4K to 1G (like 32M), not ${JSON.stringify(text)}`);
  return bytes;
}
