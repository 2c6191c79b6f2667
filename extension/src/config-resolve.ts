// Fills a vmscope launch configuration when there is no launch.json (from the active file), or says clearly why it cannot (pure, no vscode).

/** What the resolver may ask of the host: whether a file exists (the glue uses vscode.workspace.fs or node:fs). */
export interface ResolveHost {
  exists(path: string): boolean | Promise<boolean>;
}

export type ResolveResult =
  | { kind: 'config'; config: Record<string, unknown>; filled: boolean }
  | { kind: 'error'; message: string };

/** Guest images F5 can run as they are. */
export const IMAGE_EXTENSIONS = ['.elf', '.bin', '.img'] as const;
/** Sources whose image (same base name, one of IMAGE_EXTENSIONS, same folder) is looked for. */
export const SOURCE_EXTENSIONS = ['.asm', '.nasm', '.s', '.S', '.c'] as const;

function split(path: string): { dir: string; base: string; ext: string; sep: string } {
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const sep = slash >= 0 ? path[slash] : '/';
  const dir = slash >= 0 ? path.slice(0, slash) : '';
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? { dir, base: name.slice(0, dot), ext: name.slice(dot), sep } : { dir, base: name, ext: '', sep };
}

const HOW = 'Open a guest image (.elf, .bin, .img) or its assembly/C source next to a built image and press F5, or create a launch.json with a "vmscope" configuration (Run > Add Configuration…), or run "vmscope: Open Sample…".';

/**
 * `config` is what VS Code passes to resolveDebugConfiguration: empty ({}) when there is no launch.json.
 * A configuration with fields is completed (type, request, name) and must name a program; an empty one is
 * made from `activeFile`.
 */
export async function resolveLaunch(config: Record<string, unknown>, activeFile: string | undefined, host: ResolveHost): Promise<ResolveResult> {
  const empty = config.type === undefined && config.request === undefined && config.name === undefined && config.program === undefined;
  if (!empty) {
    if (config.request !== undefined && config.request !== 'launch') return { kind: 'error', message: `vmscope launches its guests: "request" must be "launch", not ${JSON.stringify(String(config.request)).slice(0, 40)}` };
    const out: Record<string, unknown> = { type: 'vmscope', request: 'launch', name: 'vmscope', ...config };
    if (typeof out.program !== 'string' || out.program === '') return { kind: 'error', message: `The vmscope configuration ${JSON.stringify(out.name)} has no "program": set it to the guest image's path (e.g. "\${workspaceFolder}/guest.elf").` };
    return { kind: 'config', config: out, filled: false };
  }
  if (activeFile === undefined) return { kind: 'error', message: `No launch.json and no open file to debug. ${HOW}` };
  const f = split(activeFile);
  const ext = f.ext.toLowerCase();
  let program: string | undefined;
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) program = activeFile;
  else if ((SOURCE_EXTENSIONS as readonly string[]).includes(f.ext) || (SOURCE_EXTENSIONS as readonly string[]).includes(ext)) {
    for (const e of IMAGE_EXTENSIONS) {
      const candidate = `${f.dir}${f.dir === '' ? '' : f.sep}${f.base}${e}`;
      if (await host.exists(candidate)) { program = candidate; break; }
    }
    if (program === undefined) {
      return { kind: 'error', message: `${f.base}${f.ext} has no image next to it (looked for ${IMAGE_EXTENSIONS.map((e) => f.base + e).join(', ')}). Build it first (e.g. nasm -f elf64 -g -F dwarf ${f.base}${f.ext} && ld -o ${f.base}.elf ${f.base}.o), or ${HOW.charAt(0).toLowerCase()}${HOW.slice(1)}` };
    }
  } else {
    return { kind: 'error', message: `${f.base}${f.ext} is not a guest image or a guest source. ${HOW}` };
  }
  const name = split(program);
  return {
    kind: 'config', filled: true,
    config: { type: 'vmscope', request: 'launch', name: `vmscope: ${name.base}${name.ext}`, program, cwd: name.dir === '' ? '.' : name.dir, stopOnEntry: true },
  };
}
