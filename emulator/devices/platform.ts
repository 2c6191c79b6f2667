// The PC platform devices a launch configuration can name, where each sits on the bus, and a factory that maps them.
import type { IoBus, PortDevice, Snapshottable } from './bus.js';
import { DebugCon, DEBUGCON_PORT } from './debugcon.js';
import { DebugExit, DEBUG_EXIT_IOSIZE, DEBUG_EXIT_PORT } from './debug-exit.js';
import type { ConsoleSink, RunControl } from './sinks.js';
import { COM1_IRQ, COM1_PORT, Uart16550 } from './uart16550.js';

/** Device names accepted in LaunchConfig.devices, in the order they are mapped. */
export const DEVICE_NAMES = ['debugcon', 'debug-exit', 'uart'] as const;
export type DeviceName = (typeof DEVICE_NAMES)[number];
export const DEFAULT_DEVICES: readonly DeviceName[] = ['debugcon', 'debug-exit', 'uart'];

/** Where each device sits: the platform description shown to users and used by the factory. */
export const DEVICE_TABLE: Readonly<Record<DeviceName, { firstPort: number; portCount: number; irq: number | null; description: string }>> = {
  debugcon: { firstPort: DEBUGCON_PORT, portCount: 1, irq: null, description: 'QEMU isa-debugcon: bytes written to port 0xE9 go to the console' },
  'debug-exit': { firstPort: DEBUG_EXIT_PORT, portCount: DEBUG_EXIT_IOSIZE, irq: null, description: 'QEMU isa-debug-exit: writing v to 0xF4 ends the run with exit code (v << 1) | 1' },
  uart: { firstPort: COM1_PORT, portCount: 8, irq: COM1_IRQ, description: '16550A UART, COM1 (0x3F8-0x3FF, IRQ 4)' },
};

export interface PlatformDevices {
  debugcon?: DebugCon;
  debugExit?: DebugExit;
  uart?: Uart16550;
  /** Every created device by name, for snapshots (saveState of each, keyed by name). */
  all: Map<DeviceName, PortDevice & Snapshottable>;
}

export interface PlatformWiring {
  console: ConsoleSink;
  control: RunControl;
  /** IRQ lines to the interrupt controller: called with (irq, level) when a device's line changes. */
  setIrq?: (irq: number, level: boolean) => void;
  /** Guest time in ns (from the instruction count); see Uart16550Options.clock. */
  clock?: () => number;
}

/** Create the named devices and map them on `bus`. Names must be valid (parseLaunchConfig checked them). */
export function createPlatformDevices(bus: IoBus, names: readonly string[], w: PlatformWiring): PlatformDevices {
  const out: PlatformDevices = { all: new Map() };
  for (const name of names) {
    const t = DEVICE_TABLE[name as DeviceName];
    if (t === undefined) throw new RangeError(`unknown device "${name}"`);
    let dev: PortDevice & Snapshottable;
    switch (name as DeviceName) {
      case 'debugcon':
        dev = out.debugcon = new DebugCon(w.console, t.firstPort);
        break;
      case 'debug-exit':
        dev = out.debugExit = new DebugExit(w.control, t.firstPort, t.portCount);
        break;
      case 'uart': {
        const setIrq = w.setIrq;
        const irq = t.irq ?? COM1_IRQ;
        dev = out.uart = new Uart16550(w.console, {
          base: t.firstPort,
          setIrq: setIrq === undefined ? undefined : (level) => setIrq(irq, level),
          clock: w.clock,
        });
        break;
      }
    }
    bus.mapPorts(t.firstPort, t.portCount, dev);
    out.all.set(name as DeviceName, dev);
  }
  return out;
}
