/**
 * The files the golden suites run: basis files of three characters and, for each, new
 * versions that exercise every path of the delta scan (full match, edits that shift or do
 * not shift data, no match at all and runs longer than one literal command, the short last
 * block, repeated blocks, tiny and empty files). Sizes stay at tens of KB so thousands of
 * combinations run in seconds; the random basis is over 144 KiB so that `-b 0` picks a
 * block length other than 256 (384), and the no-match file is over one 32 KiB literal run.
 */
import {
  changedTail,
  deletions,
  insertions,
  logText,
  randomData,
  repeatedBlocks,
  repetitiveData,
  scatteredOverwrites,
} from './data.js';

/** A named file content. */
export interface Named {
  name: string;
  data: Uint8Array;
}

/** A basis and the new versions of it to delta against. */
export interface Family {
  basis: Named;
  versions: Named[];
}

function versionsOf(basis: Uint8Array, seed: number): Named[] {
  return [
    { name: 'identical', data: basis },
    { name: 'scattered-edits', data: scatteredOverwrites(basis, seed + 1, 12) },
    { name: 'inserts', data: insertions(basis, seed + 2, 6) },
    { name: 'deletes', data: deletions(basis, seed + 3, 6) },
    { name: 'no-match', data: randomData(seed + 4, 40_000) },
    { name: 'changed-tail', data: changedTail(basis, seed + 5, 3000, 500) },
    { name: 'repeated-blocks', data: repeatedBlocks(basis, 1000, 1000, 30) },
    { name: 'suffix', data: basis.subarray(basis.length - 5000) },
    { name: 'prefix-100', data: basis.subarray(0, 100) },
    { name: 'one-byte', data: basis.subarray(7, 8) },
    { name: 'empty', data: new Uint8Array(0) },
  ];
}

/** Every basis with its versions, including an empty basis. */
export function goldenCorpus(): Family[] {
  const random = randomData(101, 150_000);
  const log = logText(102, 50_003);
  const repetitive = repetitiveData(103, 40_001);
  return [
    { basis: { name: 'random', data: random }, versions: versionsOf(random, 1000) },
    { basis: { name: 'log', data: log }, versions: versionsOf(log, 2000) },
    { basis: { name: 'repetitive', data: repetitive }, versions: versionsOf(repetitive, 3000) },
    {
      basis: { name: 'empty', data: new Uint8Array(0) },
      versions: [
        { name: 'random-1000', data: randomData(4001, 1000) },
        { name: 'log-3000', data: logText(4002, 3000) },
        { name: 'one-byte', data: Uint8Array.of(42) },
        { name: 'empty', data: new Uint8Array(0) },
      ],
    },
  ];
}

/** A signature kind with its rdiff flags. */
export interface SigKind {
  name: string;
  weak: 'rabinkarp' | 'rollsum';
  strong: 'blake2' | 'md4';
  args: string[];
}

export const SIG_KINDS: SigKind[] = [
  { name: 'rabinkarp+blake2', weak: 'rabinkarp', strong: 'blake2', args: [] },
  { name: 'rollsum+blake2', weak: 'rollsum', strong: 'blake2', args: ['-R', 'rollsum'] },
  { name: 'rabinkarp+md4', weak: 'rabinkarp', strong: 'md4', args: ['-H', 'md4'] },
  { name: 'rollsum+md4', weak: 'rollsum', strong: 'md4', args: ['-R', 'rollsum', '-H', 'md4'] },
];
