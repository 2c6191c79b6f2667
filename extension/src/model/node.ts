// The views' tree nodes as plain data (no vscode import): what each row shows, how it expands, what its menus offer.

/** A row of a vmscope tree view. The vscode glue (views.ts) turns it into a TreeItem. */
export interface ViewNode {
  /** Unique within its view; stable across stops so expansion state survives a refresh. */
  id: string;
  label: string;
  description?: string;
  /** Markdown shown on hover. */
  tooltip?: string;
  /** Codicon id ("symbol-field", "circle-filled", ...). */
  icon?: string;
  /** Theme colour id of the icon ("charts.yellow"). */
  iconColor?: string;
  /** Space-separated words the menus match: "value", "editable", "exit", "queue", "more". */
  contextValue?: string;
  /** What vmscope.copyValue copies. */
  value?: string;
  /** VMCS field name (edit) */
  field?: string;
  /** Exit: the guest RIP to reveal when selected. */
  rip?: string;
  /** Exit: its number in the exit log (`n`, the index vmscope/gotoExit takes). */
  exit?: number;
  /** Virtio queue (for the ring picture). */
  queue?: { device: number; queue: number };
  /** Eager children. */
  children?: ViewNode[];
  /** Children fetched when the row is expanded (EPT tables, older exits, buffer previews). */
  load?: () => Promise<ViewNode[]>;
  /** Start expanded. */
  expanded?: boolean;
}

/** A request to the debug adapter (DebugSession.customRequest works for standard requests as well). */
export interface Requester {
  customRequest(command: string, args?: unknown): PromiseLike<any>;
}

/** A message row (errors, "running", empty tables). */
export function note(id: string, label: string, icon = 'info', tooltip?: string): ViewNode {
  return { id, label, icon, ...(tooltip !== undefined ? { tooltip } : {}) };
}

/** A request's error as one line: the adapter's message without a host stack. */
export function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);
  const line = (m ?? 'unknown error').split('\n')[0];
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Escape text for a Markdown tooltip (guest-controlled strings must not become links or HTML). */
export function md(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => `\\${c}`);
}

/** Bytes as "hex | ascii" rows of 16 (the buffer preview). */
export function hexAscii(bytes: Uint8Array, base: number, maxRows = 4): string[] {
  const rows: string[] = [];
  for (let off = 0; off < bytes.length && rows.length < maxRows; off += 16) {
    const chunk = bytes.subarray(off, off + 16);
    const hex = [...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(47, ' ');
    const ascii = [...chunk].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${(base + off).toString(16).padStart(8, '0')}  ${hex}  ${ascii}`);
  }
  return rows;
}

/** Decode base64 (the DAP readMemory body) without Node's Buffer or the DOM's atob, so the module runs anywhere. */
export function fromBase64(s: string): Uint8Array {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0, acc = 0, bits = 0;
  for (const c of clean) {
    acc = (acc << 6) | A.indexOf(c);
    bits += 6;
    if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 0xff; }
  }
  return out.subarray(0, o);
}
