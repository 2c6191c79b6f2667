// The Virtio view's tree from a vmscope/virtio answer: devices → status, features, queues → rings, in-flight chains, buffer previews.
import type { VirtioDeviceOut, VirtioQueueRingsView, VirtioView } from '../../../emulator/debug/views.js';
import type { DescriptorView } from '../../../emulator/devices/virtio/mmio.js';
import { errorText, fromBase64, hexAscii, md, note, type Requester, type ViewNode } from './node.js';

/** Ring slots listed per ring (queues may have 32768). */
export const RING_ROWS = 256;
/** Bytes read for a buffer preview. */
export const PREVIEW_BYTES = 64;

const h = (n: number): string => `0x${n.toString(16)}`;

/** Descriptor flags (virtio 1.2 §2.7.5): NEXT 1, WRITE 2, INDIRECT 4. */
export function descFlags(flags: number): string {
  const out: string[] = [];
  if (flags & 1) out.push('NEXT');
  if (flags & 2) out.push('WRITE');
  if (flags & 4) out.push('INDIRECT');
  return out.length > 0 ? out.join('|') : '-';
}

/** A buffer's first bytes as hex/ASCII rows, read with DAP readMemory at a guest-physical reference ("phys:0x…"). */
async function preview(req: Requester, id: string, d: DescriptorView): Promise<ViewNode[]> {
  if (d.len === 0) return [note(`${id}/empty`, 'empty buffer')];
  try {
    const count = Math.min(d.len, PREVIEW_BYTES);
    const r = (await req.customRequest('readMemory', { memoryReference: `phys:${h(d.addr)}`, count })) as { data?: string; unreadableBytes?: number } | undefined;
    const bytes = fromBase64(r?.data ?? '');
    const rows = hexAscii(bytes, d.addr).map((text, i) => ({ id: `${id}/row${i}`, label: text, contextValue: 'value', value: text }));
    if (bytes.length < count) rows.push({ id: `${id}/unreadable`, label: `${count - bytes.length} bytes unreadable`, contextValue: '', value: '' });
    if (d.len > count) rows.push({ id: `${id}/more`, label: `… ${d.len - count} more bytes`, contextValue: '', value: '' });
    return rows;
  } catch (e) {
    return [note(`${id}/error`, errorText(e), 'error')];
  }
}

function descriptorNode(id: string, d: DescriptorView, req?: Requester): ViewNode {
  const node: ViewNode = {
    id, label: `desc ${d.index}`, description: `${h(d.addr)} len ${d.len} ${descFlags(d.flags)}${d.flags & 1 ? ` → ${d.next}` : ''}`,
    tooltip: `descriptor ${d.index}: addr ${h(d.addr)}, len ${d.len}, flags ${h(d.flags)} (${descFlags(d.flags)}), next ${d.next}${d.indirect ? '  \nin an indirect table' : ''}`,
    icon: d.flags & 2 ? 'arrow-left' : 'arrow-right', contextValue: 'value', value: h(d.addr),
  };
  if (req !== undefined) node.load = () => preview(req, id, d);
  return node;
}

function ringNode<T>(id: string, label: string, description: string, ring: readonly T[], row: (v: T, k: number) => ViewNode): ViewNode {
  const shown = ring.slice(0, RING_ROWS).map(row);
  if (ring.length > RING_ROWS) shown.push(note(`${id}/more`, `… ${ring.length - RING_ROWS} more slots (see Show Virtio Ring)`));
  return { id, label, description, icon: 'list-ordered', children: shown.length > 0 ? shown : [note(`${id}/none`, 'queue not ready: the device does not read its rings')] };
}

