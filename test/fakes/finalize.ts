/** finalize's ports in memory (src/workers/finalize.ts FinalizePorts): one store, one file's state, and what finished it. */
import { emptyUsage } from '../../src/models/types.ts';
import type { ChunkResult, FileState, RunSpec } from '../../src/runs/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { FinalizePorts } from '../../src/workers/finalize.ts';
import { MemoryStorage } from './storage.ts';

export interface FakeFinalize {
  ports: FinalizePorts;
  dst: MemoryStorage;
  finished: (Partial<FileState> & Pick<FileState, 'status'>)[];
}

export function fakeFinalizePorts(spec: RunSpec, opts: { open?: boolean; superseded?: boolean } = {}): FakeFinalize {
  const dst = new MemoryStorage();
  const finished: FakeFinalize['finished'] = [];
  const file: FileState = { key: 'in/a.mp3', uri: `${spec.source}in/a.mp3`, etag: 'e', size: 100, status: 'pending' };
  const ports: FinalizePorts = {
    spec: async () => spec,
    runs: {
      isFileOpen: async () => opts.open ?? true,
      isSuperseded: async () => opts.superseded ?? false,
      file: async () => file,
      finishFile: async (_runId, _fileId, patch) => {
        finished.push(patch);
      },
    },
    storage: () => dst,
    concatWav: async () => {
      throw new Error('this fake joins no WAV');
    },
    resultSecret: async () => 'fake-result-secret-0123456789',
    log: silentLogger,
  };
  return { ports, dst, finished };
}

/** A chunk's staged result: `requests` requests, text naming the chunk. */
export function chunkResult(index: number, startS: number, endS: number, requests = 1): ChunkResult {
  return {
    index,
    startS,
    endS,
    text: `chunk ${index} said this.`,
    usage: { ...emptyUsage(), input: { ...emptyUsage().input, audio: 100 } },
    cost: { amountMicros: 10, currency: 'USD', priced: true },
    attempts: requests,
    requests,
  };
}
