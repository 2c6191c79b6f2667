; Exercise 08-mmio-register: the guest (given; do not edit). It uses a small device at guest-physical
; 0xE0000000, which is not RAM: EPT does not map it, so every access is an EPT violation (exit reason 48,
; SDM vol. 3C §29.3.3) that your handler must emulate. The device's registers (32-bit):
;   0xE0000000  ID       read-only, reads 0x564D5343 ("VMSC"); writes are ignored
;   0xE0000004  SCRATCH  read/write: reads return the last value written (initially 0)
; The guest accesses them with exactly two instruction forms, both 2 bytes long:
;   8b 03   mov eax, [rbx]      (read: the value goes to EAX)
;   89 03   mov [rbx], eax      (write: the value comes from EAX)
; The guest's page tables identity-map the first 4 GiB (README "Writing your own guest").

MMIO_BASE equ 0xE0000000

        bits 64
        section .text
        global _start
_start:
        mov ebx, MMIO_BASE              ; ID register
        mov eax, [rbx]                  ; <- EPT violation: read
        lea rsi, [rel s_id]
        call say
        mov eax, 0x12345678
        mov [rbx], eax                  ; <- EPT violation: write (ignored by a read-only register)
        mov eax, [rbx]
        call say
        add ebx, 4                      ; SCRATCH register
        mov eax, [rbx]                  ; initially 0
        lea rsi, [rel s_scratch]
        call say
        mov eax, 0xCAFEF00D
        mov [rbx], eax
        xor eax, eax
        mov eax, [rbx]                  ; reads back 0xCAFEF00D
        mov r12d, eax                   ; kept for the register check
        call say
        xor eax, eax
        out 0xF4, al                    ; isa-debug-exit: exit code 1
        cli
        hlt
%include "print.inc"

        section .data
s_id:      db "ID: ", 0
s_scratch: db "SCRATCH: ", 0
