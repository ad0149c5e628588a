import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { DEPLOY_PHASES } from '../../../core/deploy-event.js';

describe("the dashboard's deploy view", () => {
  it('orders the phases as the deployer names them', () => {
    // The browser module cannot import the TypeScript list: its copy is held to it here.
    const text = readFileSync(new URL('./assets/phases.js', import.meta.url), 'utf8');
    const list = /export const PHASES = (\[[^\]]*\]);/.exec(text)?.[1];
    expect(JSON.parse(list!.replaceAll("'", '"'))).toEqual([...DEPLOY_PHASES]);
  });
});
