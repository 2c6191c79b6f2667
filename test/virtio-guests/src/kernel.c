/* The virtio guests' tiny kernel: debug console, exit, memory helpers, IDT with exception reports, 8259 PIC setup and IRQ dispatch, command-line parsing. */
#include "kernel.h"

void putc_(char c) { outb(0xE9, (u8)c); }
void puts_(const char *s) {
  while (*s) putc_(*s++);
}
void put_hex(u64 v, int digits) {
  for (int i = digits - 1; i >= 0; i--) putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}
void put_dec(u32 v) {
  char buf[12];
  int n = 0;
  do {
    buf[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) putc_(buf[--n]);
}

void exit_(u8 code) {
  outb(0xF4, code);
  for (;;) __asm__ volatile("cli; hlt");
}

/* gcc may emit calls to these even in freestanding code (struct copies, large initialisers). */
void *memset(void *d, int c, unsigned long n) {
  u8 *p = d;
  while (n--) *p++ = (u8)c;
  return d;
}
void *memcpy(void *d, const void *s, unsigned long n) {
  u8 *p = d;
  const u8 *q = s;
  while (n--) *p++ = *q++;
  return d;
}
int memcmp(const void *a, const void *b, unsigned long n) {
  const u8 *p = a, *q = b;
  for (; n; n--, p++, q++)
    if (*p != *q) return *p - *q;
  return 0;
}

/* ---- IDT (SDM vol. 3A §6.11: 32-bit interrupt gate, type 0xE, present, DPL 0) ---- */
struct idt_gate {
  u16 offset_lo, selector;
  u8 zero, type_attr;
  u16 offset_hi;
} __attribute__((packed));

#define IDT_VECTORS 64
static struct idt_gate idt[IDT_VECTORS];
extern const u32 isr_table[IDT_VECTORS]; /* boot32.asm */

/* The stack that boot32.asm's trap_common builds: PUSHAD, then vector, error code, then the CPU's frame. */
struct trap_frame {
  u32 edi, esi, ebp, esp, ebx, edx, ecx, eax;
  u32 vector, error;
  u32 eip, cs, eflags;
};

/* ---- 8259A PIC (Intel 8259A datasheet: ICW1..ICW4, OCW1 mask, OCW2 EOI) ---- */
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI 0x20

static u16 pic_mask = 0xFFFF; /* bit n set: IRQ n masked */
static irq_handler *handlers[16];
static void *handler_args[16];
volatile u32 irq_count[16];

static void pic_write_mask(void) {
  outb(PIC1_DATA, (u8)pic_mask);
  outb(PIC2_DATA, (u8)(pic_mask >> 8));
}

/* ---- Local APIC in virtual wire mode (MP spec 1.4 §3.6.2.2; SDM vol. 3A §11.5.1) ----
 * With an integrated local APIC, the PIC's INTR reaches the processor through LINT0 programmed as ExtINT.
 * Firmware normally does this; vmscope's reset state already has it, QEMU's microvm does not. LVT writes
 * are ignored while the APIC is software-disabled (§11.4.7.2), so enable it first (SVR bit 8), with the
 * spurious vector 0x3F (low four bits 1 for P6-family APICs, §11.9). */
#define LAPIC_SVR 0x0F0
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_SPURIOUS_VECTOR 0x3F

static void lapic_write(uptr base, u32 reg, u32 v) {
  __asm__ volatile("movl %1, %0" : "=m"(*(volatile u32 *)(base + reg)) : "r"(v) : "memory");
}
static u32 lapic_read(uptr base, u32 reg) {
  u32 v;
  __asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*(volatile u32 *)(base + reg)));
  return v;
}

static void lapic_virtual_wire(void) {
  u32 a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  if (!(d & (1u << 9))) return; /* CPUID.1:EDX.APIC */
  u32 lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x1B)); /* IA32_APIC_BASE */
  if (!(lo & (1u << 11)) || (lo & (1u << 10))) return;        /* globally disabled (PIC wired straight), or x2APIC */
  uptr base = lo & 0xFFFFF000u;
  lapic_write(base, LAPIC_SVR, (lapic_read(base, LAPIC_SVR) & ~0xFFu) | 0x100 | LAPIC_SPURIOUS_VECTOR);
  lapic_write(base, LAPIC_LVT_LINT0, 7u << 8); /* ExtINT, unmasked */
  lapic_write(base, LAPIC_LVT_LINT1, 4u << 8); /* NMI */
}

