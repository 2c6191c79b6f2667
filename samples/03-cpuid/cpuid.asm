; 03-cpuid: CPUID virtualization. The guest asks the processor who it is; the hypervisor answers.
;
; CPUID causes a VM exit unconditionally in VMX non-root operation (SDM vol. 3C §26.1.2). The
; hypervisor's handler (emulator/vmm/handlers.ts, cpuid) takes the leaf in EAX (sub-leaf in ECX),
; computes EAX..EDX and advances RIP. So the hypervisor decides what the guest sees:
;   - the processor model's own leaves (vendor, family, feature bits: SDM vol. 2A, CPUID),
;   - plus CPUID.1:ECX bit 31, "hypervisor present" (always 0 on bare metal),
;   - plus the hypervisor leaves 0x40000000.. (Linux's KVM_CPUID_SIGNATURE convention):
;     40000000H returns the highest hypervisor leaf in EAX and a 12-byte signature in EBX, ECX, EDX;
;     40000001H returns the hypervisor's feature bits (here bit 0: the VMCALL hypercalls).
;   - and it hides what it does not offer: VMX (CPUID.1:ECX bit 5) is 0, so no nested VT-x.
; Some bits follow guest state: CPUID.1:ECX bit 27 (OSXSAVE) mirrors the guest's CR4.OSXSAVE.

        bits 64
        section .text
%include "print.inc"

        section .text
        global _start
_start:
        PRINTLN "03-cpuid: what the hypervisor tells the guest"

; ---- Leaf 0: highest basic leaf (EAX) and vendor string (EBX, EDX, ECX).
        xor eax, eax
        cpuid                           ; <- VM exit (CPUID), leaf 0
        mov r12, rax
        mov [rel str12], ebx
        mov [rel str12 + 4], edx
        mov [rel str12 + 8], ecx
        PRINT "CPUID.0:         max basic leaf "
        mov rax, r12
        mov ecx, 2
        call print_hex
        PRINT ", vendor ", '"'
        lea rsi, [rel str12]
        call print_str
        PRINTLN '"'

; ---- Leaf 1: version (EAX) and feature flags (ECX, EDX; SDM vol. 2A tables 3-10 and 3-11).
        mov eax, 1
        cpuid                           ; <- VM exit (CPUID), leaf 1
        mov r12, rax                    ; EAX: stepping 3:0, model 7:4, family 11:8
        mov r13, rcx                    ; ECX features
        mov r14, rdx                    ; EDX features
        PRINT "CPUID.1:         EAX "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINT " (family "
        mov rax, r12
        shr eax, 8
        and eax, 15
        call print_dec
        PRINT ", model "
        mov rax, r12
        shr eax, 4
        and eax, 15
        call print_dec
        PRINT ") ECX "
        mov rax, r13
        mov ecx, 8
        call print_hex
        PRINT " EDX "
        mov rax, r14
        mov ecx, 8
        call print_hex
        call print_nl
        PRINT "  ECX[31] hypervisor present  = "
        mov rax, r13
        mov ecx, 31
        call print_bit
        PRINTLN "   <- added by the hypervisor: you are a guest"
        PRINT "  ECX[5]  VMX                 = "
        mov rax, r13
        mov ecx, 5
        call print_bit
        PRINTLN "   <- hidden: no VT-x inside the guest (no nesting)"
        PRINT "  ECX[21] x2APIC = "
        mov rax, r13
        mov ecx, 21
        call print_bit
        PRINT ", ECX[24] TSC-deadline = "
        mov rax, r13
        mov ecx, 24
        call print_bit
        PRINT ", EDX[9] APIC = "
        mov rax, r14
        mov ecx, 9
        call print_bit
        PRINTLN "   <- the platform's local APIC"
        PRINT "  EDX[0]  FPU = "
        mov rax, r14
        mov ecx, 0
        call print_bit
        PRINT " (x87 arithmetic not emulated), EDX[26] SSE2 = "
        mov rax, r14
        mov ecx, 26
        call print_bit
        PRINT ", ECX[26] XSAVE = "
        mov rax, r13
        mov ecx, 26
        call print_bit
        call print_nl
        PRINT "  ECX[27] OSXSAVE             = "
        mov rax, r13
        mov ecx, 27
        call print_bit
        PRINTLN "   <- mirrors CR4.OSXSAVE, which is 0 now"

; ---- CPUID answers are computed at each exit: set CR4.OSXSAVE (bit 18; not owned by the
;      hypervisor, so this MOV to CR4 does not exit) and ask again.
        mov rax, cr4
        bts rax, 18
        mov cr4, rax                    ; no exit: CR4_GUEST_HOST_MASK has only VMXE
        mov eax, 1
        cpuid                           ; <- VM exit (CPUID), leaf 1 again
        mov r13, rcx
        PRINT "  after CR4.OSXSAVE = 1: ECX[27] = "
        mov rax, r13
        mov ecx, 27
        call print_bit
        call print_nl

; ---- Leaf 40000000H: the hypervisor's signature. On bare metal this range is not defined.
        mov eax, 0x40000000
        cpuid                           ; <- VM exit (CPUID), leaf 0x40000000
        mov r12, rax
        mov [rel str12], ebx            ; signature: EBX, ECX, EDX (in that order, as KVM's "KVMKVMKVM")
        mov [rel str12 + 4], ecx
        mov [rel str12 + 8], edx
        PRINT "CPUID.40000000H: max hypervisor leaf "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINT ", signature ", '"'
        lea rsi, [rel str12]
        call print_str
        PRINTLN '"'

; ---- Leaf 40000001H: the hypervisor's features.
        mov eax, 0x40000001
        cpuid                           ; <- VM exit (CPUID), leaf 0x40000001
        mov r12, rax
        PRINT "CPUID.40000001H: EAX "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINT " (bit 0, hypercalls via VMCALL = "
        mov rax, r12
        xor ecx, ecx
        call print_bit
        PRINTLN ")"

; ---- Extended leaves: 80000001H (long mode, NX, SYSCALL) and the brand string 80000002H..4H.
        mov eax, 0x80000001
        cpuid                           ; <- VM exit (CPUID)
        mov r14, rdx
        PRINT "CPUID.80000001H: EDX[29] LM = "
        mov rax, r14
        mov ecx, 29
        call print_bit
        PRINT ", EDX[20] NX = "
        mov rax, r14
        mov ecx, 20
        call print_bit
        PRINT ", EDX[11] SYSCALL = "
        mov rax, r14
        mov ecx, 11
        call print_bit
        call print_nl
        lea rdi, [rel brand]
        mov r12d, 0x80000002
brand_leaf:
        mov eax, r12d
        cpuid                           ; <- VM exit (CPUID), one per 16 bytes of the brand string
        mov [rdi], eax
        mov [rdi + 4], ebx
        mov [rdi + 8], ecx
        mov [rdi + 12], edx
        add rdi, 16
        inc r12d
        cmp r12d, 0x80000004
        jbe brand_leaf
        PRINT "CPUID.80000002H..4H brand: ", '"'
        lea rsi, [rel brand]
        call print_str
        PRINTLN '"'

        cli
        hlt                             ; <- VM exit (HLT): the run ends

; print_bit: append '0' or '1', bit ECX of RAX.
print_bit:
        push rax
        bt rax, rcx
        setc al
        add al, '0'
        call print_char
        pop rax
        ret

        section .bss
str12:  resb 16                         ; 12 characters and a NUL
brand:  resb 52                         ; 48 characters and a NUL
