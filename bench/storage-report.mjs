/**
 * The storage benchmark's markdown: one table of every tool's steps (time, CPU, peak RSS,
 * requests by method, bytes uploaded and downloaded), the ibt/restic ratios, and the issue's
 * targets with what was measured. A figure from a failed step, or a restore that differs from
 * its tree, is never passed off as a plain result.
 */
import { size } from './report.mjs';

/** The steps every tool runs, in order. */
export const S3_STEPS = ['full', 'incremental', 'restore'];
const METHODS = ['GET', 'PUT', 'POST', 'HEAD', 'DELETE'];

/**
 * @typedef {object} Measured
 * @property {import('./measure.mjs').Step} step
 * @property {import('./s3-proxy.mjs').Traffic} traffic
 */

/**
 * @typedef {object} S3Result
 * @property {string} name
 * @property {string} [skipped] why the tool did not run
 * @property {Record<string, Measured | undefined>} steps
 * @property {{ count: number, examples: string[] } | undefined} [check] differences of the restore
 * @property {number} [motoRssMiB] peak RSS of the tool's moto server
 */

function byMethod(t) {
  const other = Object.entries(t.methods).filter(([m]) => !METHODS.includes(m));
  return [...METHODS.map((m) => t.methods[m] ?? 0), ...other.map(([m, n]) => `${m} ${n}`)].join(' / ');
}

/**
 * The table of every tool's steps, and notes for failures, error answers and differences.
 * @param {S3Result[]} results
 */
export function s3StepsTable(results) {
  const lines = [
    `| tool | step | wall | CPU s | peak RSS MiB | requests | ${METHODS.join(' / ')} | uploaded | downloaded |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const notes = [];
  for (const r of results) {
    if (r.skipped) {
      lines.push(`| ${r.name} | skipped: ${r.skipped} ||||||||`);
      continue;
    }
    for (const k of S3_STEPS) {
      const m = r.steps[k];
      if (!m) continue;
      const { step: s, traffic: t } = m;
      const wall = s.ok ? `${s.secs.toFixed(2)} s` : `failed (${s.error?.startsWith('killed') ? s.error : 'see notes'})`;
      lines.push(
        `| ${r.name} | ${k} | ${wall} | ${s.cpu.toFixed(1)} | ${s.rssMiB.toFixed(0)} | ${t.requests.toLocaleString('en')} | ${byMethod(t)} | ${size(t.uploaded)} | ${size(t.downloaded)} |`,
      );
      if (!s.ok) notes.push(`- ${r.name}, ${k} failed: ${s.error}`);
      if (t.errors || t.failed) notes.push(`- ${r.name}, ${k}: ${t.errors} answers with an error status (besides 404), ${t.failed} requests cut off`);
      if (t.notFound) notes.push(`- ${r.name}, ${k}: ${t.notFound} answers were 404 (keys looked up before they exist)`);
    }
    if (r.check) notes.push(`- ${r.name}: the restore ${r.check.count === 0 ? 'is identical to the tree' : `**differs from the tree in ${r.check.count} entries**, e.g. ${r.check.examples.join('; ')}`}`);
    if (r.motoRssMiB !== undefined) notes.push(`- ${r.name}: its moto server's peak RSS was ${r.motoRssMiB.toFixed(0)} MiB`);
  }
  return [...lines, '', ...notes].join('\n');
}

/** A figure of a tool's step (`full.secs`, `incremental.uploaded` …), when the step succeeded. */
function figure(r, what) {
  if (!r || r.skipped) return undefined;
  const [k, field] = what.split('.');
  const m = r.steps[k];
  if (!m?.step.ok) return undefined;
  if (field === 'secs' || field === 'cpu') return m.step[field];
  return m.traffic[field];
}

const RATIO_ROWS = [
  ['full, wall', 'full.secs'],
  ['incremental, wall', 'incremental.secs'],
  ['restore, wall', 'restore.secs'],
  ['full, uploaded', 'full.uploaded'],
  ['incremental, uploaded', 'incremental.uploaded'],
  ['restore, downloaded', 'restore.downloaded'],
  ['full, requests', 'full.requests'],
  ['incremental, requests', 'incremental.requests'],
  ['restore, requests', 'restore.requests'],
  ['full, CPU', 'full.cpu'],
  ['incremental, CPU', 'incremental.cpu'],
  ['restore, CPU', 'restore.cpu'],
];

/**
 * ibt/restic ratios of every figure (below 1: ibt smaller or faster).
 * @param {S3Result[]} results
 */
export function s3RatiosTable(results) {
  const ibt = results.find((r) => r.name === 'ibt');
  const restic = results.find((r) => r.name === 'restic');
  if (!ibt || ibt.skipped || !restic || restic.skipped) return '(no ratios: ibt or restic did not run)';
  const differs = ibt.check?.count || restic.check?.count ? ' (a restore differs)' : '';
  const lines = ['| figure | ibt | restic | ibt/restic |', '|---|---|---|---|'];
  for (const [label, what] of RATIO_ROWS) {
    const a = figure(ibt, what);
    const b = figure(restic, what);
    const show = (v) => (v === undefined ? '—' : what.endsWith('loaded') ? size(v) : what.endsWith('requests') ? v.toLocaleString('en') : `${v.toFixed(2)} s`);
    const ratio = a === undefined || b === undefined ? '—' : b === 0 ? (a === 0 ? '1.00' : '∞') : `${(a / b).toFixed(2)}${what.startsWith('restore') ? differs : ''}`;
    lines.push(`| ${label} | ${show(a)} | ${show(b)} | ${ratio} |`);
  }
  return lines.join('\n');
}

function verdict(a, b, ok) {
  return a === undefined || b === undefined ? 'not measured' : ok(a, b) ? 'met' : 'missed';
}

/**
 * The issue's targets, against what was measured.
 * @param {S3Result[]} results
 */
export function s3Targets(results) {
  const ibt = results.find((r) => r.name === 'ibt');
  const restic = results.find((r) => r.name === 'restic');
  const lines = ['| target | ibt | restic | |', '|---|---|---|---|'];
  const row = (label, what, show, ok) => {
    const a = figure(ibt, what);
    const b = figure(restic, what);
    lines.push(`| ${label} | ${a === undefined ? '—' : show(a)} | ${b === undefined ? '—' : show(b)} | ${verdict(a, b, ok)} |`);
  };
  const secs = (v) => `${v.toFixed(2)} s`;
  row('full faster than restic', 'full.secs', secs, (a, b) => a < b);
  row('incremental faster than restic', 'incremental.secs', secs, (a, b) => a < b);
  row("incremental uploads smaller than restic's", 'incremental.uploaded', size, (a, b) => a < b);
  row('restore no slower than restic', 'restore.secs', secs, (a, b) => a <= b);
  const reqs = (r) => {
    const t = r?.steps.incremental?.traffic;
    return t ? `${t.requests.toLocaleString('en')} (${byMethod(t)})` : '—';
  };
  lines.push(`| requests per incremental (${METHODS.join(' / ')}) | ${reqs(ibt)} | ${reqs(restic)} | reported |`);
  const check = (r) => (r?.check ? (r.check.count === 0 ? 'identical' : `differs in ${r.check.count} entries`) : '—');
  const checked = [ibt, restic].filter((r) => r?.check);
  const identical = checked.length > 0 && checked.every((r) => r.check.count === 0);
  lines.push(`| every restore identical to its tree | ${check(ibt)} | ${check(restic)} | ${checked.length === 0 ? 'not measured' : identical ? 'met' : 'missed'} |`);
  return lines.join('\n');
}
