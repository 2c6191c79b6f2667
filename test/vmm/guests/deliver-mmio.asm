; An IDT outside RAM: INT 0x30's gate read is an EPT violation during event delivery (unassigned guest-physical space).
; 32-bit protected mode without paging, flat at 0x100000.
bits 32
org 0x100000

start:
    lidt [idtr]
    int 0x30                    ; the gate is read from 0xfed00180: not RAM
    mov al, 'X'                 ; not reached
    out 0xe9, al
    hlt

idtr:
    dw 0x7ff
    dd 0xfed00000
