/**
 * Before each integration test file: the process-wide settings and the environment as a fresh process has them.
 * The integration files of a worker share one process and module graph (vitest.config.ts, isolate: false): what
 * one file installs (a catalog file's models, a run's carried model entry, child deadlines and memory, ffmpeg
 * paths, the temp base, s3rver's credentials put into process.env) would otherwise hold in the next.
 */
import { DEFAULT_CHILD_MEMORY_MB, DEFAULT_DEADLINES, setChildDeadlines, setChildMemory } from '../../src/media/child-deadline.ts';
import { setFfmpegPaths } from '../../src/media/ffmpeg.ts';
import { BUILT_IN, useCatalog } from '../../src/models/catalog.ts';
import { setTempBase } from '../../src/storage/temp.ts';

useCatalog(BUILT_IN);
setChildDeadlines(DEFAULT_DEADLINES);
setChildMemory(DEFAULT_CHILD_MEMORY_MB);
setFfmpegPaths({});
setTempBase(undefined);

// The worker's environment as it started (kept on globalThis: this file runs again before every file).
const store = globalThis as { omnibatchTestEnv?: Record<string, string | undefined> };
store.omnibatchTestEnv ??= { ...process.env };
const pristine = store.omnibatchTestEnv;
for (const k of Object.keys(process.env)) if (!(k in pristine)) delete process.env[k];
Object.assign(process.env, pristine);
