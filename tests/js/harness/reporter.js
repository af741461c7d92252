// reporter.js — a node --test reporter for tests/t/NodeTest.pm: one line per test,
// "RESULT<TAB>pass|fail|skip<TAB>ms<TAB>name<TAB>reason", a failure's error below it as
// "| " lines, and "DIAG<TAB>text" for a test's t.diagnostic().  The Perl side turns each
// result into a TAP assertion and each diagnostic into a note.

import { inspect } from 'node:util';

const SUMMARY = /^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) [\d.]+$/;

const clean = (text) => String(text ?? '').replace(/[\t\n]+/g, ' ');

export default async function* reporter(source) {
	for await (const { type, data } of source) {
		// t.diagnostic(): measurements worth keeping in the TAP log (not the run's totals).
		if (type === 'test:diagnostic') {
			if (!SUMMARY.test(data.message))
				yield `DIAG\t${clean(data.message)}\n`;
			continue;
		}
		if (type !== 'test:pass' && type !== 'test:fail')
			continue;
		// Older runners wrap each file in a test named by its path: not a test of ours.
		if (data.nesting === 0 && data.file && data.name === data.file)
			continue;
		const status = type === 'test:fail' ? 'fail' : data.skip !== undefined && data.skip !== false ? 'skip' : 'pass';
		const reason = status === 'skip' && typeof data.skip === 'string' ? data.skip : '';
		yield `RESULT\t${status}\t${Math.round(data.details?.duration_ms ?? 0)}\t${clean(data.name)}\t${clean(reason)}\n`;
		if (status === 'fail') {
			const err = data.details?.error;
			const shown = inspect(err?.cause ?? err, { depth: 4 });
			yield `${shown.split('\n').map((l) => `| ${l}`).join('\n')}\n`;
		}
	}
}
