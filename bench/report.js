// report.js — turns bench/results/raw.csv (label,scenario,clients,metric,value) into
// latest.md (the table, the targets, ratios to the floor) and the .dat files plot.gp reads.
//
//   node bench/report.js RAW.csv OUTDIR MODE
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');

const [rawPath, outDir, mode] = process.argv.slice(2);
const rows = fs.readFileSync(rawPath, 'utf8').trim().split('\n').filter(Boolean)
  .map((l) => { const [label, scenario, clients, metric, value] = l.split(','); return { label, scenario, clients: +clients, metric, value: +value }; });

const get = (label, scenario, clients, metric) => {
  const r = rows.find((x) => x.label === label && x.scenario === scenario && x.clients === clients && x.metric === metric);
  return r ? r.value : undefined;
};
// Sections 1-7 and the targets: the servers of the main part (section 8 has its own labels).
const mainLabels = ['floor', 'pushd', 'pushd-untracked', 'node'];
const clientsOf = (scenario, metric, labels = mainLabels) => [...new Set(rows.filter((r) => labels.includes(r.label) && r.scenario === scenario && r.metric === metric).map((r) => r.clients))].sort((a, b) => a - b);
const servers = ['floor', 'pushd', 'node'];
const fmt = (v, d = 2) => (v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(d));
const ratio = (v, f) => (v === undefined || f === undefined || f === 0 ? '–' : (v / f).toFixed(2) + '×');
const cell = (label, v, f, d) => (label === 'floor' ? fmt(v, d) : `${fmt(v, d)} (${ratio(v, f)})`);

