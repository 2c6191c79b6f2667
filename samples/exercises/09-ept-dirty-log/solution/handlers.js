// Exercise 09-ept-dirty-log (reference solution): write-protect the buffer in EPT, log and unprotect on first write.
const BUF = 0x300000, PAGES = 8;
const R = 1, W = 2, X = 4;

module.exports = {
  setup(vmm) {
    for (let p = 0; p < PAGES; p++) vmm.eptProtect(BUF + p * 4096, R | X);
    vmm.note(`write-protected ${PAGES} pages at 0x${BUF.toString(16)}`);
  },
  handlers: {
    EPT_VIOLATION(vcpu, next) {
      const gpa = Number(vcpu.exit.guestPhysical);
      const write = (vcpu.exit.qualification & 2n) !== 0n;
      if (!write || gpa < BUF || gpa >= BUF + PAGES * 4096) return next();
      const page = gpa - (gpa % 4096);
      vcpu.console(`dirty page 0x${page.toString(16)}\n`);
      vcpu.eptProtect(page, R | W | X);
      return 'resumed'; // no advanceRip: the write is executed again, now allowed
    },
  },
};
