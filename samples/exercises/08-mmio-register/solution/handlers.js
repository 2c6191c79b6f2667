// Exercise 08-mmio-register (reference solution): an ID register and a scratch register at 0xE0000000.
const ID = 0x564d5343; // "VMSC"
let scratch = 0;

module.exports = {
  handlers: {
    EPT_VIOLATION(vcpu, next) {
      const gpa = Number(vcpu.exit.guestPhysical);
      if (gpa !== 0xe0000000 && gpa !== 0xe0000004) return next();
      const write = (vcpu.exit.qualification & 2n) !== 0n;
      if (write) {
        if (gpa === 0xe0000004) scratch = Number(vcpu.reg('rax') & 0xffffffffn);
      } else {
        vcpu.setReg('rax', gpa === 0xe0000000 ? ID : scratch); // a 32-bit load zero-extends into RAX
      }
      vcpu.note(`${write ? 'write' : 'read'} of ${gpa === 0xe0000000 ? 'ID' : 'SCRATCH'}`);
      vcpu.setReg('rip', vcpu.reg('rip') + 2n); // mov eax, [rbx] / mov [rbx], eax are 2 bytes
      return 'emulated';
    },
  },
};