const out = [];
const p = (s = '') => out.push(s);
p('# Benchmark results');
p();
p(`Mode: **${mode}** · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${os.cpus().length} cores (${os.cpus()[0].model.trim()}) · load generator, servers and PostgreSQL on the same machine, loopback only.`);
p('Figures in parentheses are ratios to the floor server (`bench/peers/floor/`). Times in ms unless marked.');
p('Raw figures: [raw.csv](raw.csv); plot: [latency-fanout.png](latency-fanout.png).');
// bench/run.sh --only runs one part and keeps the other's rows from the last run: say when each ran.
const partRan = (part) => {
  const t = get('run', part, 0, 'epoch_s');
  if (t === undefined) return undefined;
  const quick = get('run', part, 0, 'quick') === 1 ? 'quick' : 'full';
  return `${quick} run of ${new Date(t * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};
const hasMain = rows.some((r) => ['floor', 'pushd', 'node'].includes(r.label));
if (partRan('workers') && !partRan('main') && hasMain)
  p(`Sections 1–7: an earlier run (see history/); section 8 (workers): ${partRan('workers')}.`);
else if (partRan('main') || partRan('workers'))
  p(`Sections 1–7: ${partRan('main') || 'not run'}; section 8 (workers): ${partRan('workers') || 'not run'}.`);
p();

// 1. Latency
p('## 1. Delivery latency (COMMIT returned → client received), 50 flips/s');
p();
p('| clients | server | p50 | p99 | max | samples | missing | RSS KiB |');
p('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const n of clientsOf('latency', 'latency_p50_ms')) {
  for (const s of servers) {
    const f = (m) => get('floor', 'latency', n, m);
    const g = (m) => get(s, 'latency', n, m);
    p(`| ${n} | ${s} | ${cell(s, g('latency_p50_ms'), f('latency_p50_ms'), 3)} | ${cell(s, g('latency_p99_ms'), f('latency_p99_ms'), 3)} | ${fmt(g('latency_max_ms'), 3)} | ${fmt(g('latency_samples'), 0)} | ${fmt(g('missing'), 0)} | ${fmt(g('rss_kib'), 0)} |`);
  }
}
p();

// 2. Fan-out and CPU
p('## 2. Fan-out: COMMIT returned → the last client has the change (20 flips per step)');
p();
p('| clients | server | p50 | p99 | max | server CPU µs / delivered message | connect all (s) |');
p('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
const fanN = clientsOf('fanout', 'fanout_p50_ms');
for (const n of fanN) {
  for (const s of servers) {
    const f = (m) => get('floor', 'fanout', n, m);
    const g = (m) => get(s, 'fanout', n, m);
    p(`| ${n} | ${s} | ${cell(s, g('fanout_p50_ms'), f('fanout_p50_ms'), 2)} | ${cell(s, g('fanout_p99_ms'), f('fanout_p99_ms'), 2)} | ${fmt(g('fanout_max_ms'))} | ${cell(s, g('cpu_us_per_msg'), f('cpu_us_per_msg'), 2)} | ${fmt(g('connect_s'), 2)} |`);
  }
}
p();

// 3. Memory
p('## 3. Idle memory: server RSS (KiB) and bytes per connection');
p();
p('| clients | ' + servers.map((s) => `${s} RSS | ${s} B/conn`).join(' | ') + ' |');
p('| ---: |' + servers.map(() => ' ---: | ---: |').join(''));
for (const n of clientsOf('memory', 'rss_kib')) {
  p(`| ${n} | ` + servers.map((s) => `${fmt(get(s, 'memory', n, 'rss_kib'), 0)} | ${n ? fmt(get(s, 'memory', n, 'bytes_per_conn'), 0) : ''}`).join(' | ') + ' |');
}
p();

// 4. Storm
p('## 4. Connect storm: clients connect at once (at most 2,000 handshakes in flight from the load generator), 200 toggles in the table');
p();
p('| clients | server | all have their snapshot (s) | DB statements during the storm | retried connects | RSS KiB |');
p('| ---: | --- | ---: | ---: | ---: | ---: |');
for (const n of clientsOf('storm', 'storm_s')) {
  for (const s of servers) {
    const g = (m) => get(s, 'storm', n, m);
    p(`| ${n} | ${s} | ${fmt(g('storm_s'), 3)} | ${fmt(g('db_statements'), 0)} | ${fmt(g('retried_connects'), 0)} | ${fmt(g('rss_kib'), 0)} |`);
  }
}
p();

// 5. Throughput
p('## 5. Change throughput: highest flip rate sustained with p99 < 50 ms, everything delivered');
p();
const tpN = clientsOf('throughput', 'max_sustained_rate');
const rates = [...new Set(rows.filter((r) => /^rate_\d+_p99_ms$/.test(r.metric)).map((r) => +r.metric.split('_')[1]))].sort((a, b) => a - b);
p('| clients | server | max sustained flips/s | ' + rates.map((r) => `p99 @${r}/s`).join(' | ') + ' |');
p('| ---: | --- | ---: |' + rates.map(() => ' ---: |').join(''));
for (const n of tpN) {
  for (const s of servers) {
    p(`| ${n} | ${s} | ${fmt(get(s, 'throughput', n, 'max_sustained_rate'), 0)} | ` + rates.map((r) => {
      const v = get(s, 'throughput', n, `rate_${r}_p99_ms`);
      const a = get(s, 'throughput', n, `rate_${r}_achieved`);
      return v === undefined ? '–' : `${fmt(v)} (${fmt(a, 0)}/s)`;
    }).join(' | ') + ' |');
  }
}
p();

// 6. Connection tracking
p('## 6. Connection tracking: connects per second (200 handshakes in flight)');
p();
p('| server | clients | connects/s | DB statements |');
p('| --- | ---: | ---: | ---: |');
for (const s of ['floor', 'pushd', 'pushd-untracked', 'node']) {
  for (const n of clientsOf('connrate', 'connects_per_s')) {
    const label = s === 'pushd' ? 'pushd (track-connections on)' : s === 'pushd-untracked' ? 'pushd (track-connections off)' : s;
    if (get(s, 'connrate', n, 'connects_per_s') !== undefined)
      p(`| ${label} | ${n} | ${fmt(get(s, 'connrate', n, 'connects_per_s'), 0)} | ${fmt(get(s, 'connrate', n, 'db_statements'), 0)} |`);
  }
}
p();

// 7. Targeting (pushd only: the peers have no rules)
if (rows.some((r) => r.scenario === 'targeting')) {
  const n = clientsOf('targeting', 'rule_change_last_ms_p50')[0];
  const t = (m, d = 1) => fmt(get('pushd', 'targeting', n, m), d);
  p(`## 7. Targeting (pushd): ${n} clients, each with its own context`);
  p();
  p('| what | p50 | p99 | max | notes |');
  p('| --- | ---: | ---: | ---: | --- |');
  p(`| a rule change that flips every client's result: COMMIT → the last client has it | ${t('rule_change_last_ms_p50')} | – | ${t('rule_change_last_ms_max')} | clients with a message too many: ${t('rule_change_clients_with_extra_messages', 0)} |`);
  p(`| a time window opening at a whole second, no write: the instant → each client's change | ${t('window_open_delay_ms_p50')} | ${t('window_open_delay_ms_p99')} | ${t('window_open_delay_ms_max')} | clients reached: ${t('window_open_clients', 0)} |`);
  p();
  p('Measured by `bench/targeting.js` (Node `ws` clients: their own receive work is included).');
  p();
}

