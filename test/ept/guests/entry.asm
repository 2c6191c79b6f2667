; VM-entry test guest: prints two characters (two I/O exits) and leaves through the exit device.
bits 64
org 0x100000
    mov al, 'o'
    out 0xe9, al
    mov al, 'k'
    out 0xe9, al
    mov al, 0x15
    out 0xf4, al
