/* KVM reference harness: runs a guest from a complete initial machine state under /dev/kvm with vmscope's platform ports, prints every user-space exit and the final registers as JSON lines. */
/*
 * Usage: kvm-run STATE-FILE
 *
 * STATE-FILE (written by test/kvm/kvm.ts, all fields little-endian u64 unless noted):
 *   magic "VMSKVM01" (8 bytes)
 *   mem_size          guest RAM bytes, one slot at guest-physical 0 (multiple of 4096, 4 KiB .. 3 GiB)
 *   max_exits         the run stops after this many user-space exits (1 .. 10^7)
 *   timeout_ms        wall-clock limit of the run (1 .. 600000)
 *   gpr[16]           in x86 encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8 .. r15
 *   rip, rflags
 *   seg[8]            es cs ss ds fs gs ldtr tr: selector, base, limit (byte granular), access rights in the
 *                     VMCS layout (SDM vol. 3C §24.4.1, table 24-2: 3:0 type, 4 S, 6:5 DPL, 7 P, 12 AVL,
 *                     13 L, 14 D/B, 15 G, 16 unusable)
 *   gdtr_base, gdtr_limit, idtr_base, idtr_limit
 *   cr0, cr2, cr3, cr4, efer
 *   region_count      (0 .. 1048576)
 *   region[]          gpa, len, then len bytes, zero-padded to a multiple of 8; gpa+len <= mem_size
 *
 * Output on stdout, one JSON object per line:
 *   {"kind":"io","dir":"out"|"in","port":P,"size":S,"count":N,"data":[bytes]}   (KVM_EXIT_IO, as KVM groups it)
 *   {"kind":"mmio","addr":A,"size":S,"write":true|false,"data":[bytes]}          (KVM_EXIT_MMIO)
 *   {"kind":"hlt"} {"kind":"shutdown"} {"kind":"fail_entry","reason":R,"cpu":C}
 *   {"kind":"internal_error","suberror":S} {"kind":"other","exit_reason":R}
 *   {"kind":"end","reason":"hlt"|"debug-exit"|"shutdown"|"fail_entry"|"internal_error"|"other"|
 *            "exit-limit"|"timeout","exitCode":C,"exits":N}
 *   {"kind":"regs", ...}   (KVM_GET_REGS / KVM_GET_SREGS; 64-bit values as "0x..." strings)
 * Exit status: 0 when the run was carried out (whatever the guest did); 2 with a message on stderr for a
 * malformed state file or a KVM call that failed (e.g. KVM_SET_SREGS rejecting the state).
 *
 * The platform is vmscope's (emulator/devices/platform.ts), emulated here for the ports the guests use:
 *   0xE9       isa-debugcon: 1-byte writes are console output, 1-byte reads return 0xE9, wider reads 0
 *   0xF4-0xF7  isa-debug-exit: a write of v ends the run with exit code (v << 1) | 1; reads return 0
 *   0x3F8-0x3FF 16550A UART, polled-output subset (no receiver input, no loopback, no IRQ line): a wide
 *              access is split into byte accesses at consecutive ports, bytes past 0x3FF read 0xFF
 *   other ports: reads all ones, writes dropped. A 2- or 4-byte access belongs to the device owning its
 *   first port (as vmscope's IoBus routes it). MMIO (anything outside the RAM slot): reads all ones,
 *   writes dropped. HLT ends the run (the guests halt with IF=0 and no interrupt source exists).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define MEM_MAX (3ULL << 30)
#define EXITS_MAX 10000000ULL
#define TIMEOUT_MAX 600000ULL
#define REGIONS_MAX 1048576ULL
/* Outside the RAM slot (which ends at 3 GiB at most): the TSS pages KVM needs for real mode on VMX. */
#define TSS_ADDR 0xfffbd000UL

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("kvm-run: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

/* ---------------------------------------------------------------- state file */

static const uint8_t *in_buf;
static size_t in_len, in_pos;

static uint64_t rd64(const char *what) {
  if (in_len - in_pos < 8) die("state file truncated reading %s at offset %zu", what, in_pos);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | in_buf[in_pos + i];
  in_pos += 8;
  return v;
}

static uint8_t *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0) die("cannot stat %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) die("%s: not a regular file", path);
  if ((uint64_t)st.st_size > MEM_MAX + (64ULL << 20)) die("%s: %lld bytes is larger than any valid state", path, (long long)st.st_size);
  uint8_t *b = malloc(st.st_size ? st.st_size : 1);
  if (!b) die("out of memory");
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, b + got, st.st_size - got);
    if (n <= 0) die("read %s: %s", path, n < 0 ? strerror(errno) : "short read");
    got += n;
  }
  close(fd);
  *len = got;
  return b;
}

