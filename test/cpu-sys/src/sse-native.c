/* Host driver for sse-ops.asm: reads N input pairs from argv[1], writes the results to argv[2]. */
#include <stdio.h>
#include <stdlib.h>
extern void run_ops(const void *in, void *out, long n);
int main(int argc, char **argv) {
  (void)argc;
  FILE *f = fopen(argv[1], "rb");
  static unsigned char in[32 * 4096] __attribute__((aligned(32)));
  size_t n = fread(in, 32, 4096, f) ;
  fclose(f);
  long ops = atol(argv[3]);
  unsigned char *out = aligned_alloc(16, n * ops * 16 + 16);
  run_ops(in, out, (long)n);
  f = fopen(argv[2], "wb");
  fwrite(out, 16, n * ops, f);
  fclose(f);
  return 0;
}
