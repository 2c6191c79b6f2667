// Exercise 10-timer-injection (reference solution): vector 0x30 injected at every 4th CPUID exit.
let cpuidExits = 0;

module.exports = {
  handlers: {
    CPUID(vcpu, next) {
      const r = next();
      cpuidExits++;
      const interruptsOn = (vcpu.reg('rflags') & 0x200n) !== 0n;
      const shadow = (vcpu.vmread('GUEST_INTERRUPTIBILITY_INFO') & 3n) !== 0n; // blocking by STI / MOV SS
      if (cpuidExits % 4 === 0 && interruptsOn && !shadow) {
        vcpu.injectInterrupt(0x30);
        vcpu.note(`timer tick injected (CPUID exit ${cpuidExits})`);
        return 'injected';
      }
      return r;
    },
  },
};
