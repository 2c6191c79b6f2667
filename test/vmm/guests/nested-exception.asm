; An exception that exits (the exception bitmap selects #NP) during delivery of another event, for the hypervisor's
; reflection rules. 32-bit protected mode without paging, flat at 0x100000. The byte at offset 8 picks the scenario:
;   0: #GP (MOV DS with a selector past the GDT limit) whose IDT gate names a not-present code segment: #NP during
;      delivery of #GP, two contributory exceptions, so the guest gets #DF ("DF").
;   1: the same, and the #DF gate names the not-present segment too: #NP during delivery of #DF, a triple fault.
;   2: INT 0x31 whose gate names the not-present segment: #NP during delivery of a software interrupt, handled
;      serially, so the guest gets #NP ("NP").
bits 32
org 0x100000

    jmp short start
    align 8
scenario: db 0
    align 8

start:
    lgdt [gdtr]
    jmp 0x08:.flat
.flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x180000
    mov eax, df_handler
    mov ecx, 8
    mov dx, 0x08
    cmp byte [scenario], 1
    jne .df
    mov dx, 0x18                ; scenario 1: #DF's gate names the not-present segment as well
.df:
    call set_gate
    mov eax, np_handler
    mov ecx, 11
    mov dx, 0x08
    call set_gate
    mov eax, np_handler         ; never entered: the segment is not present
    mov ecx, 13
    mov dx, 0x18
    call set_gate
    mov ecx, 0x31
    call set_gate
    lidt [idtr]
    cmp byte [scenario], 2
    je .soft
    mov ax, 0x30                ; past the GDT limit (0x1f): #GP(0x30)
    mov ds, ax
    mov al, 'X'                 ; not reached
    out 0xe9, al
    hlt
.soft:
    int 0x31
    mov al, 'Y'                 ; not reached
    out 0xe9, al
    hlt

; IDT gate ECX: a 32-bit interrupt gate to EAX in code segment DX.
set_gate:
    mov [idt + ecx * 8], ax
    shr eax, 16
    mov [idt + ecx * 8 + 6], ax
    mov [idt + ecx * 8 + 2], dx
    mov byte [idt + ecx * 8 + 5], 0x8e
    ret

np_handler:
    mov al, 'N'
    out 0xe9, al
    mov al, 'P'
    out 0xe9, al
    cli
    hlt

df_handler:
    mov al, 'D'
    out 0xe9, al
    mov al, 'F'
    out 0xe9, al
    cli
    hlt

align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: code, flat
    dq 0x00cf92000000ffff       ; 0x10: data, flat
    dq 0x00cf1a000000ffff       ; 0x18: code, not present
gdtr:
    dw 0x1f
    dd gdt
idtr:
    dw 0x40 * 8 - 1
    dd idt
align 8
idt: times 0x40 * 8 db 0
