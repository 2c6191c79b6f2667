// Native x86-64 instruction harness: runs snippet cases on the host CPU at the emulator's addresses and reports registers, flags, faults and scratch.
/*
 * Wire format (little-endian), read from stdin (or argv[1]) and written to stdout:
 *   input : "VMSN" u32 count, then per case
 *           u8 code_len, u8 pad[3], u32 scratch_len, u64 gpr[16], u64 rflags, code[code_len], scratch[scratch_len]
 *   output: "VMSR" u32 count, then per case
 *           i32 fault (-1 = none, else the exception vector), u32 stray (1 = bytes past scratch_len were written),
 *           u32 scratch_len, u32 pad, u64 gpr[16], u64 rflags, scratch[scratch_len]
 *   code and scratch are each zero-padded to a multiple of 8 bytes so every u64 is 8-byte aligned.
 * `harness --cpuid` prints the host features the suites care about (movbe popcnt lzcnt bmi1).
 * The code page is mapped at exactly 0x10000 and the scratch area at 0x20000 (64 KiB) so that
 * addresses held in registers mean the same here and in the emulator's SnippetRunner.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDR 0x10000UL
#define CODE_SIZE 0x1000UL
#define SCRATCH_ADDR 0x20000UL
#define SCRATCH_SIZE 0x10000UL
#define STRAY_CHECK 256u
#define MAX_CODE 200u
#define PAD8(n) (((n) + 7u) & ~7u)

struct regs { uint64_t gpr[16]; uint64_t rflags; };

/* Shared with the trampoline below; referenced RIP-relative from asm. */
struct regs g_in, g_out;
uint64_t g_saved_rsp, g_target;
volatile int g_fault;

/* Status flags CF PF AF ZF SF OF and DF come from the case; bit 1 and IF are fixed (SDM vol. 1 §3.4.3). */
#define CASE_FLAGS 0xCD5UL
#define FIXED_FLAGS 0x202UL

void run_case_asm(void);
extern char fault_recover[];

/* Trampoline: save callee-saved registers and RSP, load RFLAGS and the 15 GPRs (not RSP),
 * call the case (its code ends with RET), store the GPRs and RFLAGS, restore everything.
 * A fault lands at fault_recover (the signal handler rewrites RIP) with the registers
 * already captured from the ucontext. */
__asm__(
    ".text\n"
    ".globl run_case_asm\n"
    "run_case_asm:\n"
    "  push %rbx\n  push %rbp\n  push %r12\n  push %r13\n  push %r14\n  push %r15\n"
    "  mov %rsp, g_saved_rsp(%rip)\n"
    "  pushq g_in+128(%rip)\n  popfq\n"
    "  mov g_in+0(%rip), %rax\n  mov g_in+8(%rip), %rcx\n  mov g_in+16(%rip), %rdx\n"
    "  mov g_in+24(%rip), %rbx\n  mov g_in+40(%rip), %rbp\n  mov g_in+48(%rip), %rsi\n"
    "  mov g_in+56(%rip), %rdi\n  mov g_in+64(%rip), %r8\n  mov g_in+72(%rip), %r9\n"
    "  mov g_in+80(%rip), %r10\n  mov g_in+88(%rip), %r11\n  mov g_in+96(%rip), %r12\n"
    "  mov g_in+104(%rip), %r13\n  mov g_in+112(%rip), %r14\n  mov g_in+120(%rip), %r15\n"
    "  call *g_target(%rip)\n"
    "  mov %rax, g_out+0(%rip)\n  mov %rcx, g_out+8(%rip)\n  mov %rdx, g_out+16(%rip)\n"
    "  mov %rbx, g_out+24(%rip)\n  mov %rbp, g_out+40(%rip)\n  mov %rsi, g_out+48(%rip)\n"
    "  mov %rdi, g_out+56(%rip)\n  mov %r8, g_out+64(%rip)\n  mov %r9, g_out+72(%rip)\n"
    "  mov %r10, g_out+80(%rip)\n  mov %r11, g_out+88(%rip)\n  mov %r12, g_out+96(%rip)\n"
    "  mov %r13, g_out+104(%rip)\n  mov %r14, g_out+112(%rip)\n  mov %r15, g_out+120(%rip)\n"
    "  pushfq\n  popq g_out+128(%rip)\n"
    ".globl fault_recover\n"
    "fault_recover:\n"
    "  mov g_saved_rsp(%rip), %rsp\n"
    "  cld\n"
    "  pop %r15\n  pop %r14\n  pop %r13\n  pop %r12\n  pop %rbp\n  pop %rbx\n"
    "  ret\n");

static void die(const char *msg) {
  fprintf(stderr, "harness: %s\n", msg);
  exit(2);
}

