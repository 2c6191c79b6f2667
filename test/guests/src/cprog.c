/* Freestanding C guest (gcc -O2, -m32 flat protected mode or -m64 ELF long mode): prints its computations through port 0xE9. */
#include "compute.h"

int main(void) {
  puts_(sizeof(void *) == 8 ? "C guest, long mode\n" : "C guest, protected mode\n");
  int bad = run_computations();
  puts_("done\n");
  return bad;
}
