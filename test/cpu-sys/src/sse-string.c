/* Guest for the SSE2 tests: memset/memcpy loops that gcc -O3 -msse2 vectorizes, and a PCMPEQB/PMOVMSKB strlen. */
#include <emmintrin.h>
typedef unsigned long size_t;

__attribute__((noinline)) void *vset(void *d, int c, size_t n) {
  unsigned char *p = d;
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)c;
  return d;
}
__attribute__((noinline)) void *vcpy(void *restrict d, const void *restrict s, size_t n) {
  unsigned char *q = d;
  const unsigned char *p = s;
  for (size_t i = 0; i < n; i++) q[i] = p[i];
  return d;
}
/* strlen as glibc's SSE2 version works: aligned 16-byte loads, PCMPEQB against zero, PMOVMSKB, BSF. */
__attribute__((noinline)) size_t vstrlen(const char *s) {
  const __m128i zero = _mm_setzero_si128();
  size_t misalign = (size_t)s & 15;
  const __m128i *p = (const __m128i *)(s - misalign);
  unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero)) >> misalign;
  if (mask) return (size_t)__builtin_ctz(mask);
  for (;;) {
    p++;
    mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_load_si128(p), zero));
    if (mask) return (size_t)((const char *)p - s) + __builtin_ctz(mask);
  }
}

#define SRC ((unsigned char *)0x200000)
#define DST ((unsigned char *)0x300000)
#define OUT ((volatile unsigned *)0x5000)

void _start(void) {
  volatile unsigned char *vs = SRC, *vd = DST;
  unsigned bad = 0, cases = 0;
  for (unsigned i = 0; i < 4096; i++) vs[i] = (unsigned char)(i * 7 + 1);
  for (unsigned n = 0; n < 80; n++) {
    for (unsigned so = 0; so < 16; so += 3) {
      for (unsigned dof = 0; dof < 16; dof += 5) {
        for (unsigned k = 0; k < 128; k++) vd[k] = 0xee;
        vcpy(DST + dof, SRC + so, n);
        for (unsigned k = 0; k < 128; k++) {
          unsigned want = (k >= dof && k < dof + n) ? vs[so + k - dof] : 0xee;
          if (vd[k] != want) bad++;
        }
        vset(DST + dof, (int)(n + 3), n);
        for (unsigned k = 0; k < 128; k++) {
          unsigned want = (k >= dof && k < dof + n) ? ((n + 3) & 0xff) : 0xee;
          if (vd[k] != want) bad++;
        }
        cases++;
      }
    }
  }
  /* strlen: strings of every length 0..70 at every alignment 0..15 */
  unsigned lbad = 0;
  for (unsigned a = 0; a < 16; a++) {
    for (unsigned len = 0; len < 70; len++) {
      for (unsigned k = 0; k < 100; k++) vd[a + k] = k < len ? 'a' + (k % 26) : 0;
      if (vstrlen((const char *)DST + a) != len) lbad++;
    }
  }
  OUT[0] = bad; OUT[1] = cases; OUT[2] = lbad; OUT[3] = 0x600d;
  __asm__ volatile("hlt");
  for (;;) {}
}
