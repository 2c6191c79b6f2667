; Long-mode exception guest (Multiboot, linked with mbboot64.asm): #DE #UD #BP #GP #PF(3 kinds), IST, ring 3; DF=1: #GP through a not-present gate → #DF; TRIPLE=1: no IDT → triple fault.
%include "common.inc"
        bits 64
        default rel
%ifndef DF
  %define DF 0
%endif
%ifndef TRIPLE
  %define TRIPLE 0
%endif

        extern boot_pml4, boot_pdpt, boot_pd
        global kmain64
        global fault_de, fault_ud, fault_bp, fault_gp, fault_gp0, fault_gpidt, fault_pf_np, fault_pf_ro, fault_pf_user, fault_ist
        global ist1_top, ist1_bottom, user_code

NP_ADDR equ 0x20000123          ; in a 2 MiB page whose PDE we clear (not present)
RO_ADDR equ 0x20200ABC          ; in a 2 MiB page mapped read-only
SV_ADDR equ 0x00200010          ; a supervisor page that ring 3 reads

; arm: the handler resumes at the label given (with the current RSP), after printing.
%macro arm 1
        lea rax, [%1]
        mov [resume_rip], rax
        mov [resume_rsp], rsp
%endmacro

        section .text
kmain64:
        puts `exceptions, long mode\n`
%if TRIPLE
        lidt [idt_null]         ; IDT limit 0: every vector is beyond it (SDM vol. 3A §6.10)
        puts `triple fault next\n`
        ud2                     ; #UD → #GP (vector 6 beyond limit) → #DF → shutdown (§6.15, interrupt 8)
        puts `still running\n`
        ret
%else
        ; GDT with ring-3 segments and a 64-bit TSS (SDM vol. 3A §8.7, fig. 8-11)
        lea rax, [tss]
        mov [gdt + 0x28 + 2], ax
        shr rax, 16
        mov [gdt + 0x28 + 4], al
        mov [gdt + 0x28 + 7], ah
        shr rax, 16
        mov [gdt + 0x28 + 8], eax
        lgdt [gdt_desc]
        push 0x08
        lea rax, [.cs]
        push rax
        retfq
.cs:    mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov ax, 0x28
        ltr ax
        lea rax, [rsp0_top]
        mov [tss + 4], rax      ; RSP0: stack for ring 3 → ring 0 (§6.14.4)
        lea rax, [ist1_top]
        mov [tss + 0x24], rax   ; IST1

        ; IDT: 32 interrupt gates (type 0xE, P=1, DPL 0), SDM vol. 3A §6.14.1 fig. 6-8
        lea rsi, [stubs]
        lea rdi, [idt]
        xor ecx, ecx
.gate:  mov rax, rsi
        mov [rdi], ax
        mov word [rdi + 2], 0x08
        mov word [rdi + 4], 0x8E00
        shr rax, 16
        mov [rdi + 6], ax
        shr rax, 16
        mov [rdi + 8], eax
        mov dword [rdi + 12], 0
        add rsi, STUB_SIZE
        add rdi, 16
        inc ecx
        cmp ecx, 32
        jne .gate
        lidt [idt_desc]

  %if DF
        mov byte [idt + 13*16 + 5], 0x0E ; #GP gate not present
        mov byte [idt + 8*16 + 4], 1     ; #DF on IST1
        puts `#GP through a not-present gate\n`
        arm .never
        mov ax, 0x4B
        mov ds, ax              ; #GP(0x48) → #NP(13*8+2) while delivering it → #DF (SDM vol. 3A table 6-5)
.never: puts `no double fault\n`
        mov eax, 1
        ret
  %else
        arm r_de
        xor edx, edx
        xor ecx, ecx
        mov eax, 1
fault_de:
        div ecx                 ; #DE, fault: saved RIP = the DIV
r_de:
        arm r_ud
fault_ud:
        ud2                     ; #UD
r_ud:
        arm r_bp
fault_bp:
        int3                    ; #BP, trap: saved RIP = the next instruction
r_bp:
        arm r_gp
        mov ax, 0x4B            ; index 9 > GDT limit: #GP(selector), RPL bits not in the error code (§6.13)
fault_gp:
        mov ds, ax
r_gp:
        arm r_gp0
        mov rax, 0x8000000000000000
fault_gp0:
        mov rax, [rax]          ; non-canonical address: #GP(0)
r_gp0:
        arm r_gpidt
fault_gpidt:
        int 0x40                ; vector beyond the IDT limit: #GP(vector*8 + 2), the IDT bit set (§6.13)
r_gpidt:
        ; paging faults (SDM vol. 3A §4.7): CR0.WP=1, one 2 MiB page not present, one read-only
        mov rax, cr0
        or eax, 1 << 16
        mov cr0, rax
        mov qword [boot_pd + 8 * (NP_ADDR >> 21)], 0
        mov qword [boot_pd + 8 * (RO_ADDR >> 21)], (RO_ADDR & ~0x1FFFFF) | 0x81 ; P|PS, R/W=0
        mov rax, NP_ADDR
        invlpg [rax]
        mov rax, RO_ADDR
        invlpg [rax]
        arm r_np
        mov rax, NP_ADDR
