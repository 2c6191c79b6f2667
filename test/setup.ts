// Settings for every test file (vitest setupFiles): the VMX unit's shortcut checks (Vmx.verifyShortcuts): the held state compared at each VM entry check, failing when a writer of CR0/CR3/CR4/EFER/CS/SS did not move Cpu.heldEpoch, and the resume facts worked out at each resume, failing when a kept one differs.
import { Vmx } from '../emulator/vmx/vmx.js';

Vmx.verifyShortcuts = true;
