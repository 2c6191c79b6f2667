// The extension manifest against the sources it describes: launch fields and enums from emulator/config.ts and debug-adapter/protocol.ts, VMCS field names, views, commands and menus.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { CPU_MODES, DEBUGGER_FIELDS, DEVICE_NAMES, FORMATS, LAUNCH_FIELDS, parseLaunchConfig, validateField } from '../../emulator/config.js';
import { VMCS_FIELDS } from '../../emulator/vmx/fields.js';
import { ADAPTER_MODES } from '../../extension/src/adapter-mode.js';
import { VIEW_KINDS } from '../../extension/src/session-data.js';

const ROOT = resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'extension', 'package.json'), 'utf8'));
const debuggerContribution = manifest.contributes.debuggers[0];
const props: Record<string, any> = debuggerContribution.configurationAttributes.launch.properties;

/** VmscopeLaunchArguments read from protocol.ts with the TypeScript compiler: property → string-literal union members (or null). */
function launchArguments(): Map<string, string[] | null> {
  const file = join(ROOT, 'debug-adapter', 'protocol.ts');
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const aliases = new Map<string, ts.TypeNode>();
  let iface: ts.InterfaceDeclaration | undefined;
  src.forEachChild((n) => {
    if (ts.isTypeAliasDeclaration(n)) aliases.set(n.name.text, n.type);
    if (ts.isInterfaceDeclaration(n) && n.name.text === 'VmscopeLaunchArguments') iface = n;
  });
  if (iface === undefined) throw new Error('VmscopeLaunchArguments not found in protocol.ts');
  const literals = (t: ts.TypeNode): string[] | null => {
    if (ts.isTypeReferenceNode(t) && ts.isIdentifier(t.typeName) && aliases.has(t.typeName.text)) return literals(aliases.get(t.typeName.text)!);
    if (ts.isUnionTypeNode(t)) {
      const parts = t.types.map((x) => (ts.isLiteralTypeNode(x) && ts.isStringLiteral(x.literal) ? x.literal.text : null));
      return parts.every((p) => p !== null) ? (parts as string[]) : null;
    }
    return null;
  };
  const out = new Map<string, string[] | null>();
  for (const m of iface.members) if (ts.isPropertySignature(m) && m.type !== undefined) out.set(m.name.getText(src), literals(m.type));
  return out;
}

describe('launch configuration schema', () => {
  const args = launchArguments();

  it('describes every field of LAUNCH_FIELDS and VmscopeLaunchArguments, and nothing else the adapter would refuse', () => {
    const expected = new Set<string>([...LAUNCH_FIELDS, ...args.keys()]);
    expect(new Set(Object.keys(props))).toEqual(expected);
    for (const [k, p] of Object.entries(props)) expect(typeof p.description, k).toBe('string');
    // Fields the schema adds beyond config.ts must be ones parseLaunchConfig accepts as the debugger's own, or the adapter strips.
    for (const k of Object.keys(props)) if (!(LAUNCH_FIELDS as readonly string[]).includes(k)) expect((DEBUGGER_FIELDS as readonly string[]).includes(k) || ['disassemblySyntax', 'exitStage'].includes(k), k).toBe(true);
    expect(debuggerContribution.configurationAttributes.launch.required).toEqual(['program']);
  });

  it('has the enums of config.ts and protocol.ts', () => {
    expect(props.format.enum).toEqual([...FORMATS]);
    expect(props.cpuMode.enum).toEqual([...CPU_MODES]);
    expect(props.format.enum).toEqual(args.get('format'));
    expect(props.cpuMode.enum).toEqual(args.get('cpuMode'));
    expect(props.disassemblySyntax.enum).toEqual(args.get('disassemblySyntax'));
    expect(props.exitStage.enum).toEqual(args.get('exitStage'));
    for (const k of ['format', 'cpuMode', 'exitStage']) expect(props[k].enumDescriptions, k).toHaveLength(props[k].enum.length);
    const names = props.devices.items.anyOf.find((x: any) => x.type === 'string').enum;
    expect(names).toEqual([...DEVICE_NAMES]);
    const blk = props.devices.items.anyOf.find((x: any) => x.properties?.type?.enum?.[0] === 'virtio-blk');
    expect(Object.keys(blk.properties)).toEqual(['type', 'image', 'readOnly', 'writeThrough']);
  });

  it('lists every VMCS field by its SDM/Linux name, and nothing else, under "vmcs"', () => {
    expect(Object.keys(props.vmcs.properties)).toEqual(VMCS_FIELDS.map((f) => f.name));
    expect(props.vmcs.additionalProperties).toBe(false);
    for (const f of VMCS_FIELDS) expect(props.vmcs.properties[f.name].description).toContain(f.title);
  });

  it('has defaults that config.ts accepts', () => {
    for (const k of LAUNCH_FIELDS) {
      if (props[k].default === undefined || k === 'program') continue;
      expect(() => validateField(k, props[k].default), k).not.toThrow();
    }
    expect(args.get('exitStage')).toContain(props.exitStage.default);
    expect(args.get('disassemblySyntax')).toContain(props.disassemblySyntax.default);
  });

  it('offers snippets and an initial configuration that parseLaunchConfig accepts once filled in', () => {
    const fill = (v: unknown): unknown => {
      if (typeof v === 'string') return v.replace(/^\^"(.*)"$/, '$1').replace(/\\\$/g, '$').replace(/\$\{\d+:([^}]*)\}/g, '$1').replace(/\$\{workspaceFolder\}/g, '/ws').replace(/\$\{fileBasenameNoExtension\}/g, 'guest');
      if (Array.isArray(v)) return v.map(fill);
      if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]));
      return v;
    };
    const bodies = [...debuggerContribution.configurationSnippets.map((s: any) => s.body), ...debuggerContribution.initialConfigurations];
    expect(debuggerContribution.configurationSnippets.length).toBeGreaterThanOrEqual(6);
    const modes = new Set<string>();
    for (const b of bodies) {
      const c = fill(b) as Record<string, unknown>;
      expect(c.type).toBe('vmscope');
      expect(c.request).toBe('launch');
      const { disassemblySyntax: _d, exitStage: _e, ...rest } = c;
      expect(() => parseLaunchConfig(rest), JSON.stringify(c)).not.toThrow();
      if (c.format === 'flat') modes.add(String(c.cpuMode));
    }
    expect([...modes].sort()).toEqual(['long', 'protected', 'real']);
    const kinds = bodies.map((b: any) => fill(b) as Record<string, unknown>);
    expect(kinds.some((c) => c.format === 'multiboot')).toBe(true);
    expect(kinds.some((c) => Array.isArray(c.devices) && c.devices.includes('virtio-console') && c.devices.some((d: any) => d?.type === 'virtio-blk'))).toBe(true);
  });
});

