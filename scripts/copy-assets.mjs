// tsc compiles src/ into dist/src/ and copies nothing else: the Lua scripts
// that src/state/redis-script.ts reads beside itself, and the dashboard's
// scripts and styles with the chart library's (from node_modules: nothing is
// fetched at run time), are copied here.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const copy = (from, to) => {
  // A file removed from src/ must not linger in dist/.
  rmSync(join(root, to), { recursive: true, force: true });
  cpSync(join(root, from), join(root, to), { recursive: true });
};
copy('src/state/scripts', 'dist/src/state/scripts');
copy('src/gateway/http/dashboard/assets', 'dist/src/gateway/http/dashboard/assets');
const vendor = join(root, 'dist/src/gateway/http/dashboard/assets/vendor');
mkdirSync(vendor, { recursive: true });
for (const file of ['uPlot.esm.js', 'uPlot.min.css']) cpSync(join(root, 'node_modules/uplot/dist', file), join(vendor, file));
cpSync(join(root, 'node_modules/uplot/LICENSE'), join(vendor, 'uPlot.LICENSE'));
