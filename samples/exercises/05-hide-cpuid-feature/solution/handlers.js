// Exercise 05-hide-cpuid-feature (reference solution): hide CPUID.1:ECX.POPCNT and add hypervisor leaf 0x40000002.
module.exports = {
  handlers: {
    CPUID(vcpu, next) {
      const leaf = Number(vcpu.reg('rax') & 0xffffffffn); // the leaf, before the built-in handler overwrites RAX
      if (leaf === 0x40000002) {
        vcpu.setReg('rax', 0xc0ffee);
        vcpu.setReg('rbx', 0);
        vcpu.setReg('rcx', 0);
        vcpu.setReg('rdx', 0);
        vcpu.advanceRip(); // CPUID is 2 bytes: without this the guest executes CPUID forever
        return 'emulated';
      }
      const r = next();
      if (leaf === 1) vcpu.setReg('rcx', vcpu.reg('rcx') & ~(1n << 23n)); // POPCNT, SDM vol. 2A table 3-10
      if (leaf === 0x40000000) vcpu.setReg('rax', 0x40000002);
      return r;
    },
  },
};
