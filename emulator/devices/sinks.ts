// The two outward channels of platform devices: console bytes and "end the run with this exit code".

/** Receives every byte a guest writes to a console device; `source` is the device's name (e.g. "debugcon", "uart"). */
export type ConsoleSink = (byte: number, source: string) => void;

/** The machine's side of isa-debug-exit: the run stops after the current instruction with `code`. */
export interface RunControl {
  requestExit(code: number): void;
}
