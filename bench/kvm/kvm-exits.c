/* KVM exit benchmark harness: runs one of bench/guests' flat long-mode exit loops under /dev/kvm for N iterations and prints the exits and the wall time of the run as one JSON line. */
/*
 * Usage: kvm-exits IMAGE ITERATIONS
 *
 * IMAGE is a flat 64-bit image for 0x100000 whose qword at offset 8 is its iteration count (bench/guests/cpuid.asm,
 * io.asm); the harness writes ITERATIONS there. The start state is vmscope's long mode (README "Writing your own
 * guest"): 64-bit code segment, identity-mapped 4 GiB with 2 MiB pages, RSP = 0x80000, interrupts off.
 *
 * Output (stdout, one line): {"iterations":N,"ioExits":E,"ns":T}
 *   ioExits  KVM_EXIT_IO exits (port output returns to user space; 0xE9 output is discarded)
 *   ns       CLOCK_MONOTONIC from just before the first KVM_RUN to the return of the KVM_RUN that reports the HLT.
 *            CPUID exits are handled inside the kernel and never reach user space: the run of N iterations is timed.
 * Exit status 0 on a run that ended with HLT; 2 with a message on stderr otherwise (no /dev/kvm, a KVM call failed,
 * an unexpected exit, or the 60 s alarm).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE (16u << 20)
#define LOAD 0x100000u
#define GDT 0x1000u
#define PML4 0x2000u
#define PDPT 0x3000u
#define PD 0x4000u /* four page directories: 0x4000..0x7fff */
#define STACK_TOP 0x80000u
#define TSS_ADDR 0xfffbd000UL

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("kvm-exits: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *name) {
  if (ioctl(fd, req, arg) < 0) die("%s: %s", name, strerror(errno));
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void put64(uint8_t *mem, uint32_t addr, uint64_t v) { memcpy(mem + addr, &v, 8); }

/* A flat segment in struct kvm_segment form (SDM vol. 3A §3.4.5 descriptor fields). */
static struct kvm_segment seg(uint16_t sel, uint8_t type, int code64) {
  struct kvm_segment s;
  memset(&s, 0, sizeof s);
  s.selector = sel;
  s.limit = 0xffffffff;
  s.type = type;
  s.s = 1;
  s.present = 1;
  s.g = 1;
  s.l = code64 ? 1 : 0;
  s.db = code64 ? 0 : 1;
  return s;
}

int main(int argc, char **argv) {
  if (argc != 3) die("usage: kvm-exits IMAGE ITERATIONS");
  char *endp;
  unsigned long long iterations = strtoull(argv[2], &endp, 10);
  if (*endp != 0 || iterations < 1 || iterations > 1000000000ull) die("ITERATIONS must be 1..10^9");
  alarm(60); /* a guest that never halts must not hang the benchmark */

  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) die("open %s: %s", argv[1], strerror(errno));
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size < 16 || st.st_size > (off_t)(MEM_SIZE - LOAD)) die("%s: not a benchmark image", argv[1]);

  uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) die("mmap: %s", strerror(errno));
  if (read(fd, mem + LOAD, st.st_size) != st.st_size) die("read %s: short read", argv[1]);
  close(fd);
  put64(mem, LOAD + 8, iterations);

  /* GDT: null, 0x08 64-bit code, 0x10 data. Paging: 4-level, identity 4 GiB with 2 MiB pages (SDM vol. 3A §4.5). */
  put64(mem, GDT + 0x08, 0x00af9b000000ffffull);
  put64(mem, GDT + 0x10, 0x00cf93000000ffffull);
  put64(mem, PML4, PDPT | 3);
  for (uint32_t i = 0; i < 4; i++) {
    put64(mem, PDPT + 8 * i, (PD + 0x1000 * i) | 3);
    for (uint32_t k = 0; k < 512; k++) put64(mem, PD + 0x1000 * i + 8 * k, ((uint64_t)(i * 512 + k) << 21) | 0x83);
  }

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm: %s", strerror(errno));
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM API version mismatch");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM: %s", strerror(errno));
  if (ioctl(vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0) die("KVM_SET_TSS_ADDR: %s", strerror(errno));
  struct kvm_userspace_memory_region slot = { .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem };
  xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot, "KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU: %s", strerror(errno));
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < (int)sizeof(struct kvm_run)) die("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
  struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run: %s", strerror(errno));

  int nent = 256;
  struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + nent * sizeof(struct kvm_cpuid_entry2));
  if (!cpuid) die("out of memory");
  cpuid->nent = nent;
  xioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid, "KVM_GET_SUPPORTED_CPUID");
  xioctl(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");

  struct kvm_sregs sregs;
  xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  sregs.cs = seg(0x08, 0xb, 1);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg(0x10, 0x3, 0);
  sregs.gdt.base = GDT;
  sregs.gdt.limit = 0x17;
  sregs.cr0 = 0x80000011; /* PG | ET | PE */
  sregs.cr3 = PML4;
  sregs.cr4 = 0x20; /* PAE */
  sregs.efer = 0x500; /* LME | LMA */
  xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rip = LOAD;
  regs.rsp = STACK_TOP;
  regs.rflags = 2;
  xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

  uint64_t io_exits = 0;
  uint64_t t0 = now_ns(), t1 = 0;
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      die("KVM_RUN: %s", strerror(errno));
    }
    if (run->exit_reason == KVM_EXIT_IO) {
      io_exits++; /* 0xE9 (debug console) output is discarded; any other port is not expected */
      if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != 0xe9) die("unexpected I/O exit: port 0x%x", run->io.port);
      continue;
    }
    if (run->exit_reason == KVM_EXIT_HLT) { t1 = now_ns(); break; }
    if (run->exit_reason == KVM_EXIT_INTR) continue;
    die("unexpected exit reason %u", run->exit_reason);
  }
  printf("{\"iterations\":%llu,\"ioExits\":%llu,\"ns\":%llu}\n", iterations, (unsigned long long)io_exits, (unsigned long long)(t1 - t0));
  return 0;
}
