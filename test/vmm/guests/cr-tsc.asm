; Control-register and TSC instructions a hypervisor may intercept: MOV to/from CR3, CLTS, LMSW, RDTSC, RDTSCP.
; Long mode, flat at 0x100000. Prints one hex line per observation to port 0xE9, then exits through port 0xF4.
bits 64
org 0x100000

start:
    mov rax, cr3
    mov r12, rax
    call print_hex              ; 1: CR3 as the guest sees it
    ; Copy the top-level table and switch to the copy (MOV to CR3).
    mov rsi, r12
    and rsi, ~0xfff
    mov rdi, 0x300000
    mov rcx, 512
    rep movsq
    mov rax, 0x300000
    mov cr3, rax
    mov rax, cr3
    call print_hex              ; 2: 0x300000
    mov rax, [start]            ; memory still reads through the copy
    call print_hex              ; 3: the first code bytes
    mov cr3, r12                ; back
    mov rax, cr3
    call print_hex              ; 4: the original CR3
    ; CR0.TS: set with MOV, clear with CLTS, set with LMSW.
    mov rax, cr0
    or rax, 8
    mov cr0, rax
    mov rax, cr0
    call print_hex              ; 5: TS set
    clts
    mov rax, cr0
    call print_hex              ; 6: TS clear
    smsw ax
    or ax, 8
    lmsw ax
    mov rax, cr0
    call print_hex              ; 7: TS set again, PE kept
    xor eax, eax
    lmsw ax                     ; LMSW cannot clear PE
    mov rax, cr0
    call print_hex              ; 8: PE still 1, MP/EM/TS clear
    ; RDTSC: two reads a known number of instructions apart.
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r13, rax
    nop
    nop
    rdtsc
    shl rdx, 32
    or rax, rdx
    sub rax, r13
    call print_hex              ; 9: the TSC delta
    mov ecx, 0xc0000103         ; IA32_TSC_AUX
    mov eax, 0x1234
    xor edx, edx
    wrmsr
    rdtscp
    mov rax, rcx
    call print_hex              ; 10: TSC_AUX through RDTSCP
    mov al, 0
    out 0xf4, al
    hlt

; Print RAX as 16 hex digits and a newline to port 0xE9.
print_hex:
    mov rbx, rax
    mov ecx, 16
.digit:
    rol rbx, 4
    mov eax, ebx
    and eax, 15
    mov al, [hexdigits + rax]
    out 0xe9, al
    dec ecx
    jnz .digit
    mov al, 10
    out 0xe9, al
    ret

hexdigits: db "0123456789abcdef"
