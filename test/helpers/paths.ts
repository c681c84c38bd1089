import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, and ../shared/media beside it (CI has ../shared beside the checkout too). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_MEDIA = path.resolve(REPO_ROOT, '../shared/media');
export const media = (name: string): string => path.join(SHARED_MEDIA, name);