export function queueNode(devIndex: number, devId: string, q: VirtioQueueRingsView, req?: Requester): ViewNode {
  const id = `${devId}/q${q.index}`;
  const pending = q.availIdxInMemory === null ? 0 : (q.availIdxInMemory - q.lastAvailIdx) & 0xffff;
  const children: ViewNode[] = [];
  if (q.error !== null) children.push(note(`${id}/error`, q.error, 'error'));
  children.push({
    id: `${id}/addr`, label: 'Addresses', description: `desc ${h(q.descAddr)} · avail ${h(q.availAddr)} · used ${h(q.usedAddr)}`, icon: 'location',
    children: [
      { id: `${id}/addr/d`, label: 'Descriptor table', description: h(q.descAddr), contextValue: 'value', value: h(q.descAddr) },
      { id: `${id}/addr/a`, label: 'Available ring', description: h(q.availAddr), contextValue: 'value', value: h(q.availAddr) },
      { id: `${id}/addr/u`, label: 'Used ring', description: h(q.usedAddr), contextValue: 'value', value: h(q.usedAddr) },
    ],
  });
  const table = (q.descriptorTable ?? []).filter((t) => t.flags !== 0 || t.len !== 0 || BigInt(t.addr) !== 0n);
  if ((q.descriptorTable ?? []).length > 0) {
    children.push({
      id: `${id}/desc`, label: 'Descriptor table', description: `${table.length} of ${q.size} in use`, icon: 'list-ordered',
      children: table.length === 0 ? [note(`${id}/desc/none`, 'every descriptor is all zero')] : table.map((t) => descriptorNode(`${id}/desc/${t.index}`,
        { index: t.index, addr: Number(BigInt(t.addr)), len: t.len, flags: t.flags, next: t.next, indirect: false }, req)),
    });
  }
  const size = q.size > 0 ? q.size : 1;
  const availIdx = q.availIdxInMemory ?? 0;
  children.push(ringNode(`${id}/avail`, 'Available ring', `idx ${q.availIdxInMemory ?? '-'} · flags ${q.availFlags ?? '-'} · device last seen ${q.lastAvailIdx}`, q.availRing, (head, k) => {
    // Slots the driver published and the device has not taken yet: from last_avail_idx up to avail.idx (virtio 1.2 §2.7.6).
    const waiting = ((k - (q.lastAvailIdx % size) + size) % size) < Math.min(pending, size);
    return { id: `${id}/avail/${k}`, label: `[${k}]`, description: `head ${head}${waiting ? ' · waiting' : ''}${k === availIdx % size ? ' ← idx' : ''}`, icon: waiting ? 'circle-filled' : 'circle-outline', contextValue: 'value', value: String(head) };
  }));
  children.push(ringNode(`${id}/used`, 'Used ring', `idx ${q.usedIdxInMemory ?? '-'} · flags ${q.usedFlags ?? '-'} · device's used idx ${q.usedIdx}`, q.usedRing, (u, k) => ({
    id: `${id}/used/${k}`, label: `[${k}]`, description: `id ${u.id} · len ${u.len}${k === q.usedIdx % size ? ' ← idx' : ''}`, icon: 'circle-outline', contextValue: 'value', value: String(u.id),
  })));
  children.push({
    id: `${id}/inflight`, label: 'In-flight chains', description: `${q.inFlight.length}`, icon: 'sync', expanded: q.inFlight.length > 0,
    children: q.inFlight.length === 0 ? [note(`${id}/inflight/none`, 'none: the device has taken every available chain')] : q.inFlight.map((c) => ({
      id: `${id}/inflight/${c.availIdx}`, label: `chain at head ${c.head}`, description: `avail idx ${c.availIdx} · ${c.descriptorCount} descriptor${c.descriptorCount === 1 ? '' : 's'}${c.error !== null ? ` · ${c.error}` : ''}`,
      icon: c.error !== null ? 'error' : 'link',
      children: c.descriptors.map((d, i) => descriptorNode(`${id}/inflight/${c.availIdx}/${i}`, d, req)),
    })),
  });
  return {
    id, label: `Queue ${q.index}`,
    description: `size ${q.size}${q.ready ? '' : ' (not ready)'} · avail ${q.availIdxInMemory ?? '-'} · used ${q.usedIdx} · last seen ${q.lastAvailIdx}${pending > 0 ? ` · ${pending} waiting` : ''}`,
    tooltip: `queue ${q.index}: size ${q.size} (max ${q.maxSize}), ${q.ready ? 'ready' : 'not ready'}${q.eventIdx ? ', EVENT_IDX' : ''}${q.indirect ? ', INDIRECT_DESC' : ''}`,
    icon: 'layers', contextValue: 'queue', queue: { device: devIndex, queue: q.index }, children,
  };
}