fault_pf_np:
        mov ebx, [rax]          ; read, not present: error 0
r_np:
        arm r_ro
        mov rax, RO_ADDR
fault_pf_ro:
        mov dword [rax], 1      ; supervisor write, read-only, WP=1: error P|W = 3
r_ro:
        ; ring 3: U/S=1 on the PML4E, PDPTE and the first PDE (the kernel's 2 MiB page), the next PDE stays supervisor
        or qword [boot_pml4], 4
        or qword [boot_pdpt], 4
        or qword [boot_pd], 4
        mov rax, cr3
        mov cr3, rax
        arm r_user
        push 0x23               ; SS = user data | RPL 3
        lea rax, [user_stack_top]
        push rax
        push 0x002              ; RFLAGS (IF=0, IOPL=0)
        push 0x1B               ; CS = user code | RPL 3
        lea rax, [user_code]
        push rax
        iretq
r_user:
        ; IST: a hardware exception through a gate with IST=1 runs on the IST1 stack (§6.14.5)
        mov byte [idt + 3*16 + 4], 1
        arm r_ist
fault_ist:
        int3
r_ist:
        puts `all exceptions handled\n`
        xor eax, eax
        ret
  %endif
%endif

user_code:                      ; ring 3
        mov eax, [abs SV_ADDR]      ; user read of a supervisor page: error P|U = 5
fault_pf_user equ user_code
        jmp $

; ---- handlers ----
; Every stub is STUB_SIZE bytes: push a 0 error code where the CPU pushes none, push the vector.
%macro stub 1
  %%s:
  %if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17 || %1 == 21
        nop
        nop
  %else
        push 0
  %endif
        push %1
        jmp near exc_common
        times STUB_SIZE - ($ - %%s) int3
%endmacro
STUB_SIZE equ 16
        align 16
stubs:
%assign v 0
%rep 32
        stub v
%assign v v+1
%endrep

; Frame: [rsp]=vector [8]=error [16]=RIP [24]=CS [32]=RFLAGS [40]=RSP [48]=SS (SDM vol. 3A §6.14.2 fig. 6-9)
exc_common:
        mov rbx, rsp            ; rbx = frame
        puts "vector="
        mov rax, [rbx]
        mov ecx, 2
        call print_hex
        puts " error="
        mov rax, [rbx + 8]
        mov ecx, 8
        call print_hex
        cmp qword [rbx], 8
        je .df
        puts " cr2="
        mov rax, cr2
        mov ecx, 16
        call print_hex
        puts " rip="
        mov rax, [rbx + 16]
        mov ecx, 16
        call print_hex
        puts " cs="
        mov rax, [rbx + 24]
        mov ecx, 4
        call print_hex
        lea rax, [rbx + 16]     ; where the CPU pushed the frame
        lea rcx, [ist1_bottom]
        cmp rax, rcx
        jb .nl
        lea rcx, [ist1_top]
        cmp rax, rcx
        jae .nl
        puts " on IST1 frame="
        lea rax, [rbx + 16]
        mov ecx, 16
        call print_hex
.nl:    putc 10
        ; resume where the test said, in ring 0 (rewrite the 64-bit frame: IRETQ always pops SS:RSP)
        mov rax, [resume_rip]
        mov [rbx + 16], rax
        mov qword [rbx + 24], 0x08
        mov qword [rbx + 32], 0x002
        mov rax, [resume_rsp]
        mov [rbx + 40], rax
        mov qword [rbx + 48], 0x10
        add rsp, 16
        iretq
.df:    puts ` double fault\n`  ; saved RIP of #DF is undefined (§6.15, interrupt 8): not printed
        exit_with 0x08
        cli
        hlt

; print_hex: RAX in ECX hex digits (clobbers RAX, RCX, RDX)
print_hex:
        mov rdx, rax
.d:     mov rax, rdx
        lea r8d, [rcx * 4 - 4]
        xchg rcx, r8
        shr rax, cl
        xchg rcx, r8
        and eax, 15
        cmp al, 10
        jb .dig
        add al, 'a' - '0' - 10
.dig:   add al, '0'
        out DEBUGCON, al
        loop .d
        ret

        section .data
        align 16
gdt:    dq 0
        dq 0x00AF9A000000FFFF   ; 0x08 code64 DPL0
        dq 0x00CF92000000FFFF   ; 0x10 data DPL0
        dq 0x00AFFA000000FFFF   ; 0x18 code64 DPL3
        dq 0x00CFF2000000FFFF   ; 0x20 data DPL3
        dq 0x0000890000000067   ; 0x28 64-bit TSS (available), limit 0x67, base filled in
        dq 0
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dq gdt
idt_desc:
        dw 32 * 16 - 1
        dq idt
idt_null:
        dw 0
        dq 0
resume_rip: dq 0
resume_rsp: dq 0

        section .bss
        alignb 16
tss:    resb 0x68
        alignb 16
idt:    resb 32 * 16
        alignb 16
ist1_bottom:
        resb 4096
ist1_top:
        resb 1024
user_stack_top:
        resb 4096
rsp0_top:
