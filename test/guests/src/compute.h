/* Checkable computations shared by the C guests and their hosted reference builds: CRC32, FNV-1a, xorshift, quicksort, sieve, Fibonacci. */
#ifndef COMPUTE_H
#define COMPUTE_H
#include "guestlib.h"

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bitwise. */
static u32 crc32(const u8 *p, usize n) {
  u32 c = 0xFFFFFFFFu;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

/* FNV-1a, 32-bit (offset basis 2166136261, prime 16777619). */
static u32 fnv1a(const u8 *p, usize n) {
  u32 h = 2166136261u;
  while (n--) {
    h ^= *p++;
    h *= 16777619u;
  }
  return h;
}

/* Marsaglia xorshift32. */
static u32 xorshift32(u32 *s) {
  u32 x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

static void quicksort(u32 *a, long lo, long hi) {
  while (lo < hi) {
    u32 pivot = a[lo + (hi - lo) / 2];
    long i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        u32 t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    /* Recurse into the smaller half, loop on the larger: stack depth O(log n). */
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

/* Count primes below n (n <= sizeof sieve); *last = the largest. */
static u32 sieve(u8 *composite, u32 n, u32 *last) {
  u32 count = 0;
  memset_(composite, 0, n);
  for (u32 i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    *last = i;
    for (u32 j = i * i; j < n && i < 65536; j += i) composite[j] = 1;
  }
  return count;
}

static u64 fib(u32 n) {
  u64 a = 0, b = 1;
  while (n--) {
    u64 t = a + b;
    a = b;
    b = t;
  }
  return a;
}

#define SORT_N 2000
#define SIEVE_N 100000
static u32 sort_buf[SORT_N];
static u8 sieve_buf[SIEVE_N];

/* Print every computation, one "name=value" line each. Returns 0 when the self-checks hold. */
static int run_computations(void) {
  int bad = 0;
  static const char fox[] = "The quick brown fox jumps over the lazy dog";
  puts_("crc32=");
  put_hex(crc32((const u8 *)fox, sizeof fox - 1), 8);
  puts_("\nfnv1a=");
  put_hex(fnv1a((const u8 *)fox, sizeof fox - 1), 8);

  u32 s = 2463534242u, sum = 0;
  for (u32 i = 0; i < SORT_N; i++) sort_buf[i] = xorshift32(&s);
  quicksort(sort_buf, 0, SORT_N - 1);
  for (u32 i = 0; i < SORT_N; i++) {
    if (i && sort_buf[i - 1] > sort_buf[i]) bad = 1;
    sum += sort_buf[i] * (i + 1);
  }
  puts_("\nsort min=");
  put_hex(sort_buf[0], 8);
  puts_(" max=");
  put_hex(sort_buf[SORT_N - 1], 8);
  puts_(" weighted=");
  put_hex(sum, 8);
  puts_(bad ? " unsorted" : " sorted");

  u32 last = 0, count = sieve(sieve_buf, SIEVE_N, &last);
  puts_("\nprimes<");
  put_dec(SIEVE_N);
  puts_("=");
  put_dec(count);
  puts_(" last=");
  put_dec(last);

  puts_("\nfib(90)=");
  put_hex(fib(90), 16);
  puts_("\n");
  return bad;
}

#endif
