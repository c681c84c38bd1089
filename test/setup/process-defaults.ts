/**
 * Before each integration test file: the process-wide settings as a fresh process has them. The integration
 * files of a worker share one module graph (vitest.config.ts, isolate: false): what one file installs (a catalog
 * file's models, a run's carried model entry, child deadlines and memory, ffmpeg paths, the temp base) would
 * otherwise hold in the next.
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
