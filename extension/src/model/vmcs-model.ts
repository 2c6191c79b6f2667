// The VMCS view's tree from a vmscope/vmcs answer: SDM groups → fields (hex, changed since the last stop) → named bits.
import type { VmcsBitView, VmcsFieldView, VmcsView } from '../../../emulator/debug/views.js';
import { md, note, type ViewNode } from './node.js';

/** Read-only data fields (SDM vol. 3C §25.9) cannot be written with VMWRITE: no edit action. */
export function isEditable(f: VmcsFieldView): boolean {
  return f.type !== 'exit-info';
}

function bitRange(b: VmcsBitView): string {
  return b.width === 1 ? `${b.bit}` : b.width >= 64 ? '' : `${b.bit + b.width - 1}:${b.bit}`;
}

function bitNode(parent: string, b: VmcsBitView, i: number): ViewNode {
  const range = bitRange(b);
  return {
    id: `${parent}/${i}`,
    label: range === '' ? b.name : `[${range}] ${b.name}`,
    description: b.value ?? (b.set ? 'on' : 'off'),
    tooltip: `${md(b.title)}${range !== '' ? `  \nbit${b.width === 1 ? '' : 's'} ${range}` : ''}`,
    icon: b.width === 1 ? (b.set ? 'pass-filled' : 'circle-large-outline') : 'symbol-field',
    ...(b.width === 1 && b.set ? { iconColor: 'charts.green' } : {}),
    contextValue: 'value',
    value: b.value ?? (b.set ? '1' : '0'),
  };
}

export function fieldNode(prefix: string, f: VmcsFieldView): ViewNode {
  const id = `${prefix}/${f.name}`;
  const changed = f.changed ? ` (changed, was ${f.previous ?? '?'})` : '';
  const node: ViewNode = {
    id,
    label: f.name,
    description: `${f.value}${f.changed ? `  ← ${f.previous ?? '?'}  changed` : ''}`,
    tooltip: `**${md(f.title)}**  \n${md(f.name)} = ${f.value}${md(changed)}  \nencoding 0x${f.encoding.toString(16).padStart(8, '0')}, ${f.width === 'natural' ? 'natural' : f.width + '-bit'} ${f.type} field`,
    icon: f.changed ? 'diff-modified' : 'symbol-field',
    ...(f.changed ? { iconColor: 'charts.yellow' } : {}),
    contextValue: isEditable(f) ? 'value editable' : 'value',
    value: f.value,
    field: f.name,
  };
  if (f.bits !== undefined && f.bits.length > 0) node.children = f.bits.map((b, i) => bitNode(id, b, i));
  return node;
}

/** The whole tree: a "Changed at this stop" group first (when any), then the SDM's groups in order. */
export function buildVmcsTree(view: VmcsView): ViewNode[] {
  const out: ViewNode[] = [];
  if (view.guestRunning) out.push(note('vmcs/running', 'Guest in VMX non-root operation: guest-state fields hold the last VM exit\'s values', 'info'));
  const changed = view.groups.flatMap((g) => g.fields.filter((f) => f.changed));
  if (changed.length > 0) {
    out.push({
      id: 'vmcs/changed', label: 'Changed at this stop', description: `${changed.length} field${changed.length === 1 ? '' : 's'}`,
      icon: 'diff', iconColor: 'charts.yellow', expanded: true, children: changed.map((f) => fieldNode('vmcs/changed', f)),
    });
  }
  for (const g of view.groups) {
    const n = g.fields.filter((f) => f.changed).length;
    out.push({
      id: `vmcs/g/${g.name}`, label: g.name,
      description: `${g.fields.length} fields${n > 0 ? `, ${n} changed` : ''}`,
      icon: 'symbol-namespace',
      children: g.fields.map((f) => fieldNode(`vmcs/g/${g.name}`, f)),
    });
  }
  return out;
}
