// tsc compiles src/ into dist/src/ and copies nothing else: the Lua scripts
// that src/state/redis-script.ts reads beside itself are copied here.
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const to = join(root, 'dist/src/state/scripts');
// A script removed from src/ must not linger in dist/.
rmSync(to, { recursive: true, force: true });
cpSync(join(root, 'src/state/scripts'), to, { recursive: true });
