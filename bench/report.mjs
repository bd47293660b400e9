/**
 * The benchmark's markdown: per tree, one table of every tool's steps (times, bytes, peak RSS,
 * CPU, whether the restore matched), one table of ibt/peer ratios, and the issue's targets
 * with what was measured. Figures only a failed or differing step produced are marked, never
 * passed off as a plain time.
 */

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * @typedef {object} ToolResult
 * @property {string} name
 * @property {string} [skipped] why the tool did not run
 * @property {Record<string, import('./measure.mjs').Step | undefined>} steps full, unchanged, incremental, restore
 * @property {{ full?: number, unchanged?: number, incremental?: number }} stored bytes after the full, added by each incremental
 * @property {{ count: number, examples: string[] } | undefined} check differences of the restore
 * @property {{ full?: import('./measure.mjs').Step, last?: import('./measure.mjs').Step, depth: number, checks: string[] } | undefined} chain
 */

export const STEPS = ['full', 'unchanged', 'incremental', 'restore'];

/** @param {number | undefined} n */
export function size(n) {
  if (n === undefined || Number.isNaN(n)) return '—';
  return n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(2)} MiB`;
}

/** @param {import('./measure.mjs').Step | undefined} s */
function time(s) {
  if (!s) return '—';
  return s.ok ? `${s.secs.toFixed(2)} s` : `failed (${s.error?.startsWith('killed') ? s.error : 'see notes'})`;
}

const per = (r, f) => STEPS.map((k) => (r.steps[k] ? f(r.steps[k]) : '—')).join(' / ');

function checkCell(r) {
  if (!r.check) return '—';
  return r.check.count === 0 ? 'identical' : `**differs: ${r.check.count} entries**`;
}

function chainCell(r) {
  const c = r.chain;
  if (!c?.full || !c.last) return '—';
  if (!c.full.ok || !c.last.ok) return 'failed';
  return `${c.last.secs.toFixed(2)} / ${c.full.secs.toFixed(2)} s = ${(c.last.secs / c.full.secs).toFixed(2)}×`;
}

/**
 * The table of every tool's steps, and notes for failures and differences.
 * @param {ToolResult[]} results
 * @param {number} chainDepth
 */
export function stepsTable(results, chainDepth) {
  const lines = [
    `| tool | full | incremental | bytes added by incremental | unchanged incremental | restore latest | restore check | ${chainDepth ? `restore of the ${chainDepth}th incremental / of the full` : 'chain restore'} | stored after full | peak RSS MiB (full / unch. / incr. / restore) | CPU s (full / unch. / incr. / restore) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes = [];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`| ${r.name} | skipped: ${r.skipped} |||||||||| `);
      continue;
    }
    lines.push(
      `| ${r.name} | ${time(r.steps.full)} | ${time(r.steps.incremental)} | ${size(r.stored.incremental)} | ${time(r.steps.unchanged)} | ` +
        `${time(r.steps.restore)} | ${checkCell(r)} | ${chainCell(r)} | ${size(r.stored.full)} | ` +
        `${per(r, (s) => s.rssMiB.toFixed(0))} | ${per(r, (s) => s.cpu.toFixed(1))} |`,
    );
    for (const [k, s] of Object.entries({ ...r.steps, 'chain restore of the full': r.chain?.full, 'chain restore of the latest': r.chain?.last })) {
      if (s && !s.ok) notes.push(`- ${r.name}, ${k} failed: ${s.error}`);
    }
    if (r.check?.count) notes.push(`- ${r.name}: the restore differs from the tree in ${r.check.count} entries, e.g. ${r.check.examples.join('; ')}`);
    for (const c of r.chain?.checks ?? []) notes.push(`- ${r.name}, chain: ${c}`);
    if (r.stored.unchanged !== undefined) notes.push(`- ${r.name}: the unchanged incremental added ${size(r.stored.unchanged)}`);
  }
  return [...lines, '', ...notes].join('\n');
}

/** A step's figure of a tool, when the tool produced it cleanly. */
function figure(r, what) {
  if (!r || r.skipped) return undefined;
  const [step, field] = what.split('.');
  if (step === 'stored') return r.stored[field];
  if (step === 'rss') {
    const all = STEPS.map((k) => r.steps[k]).filter((s) => s?.ok);
    return all.length === STEPS.length ? Math.max(...all.map((s) => s.rssMiB)) : undefined;
  }
  const s = r.steps[step];
  return s?.ok ? s[field] : undefined;
}

const RATIO_ROWS = [
  ['full, wall', 'full.secs'],
  ['incremental, wall', 'incremental.secs'],
  ['unchanged incremental, wall', 'unchanged.secs'],
  ['restore latest, wall', 'restore.secs'],
  ['full, CPU', 'full.cpu'],
  ['incremental, CPU', 'incremental.cpu'],
  ['restore, CPU', 'restore.cpu'],
  ['peak RSS (largest step)', 'rss.'],
  ['stored after full', 'stored.full'],
  ['bytes added by incremental', 'stored.incremental'],
];

