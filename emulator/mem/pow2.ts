// Powers of two as a table: page-walk code scales by 2^shift for a variable shift, and `2 ** shift` is a call to pow per use.
/** POW2[k] = 2^k for k = 0 … 63 (exact as numbers). */
export const POW2: readonly number[] = Array.from({ length: 64 }, (_, k) => 2 ** k);
