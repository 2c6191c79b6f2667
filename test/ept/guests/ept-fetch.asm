; EPT violation guest: jumps to guest-physical 0x400000, which the test's EPT maps without execute permission.
bits 64
org 0x100000
    mov rax, 0x400000
    jmp rax
