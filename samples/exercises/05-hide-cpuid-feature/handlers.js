// Exercise 05-hide-cpuid-feature: your CPUID exit handler (loaded by `vmscope test` in place of the built-in one).
//
// vcpu is the handler API (emulator/vmm/api.ts): vcpu.reg('rax') / vcpu.setReg('rcx', v) (values are BigInt),
// vcpu.advanceRip(). next() runs the built-in CPUID handler: it fills RAX, RBX, RCX, RDX for the leaf in RAX
// and advances RIP. Read samples/03-cpuid first.
module.exports = {
  handlers: {
    CPUID(vcpu, next) {
      // TODO 1: hide POPCNT: after the built-in handler ran for leaf 1, clear bit 23 of RCX (keep all other bits).
      // TODO 2: offer one more hypervisor leaf: leaf 0x40000000 must report 0x40000002 as the largest leaf (in RAX),
      //         and leaf 0x40000002 must return RAX = 0xC0FFEE (RBX = RCX = RDX = 0).
      // Hint: read the leaf from RAX *before* calling next(), which overwrites RAX.
      return next();
    },
  },
};
