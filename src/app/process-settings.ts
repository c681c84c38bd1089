/**
 * The settings that hold for a whole process rather than one run: each low-level module takes its value once,
 * here, from the validated Config (config/index.ts SETTINGS), instead of reading the environment at every use.
 * The CLI calls this as soon as it has a Config (cli/common.ts); a library user or a test that wants other
 * values calls the setters itself.
 */
import type { Config } from '../config/index.ts';
import { setChildDeadlines, setChildMemory } from '../media/child-deadline.ts';
import { setFfmpegPaths } from '../media/ffmpeg.ts';
import { setTempBase } from '../storage/temp.ts';

export function applyProcessSettings(cfg: Config): void {
  setChildDeadlines({ floorMs: cfg.childTimeoutFloorMs, ceilingMs: cfg.childTimeoutCeilingMs });
  setChildMemory(cfg.childMaxMemoryMb);
  setFfmpegPaths({ ffmpeg: cfg.ffmpegPath, ffprobe: cfg.ffprobePath });
  setTempBase(cfg.tmpDir);
}