/* ---------------------------------------------------------------- KVM */

static int xioctl(int fd, unsigned long req, void *arg, const char *name) {
  int r = ioctl(fd, req, arg);
  if (r < 0) die("%s: %s", name, strerror(errno));
  return r;
}

/* VMCS access rights (SDM vol. 3C table 24-2) <-> struct kvm_segment. */
static void seg_from(struct kvm_segment *s, uint64_t sel, uint64_t base, uint64_t limit, uint64_t ar) {
  memset(s, 0, sizeof *s);
  s->selector = (uint16_t)sel;
  s->base = base;
  s->limit = (uint32_t)limit;
  s->type = ar & 0xf;
  s->s = (ar >> 4) & 1;
  s->dpl = (ar >> 5) & 3;
  s->present = (ar >> 7) & 1;
  s->avl = (ar >> 12) & 1;
  s->l = (ar >> 13) & 1;
  s->db = (ar >> 14) & 1;
  s->g = (ar >> 15) & 1;
  s->unusable = (ar >> 16) & 1;
}

static uint32_t seg_ar(const struct kvm_segment *s) {
  return (s->type & 0xf) | (s->s & 1) << 4 | (s->dpl & 3) << 5 | (s->present & 1) << 7 | (s->avl & 1) << 12 |
         (s->l & 1) << 13 | (s->db & 1) << 14 | (s->g & 1) << 15 | (uint32_t)(s->unusable & 1) << 16;
}

/* ---------------------------------------------------------------- platform (vmscope's devices) */

#define COM1 0x3f8
static struct {
  uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
  int thri; /* THRE interrupt pending (IER.ETBEI enabled while THR empty; cleared by reading IIR) */
} uart = { .dll = 0x0c };

/* PC16550D register reads as vmscope's Uart16550 gives them with no receive data, no loopback. */
static uint8_t uart_read(unsigned off) {
  int dlab = uart.lcr & 0x80;
  switch (off) {
  case 0: return dlab ? uart.dll : 0; /* RBR: empty receiver reads the last byte received (none: 0) */
  case 1: return dlab ? uart.dlm : uart.ier;
  case 2: {
    uint8_t iir = (uart.thri && (uart.ier & 0x02)) ? 0x02 : 0x01; /* PC16550D table IV */
    if (iir == 0x02) uart.thri = 0;
    return iir | ((uart.fcr & 1) ? 0xc0 : 0);
  }
  case 3: return uart.lcr;
  case 4: return uart.mcr;
  case 5: return 0x60; /* THRE | TEMT: transmission is immediate */
  case 6: return 0xb0; /* CTS | DSR | DCD of a connected terminal */
  default: return uart.scr;
  }
}

static void uart_write(unsigned off, uint8_t v) {
  int dlab = uart.lcr & 0x80;
  switch (off) {
  case 0:
    if (dlab) uart.dll = v;
    else uart.thri = 1; /* THR: the byte leaves at once, THR is empty again (THRE interrupt re-raised) */
    return;
  case 1:
    if (dlab) { uart.dlm = v; return; }
    if (((uart.ier ^ v) & 0x02) != 0) uart.thri = (v & 0x02) != 0;
    uart.ier = v & 0x0f;
    return;
  case 2: /* FCR (PC16550D §8.5): changing FIFO enable clears both FIFOs; clearing TX makes THR empty */
    if (((v ^ uart.fcr) & 1) != 0) v |= 0x06;
    if (v & 0x04) uart.thri = 1;
    uart.fcr = v & 0xc9;
    return;
  case 3: uart.lcr = v; return;
  case 4: uart.mcr = v & 0x1f; return;
  case 7: uart.scr = v; return;
  default: return; /* LSR, MSR: read-only */
  }
}

static int exit_requested;
static uint32_t exit_code;

