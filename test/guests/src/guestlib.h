/* Freestanding console helpers for C test guests: bytes to port 0xE9 (or stdout when built -DHOSTED as the reference). */
#ifndef GUESTLIB_H
#define GUESTLIB_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef __SIZE_TYPE__ usize;

#ifdef HOSTED
int putchar(int c);
static void putc_(char c) { putchar((unsigned char)c); }
#else
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static void putc_(char c) { outb(0xE9, (u8)c); }
#endif

static void puts_(const char *s) {
  while (*s) putc_(*s++);
}

static void put_hex(u64 v, int digits) {
  for (int i = digits - 1; i >= 0; i--) putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}

/* Decimal of a 32-bit value (no 64-bit division: i386 would need libgcc's __udivdi3). */
static void put_dec(u32 v) {
  char buf[12];
  int n = 0;
  do {
    buf[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) putc_(buf[--n]);
}

static void *memset_(void *d, int c, usize n) {
  u8 *p = (u8 *)d;
  while (n--) *p++ = (u8)c;
  return d;
}

#endif
