; 05-control-registers: CR0/CR4 guest/host masks and read shadows, and CR3-load exiting.
;
; For CR0 and CR4 the VMCS has a guest/host mask and a read shadow (SDM vol. 3C §25.6.6):
;   - a bit set in the mask is OWNED by the hypervisor. MOV from CR0/CR4 returns, for owned bits,
;     the read shadow's value, and for the others the real register (§26.3 "Changes to instruction
;     behavior in VMX non-root operation"). Reading a control register never exits.
;   - MOV to CR0/CR4 exits (reason 28, CR_ACCESS) iff it would set an owned bit to a value
;     different from the read shadow (§26.1.3). Changing only guest-owned bits does not exit.
; vmscope's hypervisor owns CR0.NE and CR4.VMXE (both must be 1 in VMX operation); this sample's
; launch.json also gives it CR0.TS (mask 0x28). For CR3 there is no mask: "CR3-load exiting"
; (primary control bit 15) makes MOV to CR3 exit, except for values in the CR3-target list
; (CR3_TARGET_COUNT, CR3_TARGET_VALUE0..3; §25.6.7). launch.json turns it on with one target:
; 0xA000, the start state's PML4.

        bits 64
        section .text
%include "print.inc"

        section .text
        global _start
_start:
        PRINTLN "05-control-registers: what the guest sees, what exits"
        call setup_idt

; ---- 1. Reads: never exit; owned bits come from the read shadow.
        mov rax, cr0                    ; no exit
        mov r12, rax
        PRINT "MOV from CR0 = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINTLN "  (PG PE ... NE=1 ET=1; NE, TS from the read shadow)"
        mov rax, cr4                    ; no exit
        mov r12, rax
        PRINT "MOV from CR4 = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINT "  VMXE (bit 13) = "
        bt r12, 13
        setc al
        add al, '0'
        call print_char
        PRINTLN ": the real CR4 has it set, the shadow hides it"

; ---- 2. A write that changes only a guest-owned bit (CR0.WP, bit 16): no exit.
        mov rax, cr0
        btr rax, 16
        mov cr0, rax                    ; no exit: WP is not in CR0_GUEST_HOST_MASK
        mov rax, cr0
        mov r12, rax
        bts rax, 16
        mov cr0, rax                    ; no exit: WP back on
        PRINT "CR0.WP cleared: CR0 = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINTLN "  (no VM exit: a guest-owned bit)"

; ---- 3. A write that changes an owned bit (CR0.TS, bit 3): exits. The handler updates the read
;         shadow and GUEST_CR0 in the VMCS, then resumes the guest after the MOV.
        mov rax, cr0
        bts rax, 3
        mov cr0, rax                    ; <- VM exit (CR_ACCESS): mov-to cr0, TS differs from the shadow
        mov rax, cr0
        mov r12, rax
        PRINT "CR0.TS set:     CR0 = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        PRINTLN "  (VM exit CR_ACCESS: the hypervisor emulated it)"
        mov rax, cr0
        btr rax, 3
        mov cr0, rax                    ; <- VM exit (CR_ACCESS) again: TS back to 0
        mov rax, cr0
        mov r12, rax
        PRINT "CR0.TS cleared: CR0 = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        call print_nl

; ---- 4. Setting CR4.VMXE (owned): exits, and this hypervisor refuses it with #GP (no nested VMX).
        mov qword [rel gp_flag], 0
        mov rax, cr4
        bts rax, 13
        mov cr4, rax                    ; <- VM exit (CR_ACCESS), then #GP injected at VM entry
        PRINT "MOV to CR4 with VMXE = 1: "
        cmp qword [rel gp_flag], 0
        je .no_gp
        PRINTLN "#GP(0), caught by the guest's IDT (the hypervisor said no)"
        jmp .cr3
.no_gp:
        PRINTLN "accepted"

; ---- 5. CR3. Reading it does not exit (CR3-store exiting is off). Reloading the same value (the
;         classic "flush the TLB" idiom) would exit with CR3-load exiting on, but 0xA000 is in
;         the CR3-target list, so the processor lets it through without an exit.
.cr3:
        mov rax, cr3                    ; no exit
        mov r12, rax
        PRINT "MOV from CR3 = "
        mov rax, r12
        mov ecx, 8
        call print_hex
        call print_nl
        mov cr3, r12                    ; no exit if 0xA000 is a CR3-target value; else VM exit (CR_ACCESS)
        PRINTLN "MOV to CR3 (same value): done without a VM exit (CR3_TARGET_VALUE0 matches)"

        cli
        hlt                             ; <- VM exit (HLT): the run ends

; ---- The guest's IDT: one 64-bit interrupt gate, vector 13 (#GP) (SDM vol. 3A §6.14.1).
setup_idt:
        lea rax, [rel gp_handler]
        lea rdi, [rel idt + 13 * 16]
        mov [rdi], ax                   ; offset 15:0
        mov word [rdi + 2], 0x18        ; the start state's 64-bit code segment
        mov word [rdi + 4], 0x8e00      ; present, DPL 0, 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax               ; offset 31:16
        shr rax, 16
        mov [rdi + 8], eax              ; offset 63:32
        lidt [rel idtr]
        ret

; #GP from an injected event: RIP points AT the faulting MOV to CR4 (0F 22 E0, 3 bytes): skip it.
gp_handler:
        add rsp, 8                      ; error code
        add qword [rsp], 3              ; past "mov cr4, rax"
        mov qword [rel gp_flag], 1
        iretq

        section .rodata
        align 8
idtr:   dw 16 * 16 - 1
        dq idt

        section .bss
        alignb 16
idt:     resb 16 * 16
gp_flag: resq 1
