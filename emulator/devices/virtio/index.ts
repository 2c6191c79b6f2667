// The virtio devices' public surface for the machine: transport, devices, disk backends, platform placement, DMA adapter.
export * from './types.js';
export * from './queue.js';
export * from './mmio.js';
export * from './console.js';
export * from './blk.js';
export * from './disk.js';
export * from './rng.js';

/** Where the machine maps each device (virtio-platform facts): 4 KiB window and ISA IRQ. */
export const VIRTIO_PLATFORM = {
  'virtio-console': { base: 0xd0000000, irq: 5 },
  'virtio-blk': { base: 0xd0001000, irq: 9 },
  'virtio-rng': { base: 0xd0002000, irq: 10 },
} as const;

/** Linux's `virtio_mmio.device=<size>@<base>:<irq>` kernel parameter for one device. */
export function virtioMmioCmdline(base: number, irq: number): string {
  return `virtio_mmio.device=4K@0x${base.toString(16)}:${irq}`;
}
