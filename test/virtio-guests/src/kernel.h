/* The virtio guests' tiny kernel: types, port I/O, debug console (0xE9), exit (0xF4), IDT, 8259 PIC and the Multiboot command line. */
#ifndef KERNEL_H
#define KERNEL_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long uptr; /* an address: 32 bits in these protected-mode guests */

#define NULL ((void *)0)

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
/* STI then HLT: STI's interrupt shadow (SDM vol. 2B, STI) lets no interrupt in between, so an interrupt
 * that became pending after the caller's last check still wakes the HLT instead of being missed. */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* Debug console: each byte written to port 0xE9 is one character of output. */
void putc_(char c);
void puts_(const char *s);
void put_hex(u64 v, int digits);
void put_dec(u32 v);

/* End the run: isa-debug-exit on port 0xF4 (exit status (code<<1)|1). */
__attribute__((noreturn)) void exit_(u8 code);

void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

/* Interrupts: the 8259 pair remapped to vectors 0x20..0x2F (IRQ n -> 0x20 + n). */
#define IRQ_VECTOR_BASE 0x20
typedef void irq_handler(void *arg);
void interrupts_init(void);                          /* IDT + PIC, every IRQ masked, IF still 0 */
void irq_install(u32 irq, irq_handler *fn, void *arg); /* and unmask the line */
extern volatile u32 irq_count[16];                   /* interrupts taken per IRQ line */

/* Multiboot 0.6.96 §3.3: the boot information fields we read. */
struct multiboot_info {
  u32 flags;
  u32 mem_lower, mem_upper; /* flags bit 0 */
  u32 boot_device;          /* bit 1 */
  u32 cmdline;              /* bit 2: physical address of a NUL-terminated string */
};
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* One `virtio_mmio.device=<size>@<base>:<irq>` (Linux's kernel parameter) from the command line. */
struct mmio_window {
  uptr base;
  u32 size;
  u32 irq;
};
/* Fills up to `max` windows from the command line (NULL: none); returns how many. */
int parse_virtio_cmdline(const char *cmdline, struct mmio_window *w, int max);
/* The command line of a Multiboot boot, or NULL. */
const char *multiboot_cmdline(u32 magic, u32 info);

#endif
