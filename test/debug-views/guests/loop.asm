; Views guest: known register values, then a loop of port writes (each an IO_INSTRUCTION exit) that keeps them.
bits 64
org 0x100000
start:
    mov rax, 0x1111222233334444
    mov rbx, 0x5555666677778888
    mov rcx, 0x0123456789abcdef
    mov rdx, 0xfedcba9876543210
    mov rsi, 0x00000000deadbeef
    mov rdi, 0x00000000cafef00d
    mov rbp, 0x0000000000077000
    mov r8,  0x0808080808080808
    mov r9,  0x0909090909090909
    mov r10, 0x1010101010101010
    mov r11, 0x1111111111111111
    mov r12, 0x1212121212121212
    mov r13, 0x1313131313131313
    mov r14, 0x1414141414141414
    xor r15, r15
.loop:
    out 0x80, al            ; POST port: an I/O exit the hypervisor completes
    inc r15
    jmp .loop