// 8. Workers: pushd --workers beside the floor, and the many-client run over several processes.
const isWorkers = (l) => l === 'workers-floor' || /^pushd-w\d+$/.test(l);
const many = rows.find((r) => isWorkers(r.label) && r.scenario === 'fanout' && r.metric === 'procs');
const wLabels = [...new Set(rows.filter((r) => isWorkers(r.label) && r.scenario === 'fanout').map((r) => r.label))]
  .filter((l) => !many || l !== many.label || rows.some((r) => r.label === l && r.scenario === 'fanout' && r.clients !== many.clients));
if (wLabels.length || many) {
  p('## 8. Workers (`pushd --workers N`): several processes behind one port');
  p();
  p('Each server fresh, `fanout` as in section 2; CPU and RSS summed over every process of the server (pushd: the parent and its workers). "workers-floor" is the floor again, in the same part of the run.');
  p();
  const wN = [...new Set(rows.filter((r) => isWorkers(r.label) && r.scenario === 'fanout' && r.metric === 'fanout_p50_ms' && (!many || r.label !== many.label)).map((r) => r.clients))].sort((a, b) => a - b);
  const wServers = ['workers-floor', ...wLabels.filter((l) => l !== 'workers-floor').sort()];
  p('| clients | server | fan-out p50 | p99 | max | server CPU µs / delivered message | loadgen CPU µs / message | missing | connect all (s) | B/conn | descriptors per worker |');
  p('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const n of wN) {
    for (const s of wServers) {
      const f = (m) => get('workers-floor', 'fanout', n, m);
      const g = (m) => get(s, 'fanout', n, m);
      const mem = (m) => get(s, 'memory', n, m);
      if (g('fanout_p50_ms') === undefined) continue;
      const fds = mem('child_fds_max') === undefined ? '' : `${fmt(mem('child_fds_min'), 0)}–${fmt(mem('child_fds_max'), 0)}`;
      const c = (v, fv, d) => (s === 'workers-floor' ? fmt(v, d) : `${fmt(v, d)} (${ratio(v, fv)})`);
      p(`| ${n} | ${s} | ${c(g('fanout_p50_ms'), f('fanout_p50_ms'), 2)} | ${c(g('fanout_p99_ms'), f('fanout_p99_ms'), 2)} | ${fmt(g('fanout_max_ms'))} | ${c(g('cpu_us_per_msg'), f('cpu_us_per_msg'), 2)} | ${fmt(g('loadgen_cpu_us_per_msg'), 2)} | ${fmt(g('missing'), 0)} | ${fmt(g('connect_s'), 2)} | ${fmt(mem('bytes_per_conn'), 0)} | ${fds} |`);
    }
  }
  p();
  if (many) {
    const n = many.clients;
    const g = (sc, m) => get(many.label, sc, n, m);
    const mib = (k) => (k === undefined ? '–' : (k / 1024).toFixed(1));
    const workers = many.label.replace('pushd-w', '');
    p(`### ${n.toLocaleString('en')} clients, ${workers} workers, ${fmt(g('fanout', 'procs'), 0)} load generator processes`);
    p();
    p('| what | figure |');
    p('| --- | ---: |');
    p(`| connect: every client has its snapshot (s; 2,000 handshakes in flight in all) | ${fmt(g('fanout', 'connect_s'), 2)} |`);
    p(`| descriptors per worker, fewest–most (the limit: 20,000) | ${fmt(g('memory', 'child_fds_min'), 0)}–${fmt(g('memory', 'child_fds_max'), 0)} |`);
    p(`| RSS of every pushd process, summed (MiB): idle with 0 clients / 1 s after the connect / after ${fmt(g('idle', 'seconds'), 0)} s idle | ${mib(get(many.label, 'memory', 0, 'rss_kib'))} / ${mib(g('memory', 'rss_kib'))} / ${mib(g('idle', 'rss_kib'))} |`);
    p(`| RSS per connection (B): after the connect / after the idle hold | ${fmt(g('memory', 'bytes_per_conn'), 0)} / ${fmt(g('idle', 'bytes_per_conn'), 0)} |`);
    p(`| clients the server closed during the idle hold | ${fmt(g('idle', 'lost'), 0)} |`);
    p(`| fan-out to the last client, ${fmt(g('fanout', 'fanout_samples'), 0)} flips: p50 / max (ms) | ${fmt(g('fanout', 'fanout_p50_ms'))} / ${fmt(g('fanout', 'fanout_max_ms'))} |`);
    p(`| server CPU per delivered message (µs, every process) | ${fmt(g('fanout', 'cpu_us_per_msg'))} |`);
    p(`| load generator CPU per delivered message (µs, every process) | ${fmt(g('fanout', 'loadgen_cpu_us_per_msg'))} |`);
    p(`| messages missing (flips × clients − received) | ${fmt(g('fanout', 'missing'), 0)} |`);
    p(`| clients the server closed, from the connect to the last flip | ${fmt(g('fanout', 'lost'), 0)} |`);
    p(`| the floor | not run: one process, at most 20,000 descriptors (~19,900 clients) |`);
    p();
  }
}

