/** Bull Board for every stage queue, as an express router to mount at `basePath`. */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';
import { STAGES } from '../jobs/catalog.ts';
import type { Queues } from '../jobs/queues.ts';

export interface BoardOptions {
  basePath: string;
  /** hide retry/clean/delete/pause: for a dashboard many people can reach */
  readOnly: boolean;
  /** where the board's header links back to (our runs page) */
  runsPath: string;
}

export function bullBoardRouter(queues: Queues, opts: BoardOptions): Router {
  const serverAdapter = new ExpressAdapter().setBasePath(opts.basePath);
  createBullBoard({
    queues: STAGES.map(
      (stage) =>
        new BullMQAdapter(queues[stage] as unknown as Queue, {
          readOnlyMode: opts.readOnly,
          // read-only means nothing changes from the browser; `omnibatch retry` retries a run's failed files
          allowRetries: !opts.readOnly,
          description: `omnibatch ${stage} stage`,
        }),
    ),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'omnibatch queues', miscLinks: [{ text: 'Runs', url: opts.runsPath }], hideDocsLink: true } },
  });
  return serverAdapter.getRouter() as Router;
}
