// Exercise 09-ept-dirty-log: log the first write to each page of the guest buffer 0x300000..0x307FFF.
//
// setup(vmm) runs before the first VM entry: vmm.eptProtect(gpa, perms) sets the EPT permissions of the 4 KiB
// page holding gpa (R = 1, W = 2, X = 4; the hypervisor splits its 2 MiB pages and does INVEPT for you);
// vmm.eptPermissions(gpa) reads them back. In an exit handler the same two are vcpu.eptProtect / vcpu.eptPermissions.
// An EPT violation's qualification bit 1 means "the access was a write" (SDM vol. 3C table 28-7);
// vcpu.exit.guestPhysical is the address. Print the log with vcpu.console(text).
const BUF = 0x300000, PAGES = 8;
const R = 1, W = 2, X = 4;

module.exports = {
  setup(vmm) {
    // TODO 1: make every page of the buffer read + execute only (no W).
    void vmm; void BUF; void PAGES; void R; void W; void X;
  },
  handlers: {
    EPT_VIOLATION(vcpu, next) {
      // TODO 2: for a write to a page of the buffer: print "dirty page 0x300000\n" (the page's address in hex),
      //         give the page its write permission back and return 'resumed' WITHOUT advancing RIP: the guest
      //         executes the write again, and now it succeeds. Everything else: return next().
      return next();
    },
  },
};
