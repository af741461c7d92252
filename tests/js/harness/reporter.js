// reporter.js — a node --test reporter for tests/t/NodeTest.pm: one line per test,
// "RESULT<TAB>pass|fail|skip<TAB>ms<TAB>name<TAB>reason", a failure's error below it as
// "| " lines.  Nothing else: the Perl side turns each line into a TAP assertion.

import { inspect } from 'node:util';

const clean = (text) => String(text ?? '').replace(/[\t\n]+/g, ' ');

export default async function* reporter(source) {
	for await (const { type, data } of source) {
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
