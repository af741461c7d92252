// db.js — the database side of the JS tests: a database per test file, SQL through psql.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { env } from './env.js';

const run = promisify(execFile);

// psql(db, sql): the output rows (-At: unaligned, tuples only) of a script, as text.
export async function psql(db, sql) {
	try {
		const { stdout } = await run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
			'-d', `${env.pg} dbname=${db}`, '-c', sql], { timeout: 60000 });
		return stdout.trim();
	} catch (err) {
		throw new Error(`psql in ${db} failed: ${err.stderr || err.message}\n${sql}`);
	}
}

// psqlScript(db, sql): a script of several statements, each its own transaction.
export async function psqlScript(db, sql) {
	const child = execFile('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', `${env.pg} dbname=${db}`],
		{ timeout: 120000 });
	let stderr = '';
	child.stderr.on('data', (d) => { stderr += d; });
	child.stdin.end(sql);
	const code = await new Promise((resolve) => child.on('close', resolve));
	if (code !== 0)
		throw new Error(`psql script in ${db} exited ${code}: ${stderr}`);
}

// createDatabase(name): a fresh database with pg_toggles, so that test files do not see
// each other's toggles.
export async function createDatabase(name) {
	await psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
	await psql('postgres', `CREATE DATABASE ${name}`);
	await psql(name, 'CREATE EXTENSION pg_toggles');
}

// tableState(db): {name: is_active} of toggles.features.
export async function tableState(db) {
	const text = await psql(db, `SELECT coalesce(json_object_agg(name, is_active), '{}') FROM toggles.features`);
	return JSON.parse(text);
}

// version(db): the version toggles.snapshot() reports.
export async function version(db) {
	return Number(await psql(db, `SELECT toggles.snapshot() ->> 'version'`));
}
