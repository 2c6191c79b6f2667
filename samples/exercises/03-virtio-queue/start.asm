; Exercise 03-virtio-queue: the entry point (given). The machine starts this ELF64 in long mode (4 GiB
; identity-mapped, including the MMIO hole, RSP = 0x80000); call main() and exit with its return value.
        bits 64
        section .text
        global _start
        extern main
_start:
        call main
        out 0xF4, al                    ; isa-debug-exit: exit code (main's return value << 1) | 1
        cli
        hlt
