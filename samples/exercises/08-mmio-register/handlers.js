// Exercise 08-mmio-register: emulate two MMIO registers at guest-physical 0xE0000000 in the EPT_VIOLATION handler.
//
// vcpu.exit.guestPhysical (BigInt) is the address the guest touched. vcpu.exit.qualification bit 0 = data read,
// bit 1 = data write (SDM vol. 3C §28.2.1, table 28-7). An EPT violation has no instruction length
// (VM_EXIT_INSTRUCTION_LEN is undefined for it): skip the 2-byte instruction yourself with
// vcpu.setReg('rip', vcpu.reg('rip') + 2n). next() is the built-in MMIO emulator: it decodes the instruction and
// treats unassigned space as "reads all ones, writes dropped".
const ID = 0x564d5343; // "VMSC"
let scratch = 0;

module.exports = {
  handlers: {
    EPT_VIOLATION(vcpu, next) {
      // TODO: for gpa 0xE0000000 (ID, read-only) and 0xE0000004 (SCRATCH, read/write): a read sets EAX
      //       (mov eax, [rbx]), a write takes EAX (mov [rbx], eax); then skip the 2-byte instruction.
      //       Every other address: return next().
      void ID; void scratch;
      return next();
    },
  },
};
