// The emulator's one facade: build a machine from a launch configuration, run it, inspect it.
export { Machine, createMachine, runImage, errorResult, registerDump, EXIT_CODES, MULTIBOOT_INFO_ADDRESS, type RunResult, type RunStatus, type MachineHost, type MachineSnapshot } from './machine.js';
export { parseLaunchConfig, ConfigError, type LaunchConfig } from './config.js';
export { LoadError } from './loader/image.js';
export type { UnimplementedReport, CpuStop } from './cpu/cpu.js';
