// The hypervisor's CR-access and RDTSC/RDTSCP handlers: with the exits turned on, the guest sees what bare hardware gives it.
import { describe, expect, it } from 'vitest';
import { Machine, parseLaunchConfig } from '../../emulator/index.js';
import { CPU_BASED_CR3_LOAD_EXITING, CPU_BASED_CR3_STORE_EXITING, CPU_BASED_RDTSC_EXITING } from '../../emulator/vmx/controls.js';
import { nasm } from './nasm.js';

const config = () => parseLaunchConfig({ program: 'cr-tsc', format: 'flat', cpuMode: 'long' });

describe('CR access and RDTSC exits', () => {
  it('MOV to/from CR3, CLTS, LMSW, RDTSC and RDTSCP exit and are emulated as the processor would execute them', () => {
    const image = nasm('cr-tsc');
    const bare = new Machine(image, config(), {}, { mode: 'bare' }).runToEnd();
    const m = new Machine(image, config());
    const hv = m.hv!;
    const proc = Number(hv.vmread('CPU_BASED_VM_EXEC_CONTROL'));
    hv.vmwrite('CPU_BASED_VM_EXEC_CONTROL', (proc | CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING | CPU_BASED_RDTSC_EXITING) >>> 0);
    hv.vmwrite('CR0_GUEST_HOST_MASK', 0x28); // the hypervisor owns NE and TS: TS changes, CLTS and LMSW exit
    const r = m.runToEnd();
    expect(bare.status).toBe('debug-exit');
    expect(r.status, r.message).toBe('debug-exit');
    const lines = r.output.trim().split('\n'), want = bare.output.trim().split('\n');
    expect(lines).toHaveLength(10);
    // CR3 and CR0 observations are exactly the bare processor's.
    expect(lines.slice(0, 8)).toEqual(want.slice(0, 8));
    expect(lines[1]).toBe('0000000000300000');
    expect(BigInt('0x' + lines[4]) & 8n).toBe(8n);
    expect(BigInt('0x' + lines[5]) & 8n).toBe(0n);
    expect(BigInt('0x' + lines[7]) & 0xfn).toBe(1n);
    // RDTSC: a small positive delta, the TSC_AUX through RDTSCP as written.
    const delta = Number(BigInt('0x' + lines[8]));
    expect(delta).toBeGreaterThan(0);
    expect(delta).toBeLessThan(16);
    expect(lines[9]).toBe(want[9]);
    expect(lines[9]).toBe('0000000000001234');
    const by = r.vmExits.byReason;
    // 3 CR3 stores, 2 CR3 loads, MOV to CR0 setting TS, CLTS, 2 LMSW that change TS (SDM vol. 3C §25.1.3); CR0 reads do not exit.
    expect(by.CR_ACCESS).toBe(9);
    expect(by.RDTSC).toBe(2);
    expect(by.RDTSCP).toBe(1);
  });
});