void interrupts_init(void) {
  for (int v = 0; v < IDT_VECTORS; v++) {
    idt[v].offset_lo = (u16)isr_table[v];
    idt[v].offset_hi = (u16)(isr_table[v] >> 16);
    idt[v].selector = 0x08;
    idt[v].zero = 0;
    idt[v].type_attr = 0x8E; /* P=1, DPL=0, 32-bit interrupt gate: IF is cleared on entry */
  }
  struct {
    u16 limit;
    u32 base;
  } __attribute__((packed)) idtr = {sizeof idt - 1, (u32)(uptr)idt};
  __asm__ volatile("lidt %0" : : "m"(idtr));

  outb(PIC1_CMD, 0x11);  /* ICW1: edge-triggered, cascade, ICW4 follows */
  outb(PIC2_CMD, 0x11);
  outb(PIC1_DATA, IRQ_VECTOR_BASE);     /* ICW2: master IRQ 0-7 -> vectors 0x20-0x27 */
  outb(PIC2_DATA, IRQ_VECTOR_BASE + 8); /* slave IRQ 8-15 -> 0x28-0x2F */
  outb(PIC1_DATA, 1 << 2); /* ICW3: slave on master's IR2 */
  outb(PIC2_DATA, 2);      /* slave identity 2 */
  outb(PIC1_DATA, 0x01);   /* ICW4: 8086 mode, normal EOI */
  outb(PIC2_DATA, 0x01);
  pic_mask = 0xFFFF;
  pic_write_mask();
  lapic_virtual_wire();
}

void irq_install(u32 irq, irq_handler *fn, void *arg) {
  if (irq >= 16) return;
  handlers[irq] = fn;
  handler_args[irq] = arg;
  pic_mask &= (u16)~(1u << irq);
  if (irq >= 8) pic_mask &= (u16)~(1u << 2); /* the cascade line */
  pic_write_mask();
}

void trap_dispatch(struct trap_frame *f);
void trap_dispatch(struct trap_frame *f) {
  if (f->vector < 32) {
    puts_("guest exception: vector=");
    put_hex(f->vector, 2);
    puts_(" error=");
    put_hex(f->error, 8);
    puts_(" eip=");
    put_hex(f->eip, 8);
    putc_('\n');
    exit_(0x7F);
  }
  if (f->vector == LAPIC_SPURIOUS_VECTOR) return; /* no EOI for a spurious interrupt (§11.9) */
  if (f->vector >= IRQ_VECTOR_BASE + 16) return;
  u32 irq = f->vector - IRQ_VECTOR_BASE;
  irq_count[irq]++;
  if (handlers[irq] != NULL) handlers[irq](handler_args[irq]);
  /* The device handler has acknowledged its interrupt (its line is low again) before the EOI, so a
   * level-triggered line does not immediately re-raise the same request. */
  if (irq >= 8) outb(PIC2_CMD, PIC_EOI);
  outb(PIC1_CMD, PIC_EOI);
}

/* ---- command line ---- */
const char *multiboot_cmdline(u32 magic, u32 info) {
  if (magic != MULTIBOOT_BOOTLOADER_MAGIC || info == 0) return NULL;
  const struct multiboot_info *mbi = (const struct multiboot_info *)(uptr)info;
  return (mbi->flags & 4) ? (const char *)(uptr)mbi->cmdline : NULL;
}

/* Linux's memparse: a decimal or 0x-hex number with an optional K/M/G suffix. Sets *ok = 0 on no digits. */
static u64 memparse(const char **sp, int *ok) {
  const char *s = *sp;
  u64 v = 0;
  int digits = 0, base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  for (;; s++, digits++) {
    int d;
    if (*s >= '0' && *s <= '9') d = *s - '0';
    else if (base == 16 && *s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
    else if (base == 16 && *s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
    else break;
    if (digits >= 16) {
      *ok = 0; /* too long for 64 bits: refuse rather than wrap */
      return 0;
    }
    v = v * (u64)base + (u64)d;
  }
  if (*s == 'K' || *s == 'k') v <<= 10, s++;
  else if (*s == 'M' || *s == 'm') v <<= 20, s++;
  else if (*s == 'G' || *s == 'g') v <<= 30, s++;
  if (digits == 0) *ok = 0;
  *sp = s;
  return v;
}

int parse_virtio_cmdline(const char *s, struct mmio_window *w, int max) {
  static const char key[] = "virtio_mmio.device=";
  int n = 0;
  if (s == NULL) return 0;
  for (int guard = 0; *s && guard < 4096; guard++) {
    while (*s == ' ') s++;
    int i = 0;
    while (key[i] && s[i] == key[i]) i++;
    if (key[i] == 0) { /* <size>@<base>:<irq> (Linux drivers/virtio/virtio_mmio.c, vm_cmdline_set) */
      const char *p = s + i;
      int ok = 1;
      u64 size = memparse(&p, &ok);
      if (*p++ != '@') ok = 0;
      u64 base = ok ? memparse(&p, &ok) : 0;
      if (ok && *p++ != ':') ok = 0;
      u64 irq = ok ? memparse(&p, &ok) : 0;
      if (ok && (*p == ' ' || *p == 0 || *p == ':') && n < max && base <= 0xFFFFF000u && size >= 0x100 && size <= 0x1000 && irq < 16) {
        w[n].base = (uptr)base;
        w[n].size = (u32)size;
        w[n].irq = (u32)irq;
        n++;
      }
    }
    while (*s && *s != ' ') s++;
  }
  return n;
}
