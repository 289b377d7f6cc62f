import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  cancelTask,
  createTask,
  registerTemplate,
  releaseLeases,
  reportAndClaim,
  reportStep,
  reportSteps,
  retryTask,
  sweepExpiredLeases,
} from '../../sdk/src/protocol/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { sleep } from '../support/queue.ts';
import { batchPipeline, diamond, template } from '../support/templates.ts';
import { claimByName, lease, logChains, logProblems, states } from './review-helpers.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

it('checked: report_and_claim with a failure after a direct claim, then retry', async () => {
  const ns = 'ex_rac';
  await registerTemplate(db.pool, diamond(ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'diamond' });
  const a = (await claimByName(db.pool, ns)).a!;
  const r = await reportAndClaim(db.pool, [{ ...lease(a), outcome: 'success' }], { workerId: 'w', claimMax: 1, leaseSeconds: 30 });
  const b = r.claim.claimed[0]!;
  const c = (await claimByName(db.pool, ns)).c!;
  await reportSteps(db.pool, [{ ...lease(b), outcome: 'permanent_failure' }, { ...lease(c), outcome: 'success' }]);
  await retryTask(db.pool, taskId);
  const again = await claimByName(db.pool, ns);
  console.log(Object.keys(again), await states(db.pool, taskId));
  for (const s of Object.values(again)) await reportStep(db.pool, { ...lease(s), outcome: 'success' });
  const d = await claimByName(db.pool, ns);
  for (const s of Object.values(d)) await reportStep(db.pool, { ...lease(s), outcome: 'success' });
  console.log(await states(db.pool, taskId), JSON.stringify(await logChains(db.pool, taskId)));
  expect(await logProblems(db.pool, taskId)).toEqual([]);
});

it('checked: batch with failure, retry, release, sweep', async () => {
  const ns = 'ex_batch';
  await registerTemplate(db.pool, batchPipeline(ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'batch_pipeline' });
  const split = (await claimByName(db.pool, ns)).split!;
  const r = await reportAndClaim(db.pool, [{ ...lease(split), outcome: 'success', batch: [1, 2, 3] }], { workerId: 'w', claimMax: 2, leaseSeconds: 30 });
  console.log(r.results, r.claim.claimed.map((s) => s.stepName));
  const rest = await claimByName(db.pool, ns, 1);
  console.log(Object.keys(rest));
  await releaseLeases(db.pool, [rest['work[2]']!].map(lease) as never, 'w');
  const w0 = r.claim.claimed[0]!;
  await reportStep(db.pool, { ...lease(w0), outcome: 'permanent_failure' });
  await retryTask(db.pool, taskId);
  console.log(await states(db.pool, taskId));
  let guard = 0;
  while ((await states(db.pool, taskId)).task === 'in_progress' && guard++ < 10) {
    const got = await claimByName(db.pool, ns);
    for (const s of Object.values(got)) await reportStep(db.pool, { ...lease(s), outcome: 'success' });
  }
  console.log(await states(db.pool, taskId), JSON.stringify(await logChains(db.pool, taskId)));
  expect(await logProblems(db.pool, taskId)).toEqual([]);
});

it('checked: decision + batch reported after the task stopped, retry, logs', async () => {
  const ns = 'ex_dec';
  await registerTemplate(db.pool, template('dec', [
    { name: 'd', handler: 'h.d', type: 'decision' },
    { name: 'x', handler: 'h.x', dependencies: ['d'] },
    { name: 'y', handler: 'h.y', dependencies: ['d'] },
    { name: 'j', handler: 'h.j', dependencies: ['x', 'y'] },
    { name: 'split', handler: 'h.s', type: 'batch' },
    { name: 'work', handler: 'h.w', dependencies: ['split'] },
    { name: 'merge', handler: 'h.m', dependencies: ['work', 'j'] },
    { name: 'boom', handler: 'h.b' },
  ], ns));
  const { taskId } = await createTask(db.pool, { namespace: ns, name: 'dec' });
  const first = await claimByName(db.pool, ns);
  await reportSteps(db.pool, [
    { ...lease(first.boom!), outcome: 'permanent_failure' },
    { ...lease(first.d!), outcome: 'success', activate: ['x'] },
    { ...lease(first.split!), outcome: 'success', batch: [1, 2] },
  ]);
  console.log(await states(db.pool, taskId));
  await retryTask(db.pool, taskId);
  let guard = 0;
  while ((await states(db.pool, taskId)).task === 'in_progress' && guard++ < 10) {
    const got = await claimByName(db.pool, ns);
    for (const s of Object.values(got)) {
      if (s.stepName === 'd') await reportStep(db.pool, { ...lease(s), outcome: 'success', activate: ['y'] });
      else if (s.stepName === 'split') await reportStep(db.pool, { ...lease(s), outcome: 'success', batch: [] });
      else await reportStep(db.pool, { ...lease(s), outcome: 'success' });
    }
  }
  console.log(await states(db.pool, taskId), JSON.stringify(await logChains(db.pool, taskId)));
  expect(await logProblems(db.pool, taskId)).toEqual([]);
  void cancelTask; void sweepExpiredLeases; void sleep;
});
