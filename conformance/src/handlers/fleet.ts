/** The handler of the mixed fleet: a short wait, so that no one worker can take all the work. */
import { defineHandler, type HandlerDefinition } from '@tasker/sdk';
import { numberInput } from './inputs.ts';

/** `cf.work`: sleeps `inputs.ms` (default 20) honouring the signal. */
export const work: HandlerDefinition = defineHandler('cf.work', async (ctx) => {
  const ms = numberInput(ctx.inputs, 'ms', 20);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    ctx.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      },
      { once: true },
    );
  });
  return { worked: ms };
});
