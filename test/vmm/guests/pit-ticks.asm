; PIT + PIC timer interrupts in real mode: count 10 ticks at 1 kHz while halting, print, exit with the count.
bits 16
org 0x7c00
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x20*4], timer            ; IVT vector 0x20 (IRQ0 after remapping)
    mov word [0x20*4+2], 0
    mov al, 0x11                        ; ICW1: edge, cascade, ICW4 needed
    out 0x20, al
    out 0xa0, al
    mov al, 0x20                        ; ICW2: master vectors 0x20-0x27
    out 0x21, al
    mov al, 0x28                        ; slave 0x28-0x2f
    out 0xa1, al
    mov al, 4                           ; ICW3: slave on IR2
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1                           ; ICW4: 8086 mode
    out 0x21, al
    out 0xa1, al
    mov al, 0xfe                        ; unmask IRQ0 only
    out 0x21, al
    mov al, 0xff
    out 0xa1, al
    mov al, 0x34                        ; PIT channel 0, lobyte/hibyte, mode 2
    out 0x43, al
    mov ax, 1193                        ; 1.193182 MHz / 1193 = 1000.15 Hz
    out 0x40, al
    mov al, ah
    out 0x40, al
    sti
.wait:
    hlt
    cmp word [ticks], 10
    jb .wait
    cli
    mov si, msg
.print:
    lodsb
    test al, al
    jz .done
    out 0xe9, al
    jmp .print
.done:
    mov al, [ticks]
    out 0xf4, al                        ; exit status (10 << 1) | 1 = 21
timer:
    inc word [ticks]
    push ax
    mov al, 0x20                        ; non-specific EOI
    out 0x20, al
    pop ax
    iret
ticks: dw 0
msg: db "ten ticks", 10, 0
