import { describe, expect, it } from '@jest/globals';
import { summarizeDeployJob } from './deploy-jobs.js';
import type { DeployJobData } from './job-types.js';

const data: DeployJobData = { app: 'shop', env: 'production', commit: 'a'.repeat(40), ref: 'refs/heads/master', requestedBy: 'ann', sourcePath: '/x' };

describe('a deploy job as deploys lists it', () => {
  it('a deploy, a rollback of one cluster, and doctor --fix shipping a release again', () => {
    const job = { id: '7', data, timestamp: Date.UTC(2026, 0, 2, 3, 4, 5), processedOn: Date.UTC(2026, 0, 2, 3, 4, 6), attemptsMade: 0 };
    expect(summarizeDeployJob(job, 'active')).toEqual({
      id: '7', app: 'shop', env: 'production', kind: 'deploy', ref: 'refs/heads/master', commit: 'a'.repeat(40), requestedBy: 'ann',
      state: 'active', since: '2026-01-02T03:04:05.000Z', startedAt: '2026-01-02T03:04:06.000Z', attemptsMade: 0,
    });
    const rollback = summarizeDeployJob({ ...job, data: { ...data, rollbackTo: 'r3', clusters: ['cluster-b'] }, processedOn: undefined }, 'waiting');
    expect(rollback).toMatchObject({ kind: 'rollback', release: 'r3', clusters: ['cluster-b'], state: 'waiting' });
    expect(rollback).not.toHaveProperty('startedAt');
    expect(summarizeDeployJob({ ...job, data: { ...data, rollbackTo: 'r3', reapply: true } }, 'active').kind).toBe('reapply');
  });
});
