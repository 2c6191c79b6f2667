// Exercise 06-port-device (reference solution): a 32-bit counter device at port 0x700.
let counter = 0;

module.exports = {
  handlers: {
    IO_INSTRUCTION(vcpu, next) {
      const q = Number(vcpu.exit.qualification & 0xffffffffn);
      const port = q >>> 16, isIn = (q & 8) !== 0, string = (q & 16) !== 0;
      if (port !== 0x700 || string) return next();
      if (isIn) {
        vcpu.setReg('rax', counter); // IN EAX zero-extends into RAX
        counter = (counter + 1) >>> 0;
      } else {
        counter = Number(vcpu.reg('rax') & 0xffffffffn);
      }
      vcpu.note(`counter device: ${isIn ? 'read' : 'write'}, now ${counter}`);
      vcpu.advanceRip();
      return 'emulated';
    },
  },
};
