; 11-virtio: the entry point. The machine starts this ELF64 in long mode (4 GiB identity-mapped,
; including the MMIO hole, RSP = 0x80000); all we do is call main() and stop when it returns.
        bits 64
        section .text
        global _start
        extern main
_start:
        call main
        cli
        hlt                             ; HLT with IF = 0 ends the run
