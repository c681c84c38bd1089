/**
 * Which objects a run takes, for the scan that runs it and for the estimate (and deadline plan) that prices
 * it: one selection, so a price is of the files the run will process (docs/architecture.md, "The flow of one run").
 * A listing of the source, or the manifest's entries (a HEAD each for ETag and size); then the include/exclude
 * filter, and, when the destination lies in the source, what earlier runs wrote there.
 */
import { access } from 'node:fs/promises';
import type { RunSpec } from '../runs/types.ts';
import type { ObjectInfo, Storage } from '../storage/types.ts';
import { describeError, type FailureCode, OmniError } from '../util/errors.ts';
import { compileSelection, type OutputClaim, outputsOf, type SkipReason } from './filter.ts';
import { keyUnderSource, readManifest } from './manifest.ts';

export interface ObjectProblem {
  code: FailureCode;
  message: string;
}

/**
 * An object of the run: its listing, and what already fails it (a manifest entry whose HEAD was refused). A
 * manifest entry that is gone has size -1: it is still the run's, and fails as storage_not_found.
 */
export type Listed = ObjectInfo & {
  problem?: ObjectProblem;
  /** not read, and why (a user's pattern, a name that is surely not media): the run reports it as skipped */
  skip?: SkipReason;
};

/** The run's destination, whose outputs are left out of the listing when it lies in the source. */
export interface DestinationRecords {
  uri: string;
  /** whether the records of this deployment back the claim (filter.ts outputsOf): the scan's lookups */
  confirms(claim: OutputClaim): Promise<boolean>;
}

/**
 * The run's objects in order, each either to read or with the reason it is not (`skip`): every object listed
 * is accounted for (issue 22: a quarter of a real archive was dropped without a word). `destination`: left out
 * are the keys its records show to be outputs (filter.ts outputsOf); omitted (an estimate, which has none),
 * nothing is left out for it. --max-files is the caller's: the scan counts registered files (a redone scan meets
 * them again), the estimate counts what it probes.
 */
export async function* runObjects(
  spec: Pick<RunSpec, 'source' | 'manifest' | 'include' | 'exclude'>,
  src: Storage,
  destination?: DestinationRecords,
): AsyncGenerator<Listed> {
  const skipped = compileSelection(spec);
  const claimsOf = destination ? outputsOf(src.uri, destination.uri) : () => [];
  for await (const obj of selected(spec, src)) {
    // What earlier runs wrote is the run's own output, not the user's objects: left out, not reported. Only the
    // run's records say so (filter.ts outputsOf), never a name.
    let own = false;
    for (const claim of claimsOf(obj.key)) {
      own = await destination!.confirms(claim);
      if (own) break;
    }
    if (own) continue;
    const skip = skipped(obj.key);
    yield skip ? { ...obj, skip } : obj;
  }
}

async function* selected(spec: Pick<RunSpec, 'source' | 'manifest'>, src: Storage): AsyncGenerator<Listed> {
  if (!spec.manifest) {
    yield* src.list('');
    return;
  }
  for await (const uri of readManifest(spec.manifest)) {
    const key = keyUnderSource(uri, src.uri) ?? keyUnderSource(uri, spec.source);
    if (!key) throw new OmniError('manifest_outside_source', `manifest entry ${uri} is not under the source ${spec.source}`);
    const info = await src.head(key).catch((err: unknown): Listed => {
      if (err instanceof OmniError && err.code === 'storage_invalid_key') return { key, size: 0, etag: '', lastModified: new Date(0) };
      // Anything else permanent (denied, a name the folder cannot hold) fails this entry, not the scan.
      const e = describeError(err);
      if (e.retryable) throw err;
      return { key, size: 0, etag: '', lastModified: new Date(0), problem: { code: e.code, message: e.message } };
    });
    // A listed object that is gone is still registered, so the report shows it as failed (storage_not_found).
    yield info ?? { key, size: -1, etag: '', lastModified: new Date(0) };
  }
}

/** The source can be listed (or the manifest read) before a run is created for it, or an estimate made of it. */
export async function assertReadable(src: Storage, location: string, manifest?: string): Promise<void> {
  try {
    if (manifest) await access(manifest);
    else for await (const _ of src.list('')) break;
  } catch (err) {
    const e = describeError(err);
    throw new OmniError('source_unreadable', `cannot read ${manifest ?? location}: ${e.code}: ${e.message}`);
  }
}