// Targets
p('## Targets (pushd)');
p();
p('| target | pushd | floor | node | met |');
p('| --- | ---: | ---: | ---: | :---: |');
const yes = (b) => (b === undefined ? '–' : b ? 'yes' : '**no**');
const lat = (s, m) => get(s, 'latency', 1, m);
p(`| 1-client latency p50 ≤ 0.3 ms | ${fmt(lat('pushd', 'latency_p50_ms'), 3)} | ${fmt(lat('floor', 'latency_p50_ms'), 3)} | ${fmt(lat('node', 'latency_p50_ms'), 3)} | ${yes(lat('pushd', 'latency_p50_ms') <= 0.3)} |`);
p(`| 1-client latency p99 ≤ 2 ms | ${fmt(lat('pushd', 'latency_p99_ms'), 3)} | ${fmt(lat('floor', 'latency_p99_ms'), 3)} | ${fmt(lat('node', 'latency_p99_ms'), 3)} | ${yes(lat('pushd', 'latency_p99_ms') <= 2)} |`);
for (const n of fanN) {
  const f = get('floor', 'fanout', n, 'fanout_p50_ms');
  const v = get('pushd', 'fanout', n, 'fanout_p50_ms');
  const nd = get('node', 'fanout', n, 'fanout_p50_ms');
  p(`| fan-out to ${n} (p50) ≤ 1.15× floor | ${fmt(v)} (${ratio(v, f)}) | ${fmt(f)} | ${fmt(nd)} (${ratio(nd, f)}) | ${yes(v !== undefined && f !== undefined ? v <= 1.15 * f : undefined)} |`);
}
for (const n of fanN) {
  const f = get('floor', 'fanout', n, 'cpu_us_per_msg');
  const v = get('pushd', 'fanout', n, 'cpu_us_per_msg');
  const nd = get('node', 'fanout', n, 'cpu_us_per_msg');
  p(`| CPU per delivered message at ${n} ≤ 1.15× floor (µs) | ${fmt(v)} (${ratio(v, f)}) | ${fmt(f)} | ${fmt(nd)} (${ratio(nd, f)}) | ${yes(v !== undefined && f !== undefined ? v <= 1.15 * f : undefined)} |`);
}
const memN = clientsOf('memory', 'bytes_per_conn');
const maxMem = memN[memN.length - 1];
if (maxMem !== undefined) {
  const v = get('pushd', 'memory', maxMem, 'bytes_per_conn');
  p(`| pushd RSS per idle connection ≤ 1536 B (at ${maxMem}) | ${fmt(v, 0)} | ${fmt(get('floor', 'memory', maxMem, 'bytes_per_conn'), 0)} | ${fmt(get('node', 'memory', maxMem, 'bytes_per_conn'), 0)} | ${yes(v <= 1536)} |`);
}
const stormN = clientsOf('storm', 'storm_s');
for (const n of stormN) {
  const v = get('pushd', 'storm', n, 'storm_s');
  const f = get('floor', 'storm', n, 'storm_s');
  const nd = get('node', 'storm', n, 'storm_s');
  p(`| storm of ${n}, 200-toggle snapshot ≤ 1.5× floor (s) | ${fmt(v, 3)} (${ratio(v, f)}) | ${fmt(f, 3)} | ${fmt(nd, 3)} (${ratio(nd, f)}) | ${yes(v > 0 && f > 0 ? v <= 1.5 * f : undefined)} |`);
  const st = get('pushd', 'storm', n, 'db_statements');
  p(`| storm of ${n}: a handful of DB statements | ${fmt(st, 0)} | ${fmt(get('floor', 'storm', n, 'db_statements'), 0)} | ${fmt(get('node', 'storm', n, 'db_statements'), 0)} | ${yes(st <= 20)} |`);
}
if (stormN.length >= 2) {
  // Linear: twice the clients may cost at most 2.2 times the time.
  const [a, b] = [stormN[stormN.length - 2], stormN[stormN.length - 1]];
  const growth = (s) => { const x = get(s, 'storm', a, 'storm_s'); const y = get(s, 'storm', b, 'storm_s'); return x > 0 && y > 0 ? y / x : undefined; };
  const lim = 2.2 * (b / a) / 2;
  p(`| storm(${b}) ≤ ${lim.toFixed(2)}× storm(${a}) (linear) | ${fmt(growth('pushd'))}× | ${fmt(growth('floor'))}× | ${fmt(growth('node'))}× | ${yes(growth('pushd') === undefined ? undefined : growth('pushd') <= lim)} |`);
}
if (many) {
  const g = (m) => get(many.label, 'fanout', many.clients, m);
  p(`| ${many.clients} clients (${many.label}): fan-out to the last client p50 < 1.5 s | ${fmt(g('fanout_p50_ms'))} (max ${fmt(g('fanout_max_ms'))}) | – | – | ${yes(g('fanout_p50_ms') === undefined ? undefined : g('fanout_p50_ms') < 1500)} |`);
  p(`| ${many.clients} clients (${many.label}): every message delivered | ${fmt(g('missing'), 0)} missing | – | – | ${yes(g('missing') === undefined ? undefined : g('missing') === 0 && g('fanout_samples') > 0)} |`);
}
p();
p('"Ahead of the Node peer" holds on a row when pushd\'s figure is lower than node\'s.');
p();
p('How to read this: [bench/README.md](../README.md).');
// The hand-written part: what the profiles showed and what was changed.
const notes = path.join(__dirname, 'profiles.md');
if (fs.existsSync(notes)) { p(); p(fs.readFileSync(notes, 'utf8').trim()); }
fs.writeFileSync(path.join(outDir, 'latest.md'), out.join('\n') + '\n');

// Plot data: one file per panel, one column per server.
const latN = clientsOf('latency', 'latency_p50_ms');
const dat = (name, ns, scen, metrics) => {
  const lines = ['# clients ' + servers.flatMap((s) => metrics.map((m) => `${s}_${m}`)).join(' ')];
  for (const n of ns) lines.push([n, ...servers.flatMap((s) => metrics.map((m) => { const v = get(s, scen, n, m); return v === undefined ? 'NaN' : v; }))].join(' '));
  fs.writeFileSync(path.join(outDir, name), lines.join('\n') + '\n');
};
dat('latency.dat', latN, 'latency', ['latency_p50_ms', 'latency_p99_ms']);
dat('fanout.dat', fanN, 'fanout', ['fanout_p50_ms', 'fanout_p99_ms']);