/* Exception vectors (SDM vol. 3A §6.15): #DE 0, #UD 6, #GP 13, #PF 14; SIGTRAP is #DB 1. */
static void on_fault(int sig, siginfo_t *si, void *ctx) {
  (void)si;
  ucontext_t *uc = (ucontext_t *)ctx;
  greg_t *g = uc->uc_mcontext.gregs;
  uint64_t rip = (uint64_t)g[REG_RIP];
  if (rip < CODE_ADDR || rip >= CODE_ADDR + CODE_SIZE) {
    static const char m[] = "harness: fault outside the case code page\n";
    (void)!write(2, m, sizeof m - 1);
    _exit(3);
  }
  g_out.gpr[0] = (uint64_t)g[REG_RAX];  g_out.gpr[1] = (uint64_t)g[REG_RCX];
  g_out.gpr[2] = (uint64_t)g[REG_RDX];  g_out.gpr[3] = (uint64_t)g[REG_RBX];
  g_out.gpr[4] = (uint64_t)g[REG_RSP];  g_out.gpr[5] = (uint64_t)g[REG_RBP];
  g_out.gpr[6] = (uint64_t)g[REG_RSI];  g_out.gpr[7] = (uint64_t)g[REG_RDI];
  g_out.gpr[8] = (uint64_t)g[REG_R8];   g_out.gpr[9] = (uint64_t)g[REG_R9];
  g_out.gpr[10] = (uint64_t)g[REG_R10]; g_out.gpr[11] = (uint64_t)g[REG_R11];
  g_out.gpr[12] = (uint64_t)g[REG_R12]; g_out.gpr[13] = (uint64_t)g[REG_R13];
  g_out.gpr[14] = (uint64_t)g[REG_R14]; g_out.gpr[15] = (uint64_t)g[REG_R15];
  g_out.rflags = (uint64_t)g[REG_EFL];
  switch (sig) {
    case SIGFPE: g_fault = 0; break;
    case SIGILL: g_fault = 6; break;
    case SIGTRAP: g_fault = 1; break;
    case SIGSEGV:
    case SIGBUS: g_fault = (int)g[REG_TRAPNO]; break;
    default: g_fault = 255; break;
  }
  g[REG_RIP] = (greg_t)(uintptr_t)fault_recover;
}

static void print_cpuid(void) {
  unsigned a, b, c, d;
  int movbe = 0, popcnt = 0, lzcnt = 0, bmi1 = 0;
  if (__get_cpuid(1, &a, &b, &c, &d)) { movbe = (c >> 22) & 1; popcnt = (c >> 23) & 1; }
  if (__get_cpuid(0x80000001, &a, &b, &c, &d)) lzcnt = (c >> 5) & 1; /* ABM/LZCNT */
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) bmi1 = (b >> 3) & 1;
  printf("movbe=%d popcnt=%d lzcnt=%d bmi1=%d\n", movbe, popcnt, lzcnt, bmi1);
}

static unsigned char *read_all(FILE *f, size_t *len) {
  size_t cap = 1 << 20, n = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) die("out of memory");
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) die("out of memory");
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    if (r == 0) break;
    n += r;
  }
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--cpuid") == 0) { print_cpuid(); return 0; }

  unsigned char *code = mmap((void *)CODE_ADDR, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (unsigned char *)CODE_ADDR) die("cannot map the code page at 0x10000");
  unsigned char *scratch = mmap((void *)SCRATCH_ADDR, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (scratch != (unsigned char *)SCRATCH_ADDR) die("cannot map the scratch area at 0x20000");

  static unsigned char altstack[65536];
  stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = { SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP };
  for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);

  FILE *in = stdin;
  if (argc > 1) {
    in = fopen(argv[1], "rb");
    if (!in) die("cannot open the input file");
  }
  size_t len;
  unsigned char *buf = read_all(in, &len);
  if (len < 8 || memcmp(buf, "VMSN", 4) != 0) die("bad input header");
  uint32_t count;
  memcpy(&count, buf + 4, 4);
  size_t pos = 8;

  static char obuf[1 << 20];
  setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
  fwrite("VMSR", 1, 4, stdout);
  fwrite(&count, 4, 1, stdout);

  g_target = CODE_ADDR;
  for (uint32_t i = 0; i < count; i++) {
    if (pos + 8 + 17 * 8 > len) die("truncated case header");
    uint32_t code_len = buf[pos];
    uint32_t scratch_len;
    memcpy(&scratch_len, buf + pos + 4, 4);
    memcpy(&g_in, buf + pos + 8, sizeof g_in);
    pos += 8 + sizeof g_in;
    if (code_len > MAX_CODE || scratch_len > SCRATCH_SIZE - STRAY_CHECK) die("case too large");
    if (pos + PAD8(code_len) + PAD8(scratch_len) > len) die("truncated case body");
    memcpy(code, buf + pos, code_len);
    code[code_len] = 0xC3; /* RET back into the trampoline */
    pos += PAD8(code_len);
    memcpy(scratch, buf + pos, scratch_len);
    pos += PAD8(scratch_len);

    g_in.rflags = (g_in.rflags & CASE_FLAGS) | FIXED_FLAGS;
    g_fault = -1;
    memset(&g_out, 0, sizeof g_out);
    run_case_asm();

    uint32_t stray = 0;
    for (uint32_t k = scratch_len; k < scratch_len + STRAY_CHECK; k++) {
      if (scratch[k]) { stray = 1; scratch[k] = 0; }
    }
    int32_t fault = g_fault;
    uint32_t pad = 0;
    fwrite(&fault, 4, 1, stdout);
    fwrite(&stray, 4, 1, stdout);
    fwrite(&scratch_len, 4, 1, stdout);
    fwrite(&pad, 4, 1, stdout);
    fwrite(&g_out, sizeof g_out, 1, stdout);
    fwrite(scratch, 1, PAD8(scratch_len), stdout); /* padding bytes are zero: stray check above */
    memset(scratch, 0, scratch_len);
  }
  fflush(stdout);
  return 0;
}