/**
 * ibt/peer ratios of every figure (below 1: ibt smaller or faster).
 * @param {ToolResult[]} results
 */
export function ratiosTable(results) {
  const ibt = results.find((r) => r.name === 'ibt' && !r.skipped);
  const peers = results.filter((r) => !r.skipped && !r.name.startsWith('ibt'));
  if (!ibt || peers.length === 0) return '(no ratios: ibt or every peer is missing)';
  const mark = (r) => (r.check?.count ? ' (restore differs)' : '');
  const lines = [`| figure | ${peers.map((p) => `ibt/${p.name}`).join(' | ')} |`, `|---|${peers.map(() => '---|').join('')}`];
  for (const [label, what] of RATIO_ROWS) {
    const mine = figure(ibt, what);
    const cells = peers.map((p) => {
      const theirs = figure(p, what);
      if (mine === undefined || theirs === undefined) return '—';
      if (theirs === 0) return mine === 0 ? '1.00' : '∞';
      return `${(mine / theirs).toFixed(2)}${what.startsWith('restore') ? mark(p) + mark(ibt) : ''}`;
    });
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function verdict(measured, ok) {
  return measured === undefined ? 'not measured' : ok ? 'met' : 'missed';
}

function ratioRow(results, label, step, peer, limit, strict = false) {
  const ibt = results.find((r) => r.name === 'ibt');
  const p = results.find((r) => r.name === peer);
  const a = figure(ibt, `${step}.secs`);
  const b = figure(p, `${step}.secs`);
  const r = a !== undefined && b !== undefined ? a / b : undefined;
  return `| ${label} | ${r === undefined ? '—' : `${r.toFixed(2)}× (${a.toFixed(2)} / ${b.toFixed(2)} s)`} | ${verdict(r, strict ? r < limit : r <= limit)} |`;
}

/**
 * The issue's targets for the main tree, against what was measured.
 * @param {ToolResult[]} results
 */
export function treeTargets(results) {
  const ibt = results.find((r) => r.name === 'ibt');
  const restic = results.find((r) => r.name === 'restic');
  const lines = ['| target | measured | |', '|---|---|---|'];
  lines.push(ratioRow(results, 'full ≤ 0.8× restic', 'full', 'restic', 0.8));
  lines.push(ratioRow(results, 'incremental ≤ 0.8× restic', 'incremental', 'restic', 0.8));
  lines.push(ratioRow(results, 'restore ≤ 0.8× restic', 'restore', 'restic', 0.8));
  lines.push(ratioRow(results, 'full ≤ 1.0× borg', 'full', 'borg', 1));
  const mine = figure(ibt, 'stored.incremental');
  const theirs = figure(restic, 'stored.incremental');
  const both = mine !== undefined && theirs !== undefined;
  lines.push(`| incremental bytes added < restic's | ${both ? `${size(mine)} vs ${size(theirs)}` : '—'} | ${verdict(both ? 1 : undefined, mine < theirs)} |`);
  const u = figure(ibt, 'unchanged.secs');
  lines.push(`| unchanged incremental < 1 s | ${u === undefined ? '—' : `${u.toFixed(2)} s`} | ${verdict(u, u < 1)} |`);
  const c = ibt?.chain;
  const cr = c?.full?.ok && c.last?.ok ? c.last.secs / c.full.secs : undefined;
  lines.push(`| ${c?.depth ?? 10}-deep chain restore ≤ 1.2× the full's restore | ${cr === undefined ? '—' : `${cr.toFixed(2)}×`} | ${verdict(cr, cr <= 1.2)} |`);
  const differ = results.filter((r) => r.check?.count);
  lines.push(`| every restore identical to its tree | ${differ.length ? `differs: ${differ.map((r) => r.name).join(', ')}` : 'all identical'} | ${differ.length ? 'missed' : 'met'} |`);
  return lines.join('\n');
}

/**
 * The issue's targets for the million-file tree.
 * @param {ToolResult[]} results
 */
export function millionTargets(results) {
  const ibt = results.find((r) => r.name === 'ibt');
  const rss = figure(ibt, 'rss.');
  const lines = ['| target | measured | |', '|---|---|---|'];
  lines.push(`| peak RSS < 1 GiB in every step | ${rss === undefined ? '—' : `${rss.toFixed(0)} MiB`} | ${verdict(rss, rss < 1024)} |`);
  for (const step of ['full', 'incremental', 'unchanged', 'restore']) lines.push(ratioRow(results, `${step} faster than restic`, step, 'restic', 1, true));
  const differ = results.filter((r) => r.check?.count);
  lines.push(`| every restore identical to its tree | ${differ.length ? `differs: ${differ.map((r) => r.name).join(', ')}` : 'all identical'} | ${differ.length ? 'missed' : 'met'} |`);
  return lines.join('\n');
}
