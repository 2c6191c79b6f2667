/* Multiboot 1 kernel body (64-bit C, entered from mbboot64.asm): reads the multiboot info, prints mem_upper and the command line, runs the computations. */
#include "compute.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u /* Multiboot 0.6.96 §3.2 */

/* Boot information format, Multiboot 0.6.96 §3.3 (the fields this kernel reads). */
struct multiboot_info {
  u32 flags;
  u32 mem_lower, mem_upper; /* valid if flags bit 0 */
  u32 boot_device;          /* bit 1 */
  u32 cmdline;              /* bit 2: physical address of a NUL-terminated string */
};

static u64 rdmsr(u32 msr) {
  u32 lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((u64)hi << 32) | lo;
}

int kmain64(u32 magic, u32 info) {
  puts_("multiboot kernel, long mode\n");
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC) {
    puts_("bad magic ");
    put_hex(magic, 8);
    putc_('\n');
    return 1;
  }
  u64 efer = rdmsr(0xC0000080);
  puts_("efer.lma=");
  put_dec((u32)(efer >> 10) & 1);
  putc_('\n');
  const struct multiboot_info *mbi = (const struct multiboot_info *)(usize)info;
  if (mbi->flags & 1) {
    puts_("mem_lower=");
    put_dec(mbi->mem_lower);
    puts_(" mem_upper=");
    put_dec(mbi->mem_upper);
    putc_('\n');
  }
  if (mbi->flags & 4) {
    puts_("cmdline=");
    const char *s = (const char *)(usize)mbi->cmdline;
    for (int n = 0; s[n] && n < 256; n++) putc_(s[n]);
    putc_('\n');
  }
  int bad = run_computations();
  puts_("kernel done\n");
  return bad;
}