describe('contributions', () => {
  it('declares the vmscope debugger with breakpoints in asm, nasm, x86 and C files', () => {
    expect(debuggerContribution.type).toBe('vmscope');
    const langs = manifest.contributes.breakpoints.map((b: any) => b.language);
    for (const l of ['asm', 'nasm', 'c', 'x86']) expect(langs).toContain(l);
  });

  it('has the four views in the debug container, shown for vmscope sessions, with welcome text', () => {
    const views = manifest.contributes.views.debug;
    expect(views.map((v: any) => v.id)).toEqual(VIEW_KINDS.map((k) => `vmscope.${k}`));
    expect(views.map((v: any) => v.name)).toEqual(['VMCS', 'EPT', 'Virtio', 'VM exits']);
    for (const v of views) expect(v.when).toContain("debugType == 'vmscope'");
    expect(manifest.contributes.viewsWelcome.map((w: any) => w.view).sort()).toEqual(views.map((v: any) => v.id).sort());
  });

  it('menus and welcome links name declared commands; the settings have the adapter modes', () => {
    const ids = new Set(manifest.contributes.commands.map((c: any) => c.command));
    for (const c of ['vmscope.stepToExit', 'vmscope.translateAddress', 'vmscope.showPageWalk', 'vmscope.showExitTimeline', 'vmscope.showVirtioRing', 'vmscope.openSample', 'vmscope.copyValue', 'vmscope.editVmcsField', 'vmscope.refreshViews']) expect(ids.has(c), c).toBe(true);
    for (const items of Object.values(manifest.contributes.menus) as any[][]) for (const m of items) expect(ids.has(m.command), m.command).toBe(true);
    for (const w of manifest.contributes.viewsWelcome) for (const m of w.contents.matchAll(/command:([\w.]+)/g)) expect(ids.has(m[1])).toBe(true);
    expect(manifest.contributes.menus['debug/toolBar'][0].command).toBe('vmscope.stepToExit');
    expect(manifest.contributes.configuration.properties['vmscope.adapter.mode'].enum).toEqual([...ADAPTER_MODES]);
    expect(manifest.contributes.configuration.properties['vmscope.adapter.mode'].default).toBe('inline');
  });

  it('is a bundled package: entries in dist/, no dependencies, the engine code-server runs', () => {
    expect(manifest.main).toBe('./dist/extension.js');
    expect(manifest.browser).toBe('./dist/web.js');
    expect(manifest.engines.vscode).toBe('^1.100.0');
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.publisher).toBe('vmscope');
  });
});