/* One port access of `size` bytes, routed by its first port. */
static uint32_t port_in(uint16_t port, unsigned size) {
  uint32_t ones = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
  if (port == 0xe9) return size == 1 ? 0xe9 : 0;
  if (port >= 0xf4 && port <= 0xf7) return 0;
  if (port >= COM1 && port <= COM1 + 7) {
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
      unsigned p = port + i;
      uint32_t b = p <= COM1 + 7 ? uart_read(p - COM1) : 0xff;
      v |= b << (8 * i);
    }
    return v;
  }
  return ones;
}

static void port_out(uint16_t port, unsigned size, uint32_t v) {
  if (port >= 0xf4 && port <= 0xf7) {
    if (!exit_requested) exit_code = (v << 1) | 1;
    exit_requested = 1;
    return;
  }
  if (port >= COM1 && port <= COM1 + 7) {
    for (unsigned i = 0; i < size; i++) {
      unsigned p = port + i;
      if (p <= COM1 + 7) uart_write(p - COM1, (v >> (8 * i)) & 0xff);
    }
  }
  /* 0xE9 and unassigned ports: nothing to model beyond the recorded event. */
}

/* ---------------------------------------------------------------- output */

static void print_bytes(const uint8_t *p, size_t n) {
  putchar('[');
  for (size_t i = 0; i < n; i++) printf(i ? ",%u" : "%u", p[i]);
  putchar(']');
}

static void hexfield(const char *name, uint64_t v, int comma) {
  printf("%s\"%s\":\"0x%llx\"", comma ? "," : "", name, (unsigned long long)v);
}

static void print_seg(const char *name, const struct kvm_segment *s) {
  printf(",\"%s\":{\"sel\":%u,\"base\":\"0x%llx\",\"limit\":%u,\"ar\":%u}", name, s->selector,
         (unsigned long long)s->base, s->limit, seg_ar(s));
}

static volatile sig_atomic_t timed_out;
static struct kvm_run *volatile run_page;
/* Setting immediate_exit from the handler closes the race of a signal arriving just before KVM_RUN
 * (Documentation/virt/kvm/api.rst, "immediate_exit"). */
static void on_alarm(int sig) {
  (void)sig;
  timed_out = 1;
  if (run_page) run_page->immediate_exit = 1;
}

