/**
 * Comparing and reading binary outputs in assertions. A failed comparison of two deltas of
 * 100 KB must say where they part, not print two hex dumps.
 */

/** `'same'`, or a short description of where `actual` first differs from `expected`. */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): string {
  const n = Math.min(actual.length, expected.length);
  let i = 0;
  while (i < n && actual[i] === expected[i]) i++;
  if (i === n && actual.length === expected.length) return 'same';
  const around = (b: Uint8Array) => Buffer.from(b.subarray(Math.max(0, i - 8), i + 16)).toString('hex');
  return `differ at byte ${i} (lengths ${actual.length} vs ${expected.length}); from byte ${Math.max(0, i - 8)}: got ${around(actual)}, want ${around(expected)}`;
}

/** One delta command, decoded independently of the engine under test. */
export type DeltaCommand = { op: number; literal: number } | { op: number; offset: number; length: number };

const WIDTH = [1, 2, 4, 8];

function uint(b: Uint8Array, at: number, width: number): number {
  let v = 0;
  for (let k = 0; k < width; k++) v = v * 256 + b[at + k]!;
  return v;
}

/** The commands of a well-formed delta, up to END (an oracle for structural checks). */
export function deltaCommands(delta: Uint8Array): DeltaCommand[] {
  if (uint(delta, 0, 4) !== 0x72730236) throw new Error('not a delta');
  const out: DeltaCommand[] = [];
  let at = 4;
  for (;;) {
    if (at >= delta.length) throw new Error('delta has no END');
    const op = delta[at++]!;
    if (op === 0) return out;
    if (op <= 0x40) {
      out.push({ op, literal: op });
      at += op;
    } else if (op <= 0x44) {
      const w = WIDTH[op - 0x41]!;
      const literal = uint(delta, at, w);
      out.push({ op, literal });
      at += w + literal;
    } else if (op <= 0x54) {
      const ow = WIDTH[(op - 0x45) >> 2]!;
      const lw = WIDTH[(op - 0x45) & 3]!;
      out.push({ op, offset: uint(delta, at, ow), length: uint(delta, at + ow, lw) });
      at += ow + lw;
    } else {
      throw new Error(`reserved opcode ${op}`);
    }
  }
}
