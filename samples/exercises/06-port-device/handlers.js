// Exercise 06-port-device: emulate a 32-bit counter device at port 0x700 in the IO_INSTRUCTION handler.
//
// vcpu.exit.qualification (a BigInt) describes the access (SDM vol. 3C table 28-5): bits 2:0 size - 1,
// bit 3 direction (1 = IN), bit 4 string, bit 5 REP, bit 6 immediate operand, bits 31:16 the port.
// For IN, put the value in RAX (vcpu.setReg('rax', v)); for OUT, the value is in RAX. Then vcpu.advanceRip().
// next() runs the built-in handler, which sends the access to the platform's devices (debug console, exit port).
let counter = 0;

module.exports = {
  handlers: {
    IO_INSTRUCTION(vcpu, next) {
      // TODO: when the port is 0x700: OUT sets `counter`, IN returns it in EAX and then increments it.
      //       Every other port: return next().
      void counter;
      return next();
    },
  },
};
