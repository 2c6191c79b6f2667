// Exercise 10-timer-injection: be the guest's timer: inject vector 0x30 at every 4th CPUID exit.
//
// vcpu.injectInterrupt(vector) injects an external interrupt at the next VM entry. The guest can only take it
// when RFLAGS.IF = 1 (vcpu.reg('rflags') & 0x200n) and it is not in an STI/MOV-SS shadow; otherwise VM entry
// fails its checks (SDM vol. 3C §27.3.1.5 and §27.2.1.3). next() is the built-in CPUID handler (it advances RIP).
let cpuidExits = 0;

module.exports = {
  handlers: {
    CPUID(vcpu, next) {
      const r = next();
      cpuidExits++;
      // TODO: every 4th CPUID exit (4, 8, 12), when the guest has interrupts enabled, inject vector 0x30.
      return r;
    },
  },
};
