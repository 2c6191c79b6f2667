// Exercise 07-hypercall: add hypercall 0x100 ("ADD": RAX = RBX + RCX) to the VMCALL handler.
//
// Registers are BigInt: vcpu.reg('rbx') + vcpu.reg('rcx'). VMCALL is 3 bytes (0f 01 c1): call vcpu.advanceRip()
// or the guest executes it again. next() is the built-in ABI (1 WRITE, 2 EXIT, 3 TIME; other numbers: -1000).
module.exports = {
  handlers: {
    VMCALL(vcpu, next) {
      // TODO: when RAX is 0x100, set RAX to RBX + RCX (64 bits), advance RIP and return 'emulated'.
      return next();
    },
  },
};
