// The adapter's one error type and the argument readers that turn malformed requests into it.

/** A request failed: the session turns it into `success: false` with this message (DAP "ErrorResponse"). */
export class AdapterError extends Error {
  /** Work to do once the error response is sent (events that must follow it). */
  after?: () => void;
  constructor(message: string, readonly id = 1000) {
    super(message);
    this.name = 'AdapterError';
  }
}

/** The request's `arguments` as an object (absent → empty; anything else is refused). */
export function argsObject(command: string, raw: unknown): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new AdapterError(`${command}: arguments must be an object`);
  return raw as Record<string, unknown>;
}

function where(cmd: string, key: string): string {
  return `${cmd}: '${key}'`;
}

export function reqString(cmd: string, a: Record<string, unknown>, key: string): string {
  const v = a[key];
  if (typeof v !== 'string') throw new AdapterError(`${where(cmd, key)} is required and must be a string`);
  return v;
}

export function optString(cmd: string, a: Record<string, unknown>, key: string): string | undefined {
  const v = a[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new AdapterError(`${where(cmd, key)} must be a string`);
  return v;
}

export function reqInt(cmd: string, a: Record<string, unknown>, key: string): number {
  const v = a[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new AdapterError(`${where(cmd, key)} is required and must be an integer`);
  return v;
}

export function optInt(cmd: string, a: Record<string, unknown>, key: string): number | undefined {
  const v = a[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new AdapterError(`${where(cmd, key)} must be an integer`);
  return v;
}

export function optBool(cmd: string, a: Record<string, unknown>, key: string): boolean | undefined {
  const v = a[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new AdapterError(`${where(cmd, key)} must be true or false`);
  return v;
}

export function optArray(cmd: string, a: Record<string, unknown>, key: string): unknown[] | undefined {
  const v = a[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new AdapterError(`${where(cmd, key)} must be an array`);
  if (v.length > 100_000) throw new AdapterError(`${where(cmd, key)} has too many entries`);
  return v;
}

export function optObject(cmd: string, a: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = a[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new AdapterError(`${where(cmd, key)} must be an object`);
  return v as Record<string, unknown>;
}

/** Element `i` of an array argument as an object. */
export function elementObject(cmd: string, key: string, i: number, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new AdapterError(`${cmd}: '${key}[${i}]' must be an object`);
  return v as Record<string, unknown>;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
