/** The canary detector of the hostile scenario is the emulator's own tone detector (src/emulator/tone.ts). */
export { toneShare } from '../../src/emulator/tone.ts';
