// The bundled samples' index (samples/index.json, written by scripts/build-extension.mjs): parsed defensively for the "Open Sample…" pick (pure).

export interface SampleEntry {
  /** Folder name under samples/. */
  name: string;
  /** First heading of its README (or the folder name). */
  title: string;
  /** The README's first paragraph, one line. */
  description: string;
}

/** The index file's text → entries; anything malformed is skipped, never thrown. */
export function parseSampleIndex(text: string): SampleEntry[] {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch { return []; }
  if (!Array.isArray(raw)) return [];
  const out: SampleEntry[] = [];
  for (const e of raw.slice(0, 1000)) {
    if (typeof e !== 'object' || e === null) continue;
    const o = e as Record<string, unknown>;
    // A folder name only: no separators or "..", so copying it cannot leave the samples folder.
    if (typeof o.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(o.name) || o.name === '.' || o.name === '..') continue;
    out.push({ name: o.name, title: typeof o.title === 'string' ? o.title : o.name, description: typeof o.description === 'string' ? o.description : '' });
  }
  return out;
}

/** A README's title and first paragraph (for the index). */
export function describeReadme(name: string, readme: string | undefined): SampleEntry {
  if (readme === undefined) return { name, title: name, description: '' };
  const lines = readme.split(/\r?\n/);
  const head = lines.find((l) => l.startsWith('# '));
  const title = head !== undefined ? head.slice(2).trim() : name;
  const start = head !== undefined ? lines.indexOf(head) + 1 : 0;
  const para: string[] = [];
  for (const l of lines.slice(start)) {
    if (l.trim() === '') { if (para.length > 0) break; continue; }
    if (l.startsWith('#') || l.startsWith('|') || l.startsWith('```')) { if (para.length > 0) break; continue; }
    para.push(l.trim());
  }
  const d = para.join(' ');
  return { name, title, description: d.length > 200 ? `${d.slice(0, 199)}…` : d };
}
