import { describe, expect, it } from '@jest/globals';
import { eventLine, eventMaker } from './deploy-event.js';

describe('deploy events', () => {
  it('carry the phase of their cluster (or of the job) until a line names another, the last release named, and the time since the start', () => {
    const make = eventMaker(1_000);
    expect(make('deploy 7 started', { phase: 'queue', status: 'started' }, 1_000)).toEqual({ phase: 'queue', status: 'started', elapsedMs: 0, message: 'deploy 7 started' });
    expect(make('hello (production): release r3 of abc', { phase: 'release', release: 'r3' }, 1_250)).toMatchObject({ phase: 'release', status: 'info', release: 'r3', elapsedMs: 250 });
    expect(make('build', { phase: 'build', status: 'started' }, 1_300)).toMatchObject({ phase: 'build', release: 'r3' });
    // A build's output: no phase of its own.
    expect(make('  composer install', undefined, 1_400)).toMatchObject({ phase: 'build', status: 'info', message: '  composer install' });
    expect(make('cluster-a: preparing 2 hosts', { phase: 'prepare', status: 'started', cluster: 'cluster-a' }, 2_000)).toMatchObject({ phase: 'prepare', cluster: 'cluster-a' });
    // A host's end of a step is only in the structured stream, and does not move its cluster's phase.
    const host = make('cluster-a: a-web-1: check done', { phase: 'check', status: 'done', cluster: 'cluster-a', host: 'a-web-1', line: false }, 2_100);
    expect(host).toMatchObject({ phase: 'check', host: 'a-web-1', line: false });
    expect(eventLine(host)).toBeUndefined();
    const hook = make('  migrated', { cluster: 'cluster-a' }, 2_200);
    expect(hook).toMatchObject({ phase: 'prepare', cluster: 'cluster-a', elapsedMs: 1_200 });
    expect(eventLine(hook)).toBe('  migrated');
    // Another cluster starts from the job's phase.
    expect(make('cluster-b: waiting', { cluster: 'cluster-b' }, 2_300)).toMatchObject({ phase: 'build', cluster: 'cluster-b' });
  });

  it('never go back in time', () => {
    expect(eventMaker(5_000)('x', undefined, 4_000).elapsedMs).toBe(0);
  });
});
