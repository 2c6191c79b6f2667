; 06-vmentry-vmcs: what VM entry loads from the VMCS, and what a VM exit saves.
;
; VMLAUNCH/VMRESUME check the VMCS (controls, host state, guest state: SDM vol. 3C §27.2, §27.3.1)
; and then load the processor from the guest-state area (§27.3.2): CR0, CR3, CR4, DR7, RSP, RIP,
; RFLAGS, every segment register (selector, base, limit, access rights), GDTR, IDTR, LDTR, TR,
; IA32_EFER and IA32_PAT (the "load" entry controls), activity and interruptibility state.
; A VM exit saves the same fields back (§28.3) and loads the host state (§28.5). General-purpose
; registers other than RSP are in NO VMCS field: they stay in the processor, and the hypervisor
; saves and restores them itself (KVM does it in vmx_vmenter/vmx_vmexit).
;
; This guest prints the state entry gave it, then shows that its registers survive a VM exit.
; The second launch configuration breaks one guest-state field so that entry itself fails.

        bits 64
        section .text
%include "print.inc"

        section .text
        global _start
_start:
        lea r12, [rel _start]           ; RIP at entry = GUEST_RIP (the ELF entry point)
        mov r13, rsp                    ; GUEST_RSP
        pushfq
        pop r14                         ; GUEST_RFLAGS
        PRINTLN "06-vmentry-vmcs: the state VM entry loaded from the VMCS guest-state area"
        PRINT "RIP    = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINT "  RSP = "
        mov rax, r13
        mov ecx, 8
        call print_hex
        PRINT "  RFLAGS = "
        mov rax, r14
        mov ecx, 8
        call print_hex
        PRINTLN "  (bit 1 is reserved and always 1)"

        PRINT "CS     = "
        mov ax, cs
        movzx eax, ax
        mov ecx, 4
        call print_hex
        PRINT "  SS = "
        mov ax, ss
        movzx eax, ax
        mov ecx, 4
        call print_hex
        PRINT "  DS = "
        mov ax, ds
        movzx eax, ax
        mov ecx, 4
        call print_hex
        PRINT "  TR = "
        str ax                          ; no exit (descriptor-table exiting is off)
        movzx eax, ax
        mov ecx, 4
        call print_hex
        call print_nl

        mov rax, cr0
        mov r12, rax
        mov rax, cr3
        mov r13, rax
        mov rax, cr4
        mov r14, rax
        PRINT "CR0    = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINT "  CR3 = "
        mov rax, r13
        mov ecx, 8
        call print_hex
        PRINT "  CR4 = "
        mov rax, r14
        mov ecx, 8
        call print_hex
        PRINTLN "  (CR0/CR4 through the read shadows)"

        mov ecx, 0xc0000080
        rdmsr                           ; IA32_EFER: no exit (MSR bitmap bit clear); loaded at entry
        mov r12, rax
        sgdt [rel gdtr_seen]            ; no exit
        sidt [rel idtr_seen]
        PRINT "EFER   = "
        mov rax, r12
        mov ecx, 4
        call print_hex
        PRINT "  (SCE, LME, LMA, NXE)  GDTR = "
        mov rax, [rel gdtr_seen + 2]
        mov ecx, 8
        call print_hex
        mov al, '/'
        call print_char
        movzx eax, word [rel gdtr_seen]
        mov ecx, 4
        call print_hex
        PRINT "  IDTR limit = "
        movzx eax, word [rel idtr_seen]
        mov ecx, 4
        call print_hex
        call print_nl

; ---- Registers across a VM exit: fill R8..R15 with a pattern, CPUID (an exit: the processor saves
;      the guest-state area, loads the host state; the hypervisor handles it and VMRESUMEs), compare.
        mov r8, 0x0808080808080808
        mov r9, 0x0909090909090909
        mov r10, 0x1010101010101010
        mov r11, 0x1111111111111111
        mov r12, 0x1212121212121212
        mov r13, 0x1313131313131313
        mov r14, 0x1414141414141414
        mov r15, 0x1515151515151515
        xor eax, eax
        cpuid                           ; <- VM exit (CPUID), then VMRESUME
        xor ebx, ebx                    ; rbx = number of registers that changed
        mov rax, 0x0808080808080808
        cmp r8, rax
        setne cl
        add bl, cl
        mov rax, 0x0909090909090909
        cmp r9, rax
        setne cl
        add bl, cl
        mov rax, 0x1010101010101010
        cmp r10, rax
        setne cl
        add bl, cl
        mov rax, 0x1111111111111111
        cmp r11, rax
        setne cl
        add bl, cl
        mov rax, 0x1212121212121212
        cmp r12, rax
        setne cl
        add bl, cl
        mov rax, 0x1313131313131313
        cmp r13, rax
        setne cl
        add bl, cl
        mov rax, 0x1414141414141414
        cmp r14, rax
        setne cl
        add bl, cl
        mov rax, 0x1515151515151515
        cmp r15, rax
        setne cl
        add bl, cl
        PRINT "after a CPUID exit and VMRESUME: R8..R15 changed: "
        mov rax, rbx
        call print_dec
        PRINTLN " of 8 (the hypervisor kept them; only RAX..RDX hold CPUID's answer)"

        cli
        hlt                             ; <- VM exit (HLT): the run ends

        section .bss
gdtr_seen: resb 10                      ; SGDT/SIDT store a 2-byte limit and an 8-byte base
idtr_seen: resb 10
