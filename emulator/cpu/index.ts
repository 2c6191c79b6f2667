// Registers every instruction handler (side-effect imports) and re-exports the processor's public surface.
import './exec-int.js';
import './exec-sys.js';
import './exec-sse.js';
export { Cpu, CPU_FAULT, type CpuBus, type CpuStop, type UnimplementedReport } from './cpu.js';
export { setupStartMode, setupMultiboot, LAYOUT, type StartMode } from './setup.js';
