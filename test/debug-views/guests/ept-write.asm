; Views guest: writes guest-physical 0x400010 (identity-mapped; the test makes its EPT leaf read-only), then loops.
bits 64
org 0x100000
start:
    mov qword [0x400010], 0x5a5a
.loop:
    out 0x80, al
    jmp .loop
