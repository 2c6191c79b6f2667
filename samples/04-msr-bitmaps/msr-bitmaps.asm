; 04-msr-bitmaps: which RDMSR/WRMSR exit is decided by the MSR bitmaps, and a #GP the guest handles itself.
;
; With "use MSR bitmaps" (primary processor-based control bit 28) the VMCS field MSR_BITMAP points to a
; 4-KiB page of four 1-KiB bitmaps (SDM vol. 3C §25.6.9): read-low (MSRs 0..1FFFH), read-high
; (C0000000H..C0001FFFH), write-low, write-high. RDMSR/WRMSR exits iff the MSR's bit is 1, or the MSR
; is outside both ranges: those always exit (SDM vol. 3C §26.1.3). vmscope's hypervisor sets the bits of
; the MSRs it emulates (HYPERVISOR_MSR_EXITS in emulator/vmm/handlers.ts: TSC, APIC base, feature
; control, MISC_ENABLE, TSC deadline, the VMX capability MSRs, x2APIC); every other MSR in range passes
; through to the processor, which executes RDMSR/WRMSR itself, without the hypervisor.
;
; A #GP can come from two places: the processor (an MSR it does not implement, no exit) or the
; hypervisor (it injects #GP(0) at VM entry for an MSR it refuses). Either way the guest's own IDT
; handler runs; here it notes the fault and skips the 2-byte RDMSR/WRMSR (SDM vol. 3A §6.14 for the
; 64-bit IDT gate format).

        bits 64
        section .text
%include "print.inc"

        section .text
        global _start
_start:
        PRINTLN "04-msr-bitmaps: RDMSR/WRMSR, exits and faults"
        call setup_idt

        mov ecx, 0x1b
        lea rsi, [rel n_apicbase]
        call show_rdmsr                 ; bitmap bit set: exits, the hypervisor answers (its local APIC)
        mov ecx, 0x3a
        lea rsi, [rel n_featctl]
        call show_rdmsr                 ; exits: locked, VMX disabled (bit 0 = lock, bit 2 = VMX outside SMX)
        mov ecx, 0xc0000080
        lea rsi, [rel n_efer]
        call show_rdmsr                 ; bit clear: no exit, the processor reads its own EFER (LMA, LME, NXE, SCE)

; ---- WRMSR of a pass-through MSR, read back: both without an exit.
        mov ecx, 0xc0000102             ; IA32_KERNEL_GS_BASE (the value SWAPGS exchanges with GS.base)
        mov eax, 0x12345678
        mov edx, 0xffff8000             ; a canonical address (a non-canonical one would #GP)
        call try_wrmsr
        lea rsi, [rel n_kgs]
        call show_rdmsr

; ---- WRMSR IA32_TSC exits: the hypervisor turns it into the VMCS's TSC_OFFSET (SDM vol. 3C §26.3),
;      so the guest's clock jumps while the host's does not. RDTSC itself does not exit.
        mov ecx, 0x10
        xor eax, eax
        mov edx, 0x10                   ; TSC := 0x10_0000_0000
        call try_wrmsr
        rdtsc                           ; no exit: the processor adds TSC_OFFSET
        shl rdx, 32
        or rax, rdx
        mov r12, rax
        PRINT "WRMSR 0x10 IA32_TSC := 0x1000000000, then RDTSC = "
        mov rax, r12
        mov ecx, 16
        call print_hex
        call print_nl

; ---- Faults.
        mov ecx, 0x480
        lea rsi, [rel n_vmxbasic]
        call show_rdmsr                 ; exits; the hypervisor injects #GP: VMX is not offered to guests
        mov ecx, 0x1234
        lea rsi, [rel n_unknown]
        call show_rdmsr                 ; in range, bit clear: no exit; the processor itself raises #GP
        mov ecx, 0x4b564d00
        lea rsi, [rel n_outside]
        call show_rdmsr                 ; outside both bitmap ranges: always exits; the hypervisor says #GP
        PRINT "#GP faults caught by the guest's IDT: "
        mov rax, [rel gp_count]
        call print_dec
        call print_nl

        cli
        hlt                             ; <- VM exit (HLT): the run ends

; show_rdmsr: RDMSR of MSR ECX and print "RDMSR 0x<ecx> <label at RSI> = <value>" or "... -> #GP".
show_rdmsr:
        push rcx
        PRINT "RDMSR "
        mov eax, ecx
        mov ecx, 8
        call print_hex
        mov al, ' '
        call print_char
        call print_str
        pop rcx
        call try_rdmsr
        test r8, r8
        jnz .fault
        shl rdx, 32
        or rax, rdx
        PRINT " = "
        mov ecx, 16
        call print_hex
        jmp print_nl
.fault:
        PRINT " -> #GP(0), handled by the guest"
        jmp print_nl

; try_rdmsr/try_wrmsr: R8 = 1 if the instruction faulted (the #GP handler skipped it), else 0.
try_rdmsr:
        mov qword [rel gp_flag], 0
        xor eax, eax
        xor edx, edx
        rdmsr                           ; <- VM exit (MSR_READ) only if the MSR bitmap says so
        mov r8, [rel gp_flag]
        ret
try_wrmsr:
        mov qword [rel gp_flag], 0
        wrmsr                           ; <- VM exit (MSR_WRITE) only if the MSR bitmap says so
        mov r8, [rel gp_flag]
        ret

; ---- The guest's IDT: one 64-bit interrupt gate, vector 13 (#GP), in a 16-entry table.
setup_idt:
        lea rax, [rel gp_handler]
        lea rdi, [rel idt + 13 * 16]
        mov [rdi], ax                   ; offset 15:0
        mov word [rdi + 2], 0x18        ; code segment selector (the start state's 64-bit CS)
        mov word [rdi + 4], 0x8e00      ; present, DPL 0, type 0xE = 64-bit interrupt gate, IST 0
        shr rax, 16
        mov [rdi + 6], ax               ; offset 31:16
        shr rax, 16
        mov [rdi + 8], eax              ; offset 63:32
        lidt [rel idtr]                 ; no exit (descriptor-table exiting is off)
        ret

gp_handler:                             ; the processor pushed: error code, RIP, CS, RFLAGS, RSP, SS
        add rsp, 8                      ; drop the error code (0 for an MSR #GP)
        add qword [rsp], 2              ; return past the faulting RDMSR/WRMSR (0F 32 / 0F 30)
        mov qword [rel gp_flag], 1
        inc qword [rel gp_count]
        iretq

        section .rodata
n_apicbase: db "IA32_APIC_BASE      ", 0
n_featctl:  db "IA32_FEATURE_CONTROL", 0
n_efer:     db "IA32_EFER           ", 0
n_kgs:      db "IA32_KERNEL_GS_BASE ", 0
n_vmxbasic: db "IA32_VMX_BASIC      ", 0
n_unknown:  db "(no such MSR)       ", 0
n_outside:  db "(outside the bitmap)", 0
        align 8
idtr:   dw 16 * 16 - 1                  ; IDTR limit: 16 gates of 16 bytes
        dq idt                          ; IDTR base (linear = physical in the identity map)

        section .bss
        alignb 16
idt:      resb 16 * 16
gp_flag:  resq 1
gp_count: resq 1
