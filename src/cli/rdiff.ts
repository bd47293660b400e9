/** `ibt rdiff`: a drop-in for librsync's rdiff command. */

/** Run `ibt rdiff` with its arguments; resolves to rdiff's exit code. */
export async function runRdiff(_args: string[]): Promise<number> {
  return 105;
}
