/**
 * Writes the README's "Troubleshooting by error code" table from the FailureCode table
 * (src/util/failure-codes.ts), between its marker comments. `npm run docs:codes`; test/repo/failure-codes.test.ts
 * fails when the README's table differs from what this writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withFailureCodesTable } from '../src/util/failure-codes.ts';

const readme = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(readme, 'utf8');
const after = withFailureCodesTable(before);
if (after !== before) writeFileSync(readme, after);
console.log(after === before ? 'README.md: failure codes table up to date' : 'README.md: failure codes table written');
