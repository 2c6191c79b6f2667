// Settings for every test file (vitest setupFiles): the VMX unit compares the held state at each VM entry check and fails when a writer of CR0/CR3/CR4/EFER/CS/SS did not move Cpu.heldEpoch (Vmx.verifyHeldEpoch).
import { Vmx } from '../emulator/vmx/vmx.js';

Vmx.verifyHeldEpoch = true;
