/** Number and column formatting shared by the bench tables. */

/** `n` with `digits` decimals, or `n/a` when it is not finite. */
export const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
/** Left-aligned column of width `w`. */
export const pad = (s: string, w: number): string => s.padEnd(w);
/** Right-aligned column of width `w`. */
export const lpad = (s: string, w: number): string => s.padStart(w);
