; Echo COM1 input to the debug console until a newline, polling the 16550's line status register (LSR.DR).
bits 16
org 0x7c00
.poll:
    mov dx, 0x3fd               ; LSR
    in al, dx
    test al, 1                  ; data ready
    jz .poll
    mov dx, 0x3f8               ; RBR
    in al, dx
    out 0xe9, al
    cmp al, 10
    jne .poll
    mov al, 0
    out 0xf4, al                ; exit status 1