int main(int argc, char **argv) {
  if (argc != 2) die("usage: kvm-run STATE-FILE");
  in_buf = read_file(argv[1], &in_len);
  if (in_len < 8 || memcmp(in_buf, "VMSKVM01", 8) != 0) die("%s: not a state file (magic VMSKVM01 missing)", argv[1]);
  in_pos = 8;

  uint64_t mem_size = rd64("mem_size");
  if (mem_size < 4096 || mem_size > MEM_MAX || mem_size % 4096) die("mem_size 0x%llx: must be a multiple of 4096 in 4 KiB..3 GiB", (unsigned long long)mem_size);
  uint64_t max_exits = rd64("max_exits");
  if (max_exits < 1 || max_exits > EXITS_MAX) die("max_exits %llu: must be 1..%llu", (unsigned long long)max_exits, EXITS_MAX);
  uint64_t timeout_ms = rd64("timeout_ms");
  if (timeout_ms < 1 || timeout_ms > TIMEOUT_MAX) die("timeout_ms %llu: must be 1..%llu", (unsigned long long)timeout_ms, TIMEOUT_MAX);

  uint64_t gpr[16];
  for (int i = 0; i < 16; i++) gpr[i] = rd64("gpr");
  uint64_t rip = rd64("rip"), rflags = rd64("rflags");
  uint64_t seg[8][4];
  for (int i = 0; i < 8; i++)
    for (int k = 0; k < 4; k++) seg[i][k] = rd64("segment");
  uint64_t gdtr_base = rd64("gdtr_base"), gdtr_limit = rd64("gdtr_limit");
  uint64_t idtr_base = rd64("idtr_base"), idtr_limit = rd64("idtr_limit");
  uint64_t cr0 = rd64("cr0"), cr2 = rd64("cr2"), cr3 = rd64("cr3"), cr4 = rd64("cr4"), efer = rd64("efer");
  for (int i = 0; i < 8; i++) {
    if (seg[i][0] > 0xffff || seg[i][2] > 0xffffffffULL || seg[i][3] > 0x1ffff) die("segment %d: selector, limit or access rights out of range", i);
  }
  if (gdtr_limit > 0xffff || idtr_limit > 0xffff) die("gdtr/idtr limit above 0xffff");

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm: %s", strerror(errno));
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM API version mismatch");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM: %s", strerror(errno));
  if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0) die("KVM_SET_TSS_ADDR: %s", strerror(errno));

  uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("mmap %llu bytes: %s", (unsigned long long)mem_size, strerror(errno));

  uint64_t nregions = rd64("region_count");
  if (nregions > REGIONS_MAX) die("region_count %llu: too many", (unsigned long long)nregions);
  for (uint64_t r = 0; r < nregions; r++) {
    uint64_t gpa = rd64("region gpa"), len = rd64("region len");
    if (gpa > mem_size || len > mem_size - gpa) die("region %llu (0x%llx, %llu bytes) is outside guest memory", (unsigned long long)r, (unsigned long long)gpa, (unsigned long long)len);
    uint64_t padded = (len + 7) & ~7ULL;
    if (in_len - in_pos < padded) die("state file truncated in region %llu", (unsigned long long)r);
    memcpy(mem + gpa, in_buf + in_pos, len);
    in_pos += padded;
  }
  if (in_pos != in_len) die("%zu bytes of trailing data after the last region", in_len - in_pos);

  struct kvm_userspace_memory_region slot = { .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uintptr_t)mem };
  xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot, "KVM_SET_USER_MEMORY_REGION");

  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU: %s", strerror(errno));
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < (int)sizeof(struct kvm_run)) die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run: %s", strerror(errno));
  run_page = run;

  /* CPUID: what KVM supports, so long mode, NX and SYSCALL are available to EFER (KVM checks EFER bits against it). */
  int nent = 256;
  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + nent * sizeof(struct kvm_cpuid_entry2));
  if (!cpuid) die("out of memory");
  cpuid->nent = nent;
  xioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
  xioctl(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");

  struct kvm_sregs sregs;
  xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  struct kvm_segment *order[8] = { &sregs.es, &sregs.cs, &sregs.ss, &sregs.ds, &sregs.fs, &sregs.gs, &sregs.ldt, &sregs.tr };
  for (int i = 0; i < 8; i++) seg_from(order[i], seg[i][0], seg[i][1], seg[i][2], seg[i][3]);
  sregs.gdt.base = gdtr_base;
  sregs.gdt.limit = (uint16_t)gdtr_limit;
  sregs.idt.base = idtr_base;
  sregs.idt.limit = (uint16_t)idtr_limit;
  sregs.cr0 = cr0;
  sregs.cr2 = cr2;
  sregs.cr3 = cr3;
  sregs.cr4 = cr4;
  sregs.efer = efer;
  memset(sregs.interrupt_bitmap, 0, sizeof sregs.interrupt_bitmap);
  xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");

  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rax = gpr[0]; regs.rcx = gpr[1]; regs.rdx = gpr[2]; regs.rbx = gpr[3];
  regs.rsp = gpr[4]; regs.rbp = gpr[5]; regs.rsi = gpr[6]; regs.rdi = gpr[7];
  regs.r8 = gpr[8]; regs.r9 = gpr[9]; regs.r10 = gpr[10]; regs.r11 = gpr[11];
  regs.r12 = gpr[12]; regs.r13 = gpr[13]; regs.r14 = gpr[14]; regs.r15 = gpr[15];
  regs.rip = rip;
  regs.rflags = rflags;
  xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

  /* Wall-clock limit: SIGALRM (no SA_RESTART) makes KVM_RUN return EINTR. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = { .it_value = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 } };
  setitimer(ITIMER_REAL, &it, NULL);

  const char *end = NULL;
  uint64_t exits = 0;
  uint32_t code = 0;
  while (!end) {
    if (timed_out) { end = "timeout"; break; }
    if (exits >= max_exits) { end = "exit-limit"; break; }
    int r = ioctl(vcpu, KVM_RUN, 0);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      die("KVM_RUN: %s", strerror(errno));
    }
    exits++;
    switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      uint8_t *data = (uint8_t *)run + run->io.data_offset;
      unsigned size = run->io.size, count = run->io.count;
      if ((size != 1 && size != 2 && size != 4) || run->io.data_offset + (uint64_t)size * count > (uint64_t)run_size) die("KVM_EXIT_IO with size %u count %u", size, count);
      int out = run->io.direction == KVM_EXIT_IO_OUT;
      /* String I/O arrives grouped (count elements); each element is one device access, in order. */
      for (unsigned k = 0; k < count; k++) {
        uint8_t *e = data + k * size;
        if (out) {
          uint32_t v = 0;
          for (unsigned b = 0; b < size; b++) v |= (uint32_t)e[b] << (8 * b);
          port_out(run->io.port, size, v);
        } else {
          uint32_t v = port_in(run->io.port, size);
          for (unsigned b = 0; b < size; b++) e[b] = (v >> (8 * b)) & 0xff;
        }
      }
      printf("{\"kind\":\"io\",\"dir\":\"%s\",\"port\":%u,\"size\":%u,\"count\":%u,\"data\":", out ? "out" : "in", run->io.port, size, count);
      print_bytes(data, (size_t)size * count);
      printf("}\n");
      if (exit_requested) { end = "debug-exit"; code = exit_code; }
      break;
    }
    case KVM_EXIT_MMIO: {
      unsigned len = run->mmio.len;
      if (len > 8) die("KVM_EXIT_MMIO with len %u", len);
      if (!run->mmio.is_write) memset(run->mmio.data, 0xff, len);
      printf("{\"kind\":\"mmio\",\"addr\":%llu,\"size\":%u,\"write\":%s,\"data\":", (unsigned long long)run->mmio.phys_addr, len, run->mmio.is_write ? "true" : "false");
      print_bytes(run->mmio.data, len);
      printf("}\n");
      break;
    }
    case KVM_EXIT_HLT:
      printf("{\"kind\":\"hlt\"}\n");
      end = "hlt";
      break;
    case KVM_EXIT_SHUTDOWN:
      printf("{\"kind\":\"shutdown\"}\n");
      end = "shutdown";
      break;
    case KVM_EXIT_FAIL_ENTRY:
      printf("{\"kind\":\"fail_entry\",\"reason\":%llu,\"cpu\":%u}\n", (unsigned long long)run->fail_entry.hardware_entry_failure_reason, run->fail_entry.cpu);
      end = "fail_entry";
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      printf("{\"kind\":\"internal_error\",\"suberror\":%u,\"data\":[", run->internal.suberror);
      for (unsigned k = 0; k < run->internal.ndata && k < 16; k++) printf(k ? ",\"0x%llx\"" : "\"0x%llx\"", (unsigned long long)run->internal.data[k]);
      printf("]}\n");
      end = "internal_error";
      break;
    case KVM_EXIT_INTR:
      exits--; /* a signal, not a guest exit */
      break;
    default:
      printf("{\"kind\":\"other\",\"exit_reason\":%u}\n", run->exit_reason);
      end = "other";
      break;
    }
  }
  struct itimerval off = { 0 };
  setitimer(ITIMER_REAL, &off, NULL);
  /* Stopped right after an IN or MMIO read exit: let KVM complete that instruction with the data given,
   * without running further, so the registers below include it (api.rst, "immediate_exit"). */
  if ((strcmp(end, "exit-limit") == 0 || strcmp(end, "timeout") == 0) &&
      ((run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN) || (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write))) {
    run->immediate_exit = 1;
    if (ioctl(vcpu, KVM_RUN, 0) == 0 || errno != EINTR) die("KVM_RUN with immediate_exit did not return EINTR");
  }
  printf("{\"kind\":\"end\",\"reason\":\"%s\",\"exitCode\":%u,\"exits\":%llu}\n", end, code, (unsigned long long)exits);

  xioctl(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
  xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  printf("{\"kind\":\"regs\"");
  const char *names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
  uint64_t vals[16] = { regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi,
                        regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15 };
  for (int i = 0; i < 16; i++) hexfield(names[i], vals[i], 1);
  hexfield("rip", regs.rip, 1);
  hexfield("rflags", regs.rflags, 1);
  hexfield("cr0", sregs.cr0, 1);
  hexfield("cr2", sregs.cr2, 1);
  hexfield("cr3", sregs.cr3, 1);
  hexfield("cr4", sregs.cr4, 1);
  hexfield("efer", sregs.efer, 1);
  const char *snames[8] = { "es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr" };
  for (int i = 0; i < 8; i++) print_seg(snames[i], order[i]);
  printf(",\"gdtr\":{\"base\":\"0x%llx\",\"limit\":%u}", (unsigned long long)sregs.gdt.base, sregs.gdt.limit);
  printf(",\"idtr\":{\"base\":\"0x%llx\",\"limit\":%u}}\n", (unsigned long long)sregs.idt.base, sregs.idt.limit);
  fflush(stdout);
  return 0;
}