function deviceNode(d: VirtioDeviceOut, i: number, req?: Requester): ViewNode {
  const id = `virtio/${d.name}`;
  const statusNames = d.status.bits.filter((b) => b.set).map((b) => b.name);
  const accepted = d.features.filter((f) => f.accepted).length;
  const children: ViewNode[] = [];
  if (d.needsResetReason !== null) children.push(note(`${id}/reset`, `DEVICE_NEEDS_RESET: ${d.needsResetReason}`, 'error'));
  children.push({
    id: `${id}/status`, label: 'Status', description: `${h(d.status.value)} ${statusNames.join(' | ') || '(reset)'}`, icon: 'pulse', contextValue: 'value', value: h(d.status.value),
    children: d.status.bits.map((b) => ({ id: `${id}/status/${b.bit}`, label: `[${b.bit}] ${b.name}`, description: b.set ? 'on' : 'off', icon: b.set ? 'pass-filled' : 'circle-large-outline' })),
  });
  children.push({
    id: `${id}/features`, label: 'Features', description: `device ${d.deviceFeatures} · driver ${d.driverFeatures} · ${accepted} negotiated`, icon: 'checklist',
    children: d.features.map((f) => ({
      id: `${id}/features/${f.bit}`, label: `[${f.bit}] ${f.name}`, description: f.offered ? (f.accepted ? 'negotiated' : 'offered, not accepted') : 'written by the driver, not offered',
      icon: f.accepted && f.offered ? 'pass-filled' : f.offered ? 'circle-large-outline' : 'warning',
    })),
  });
  children.push({
    id: `${id}/isr`, label: 'Interrupt status', description: `${h(d.interruptStatus.value)}${d.interruptStatus.usedBuffer ? ' used-buffer' : ''}${d.interruptStatus.configChange ? ' config-change' : ''} · IRQ ${d.irq} line ${d.irqLevel ? 'high' : 'low'}`,
    icon: 'bell', contextValue: 'value', value: h(d.interruptStatus.value),
  });
  children.push(...d.queues.map((q) => queueNode(i, id, q, req)));
  if (d.requests.length > 0) {
    const recent = d.requests.slice(-50).reverse();
    children.push({
      id: `${id}/requests`, label: 'Requests', description: `${d.requests.length} recent`, icon: 'history',
      children: recent.map((r) => ({
        id: `${id}/requests/${r.id}`, label: `#${r.id} q${r.queue} head ${r.head}`, description: `${r.state} · ${r.summary}`,
        tooltip: `${md(r.summary)}  \n${r.direction}, ${r.readableBytes} readable / ${r.writableBytes} writable bytes${r.usedLen !== null ? `, used len ${r.usedLen}` : ''}`,
        icon: r.state === 'in-flight' ? 'sync' : 'check',
        children: r.descriptors.map((d2, k) => descriptorNode(`${id}/requests/${r.id}/${k}`, d2, req)),
      })),
    });
  }
  return {
    id, label: d.name, description: `device id ${d.deviceId} · ${d.window.base} · IRQ ${d.irq}${d.needsResetReason !== null ? ' · NEEDS_RESET' : ''}`,
    icon: 'plug', expanded: true, children,
  };
}

export function buildVirtioTree(view: VirtioView, req?: Requester): ViewNode[] {
  if (view.devices.length === 0) return [note('virtio/none', 'This run has no virtio devices (add "virtio-console", "virtio-rng" or a virtio-blk entry to "devices")')];
  return view.devices.map((d, i) => deviceNode(d, i, req));
}
