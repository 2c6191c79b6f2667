// Exercise 07-hypercall (reference solution): hypercall 0x100 returns RBX + RCX.
export default {
  handlers: {
    VMCALL(vcpu, next) {
      if ((vcpu.reg('rax') & 0xffffffffn) !== 0x100n) return next();
      vcpu.setReg('rax', BigInt.asUintN(64, vcpu.reg('rbx') + vcpu.reg('rcx')));
      vcpu.advanceRip();
      return 'emulated';
    },
  },
};
