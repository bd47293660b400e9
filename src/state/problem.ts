/**
 * Why a state is refused, as one line that names the field: what the checks of a state throw
 * while it streams in or out. The reader turns it into `ECORRUPT` naming the file, the writer
 * into `EINTERNAL` (a state no read would accept is a bug of the backup that built it).
 */

/** A state breaks a rule; `message` is `FIELD (CONTEXT): WHY`. */
export class StateProblem extends Error {}
