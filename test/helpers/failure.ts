import { expect } from 'vitest';
import { OmniError } from '../../src/util/errors.ts';

/** The OmniError `p` rejects with; the test fails if it resolves or rejects with anything else. */
export async function failure(p: Promise<unknown>): Promise<OmniError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OmniError);
  return err as OmniError;
}
