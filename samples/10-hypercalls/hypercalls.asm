; 10-hypercalls: talk to the hypervisor on purpose. Detect it with CPUID, then call it with VMCALL.
;
; A hypercall is a guest's system call into its hypervisor. On Intel VT-x the instruction is VMCALL:
; in VMX non-root operation it always causes a VM exit with reason 18 "VMCALL" (SDM vol. 3C §26.1.2
; and table C-1), and the hypervisor decides what it means. vmscope's ABI (emulator/vmm/handlers.ts,
; like KVM's: function in RAX, arguments in RBX and RCX, result in RAX):
;     RAX = 1  WRITE  write RCX bytes at guest-virtual RBX to the console, returns the count
;     RAX = 2  EXIT   end the run with status RBX
;     RAX = 3  TIME   returns the guest's time in TSC ticks
;     other          returns -1000 (KVM's -KVM_ENOSYS);   any call from CPL 3 returns -1 (-KVM_EPERM)
;
; Build: node scripts/build-samples.mjs 10-hypercalls  (ELF64: the machine starts it in long mode at _start)

HC_WRITE equ 1
HC_EXIT  equ 2
HC_TIME  equ 3

        bits 64
        section .text
        global _start
_start:
        ; ---- 1. Is there a hypervisor at all? CPUID.1:ECX bit 31 is reserved for hypervisors and is 0
        ;         on bare metal (SDM vol. 2A, CPUID "ECX bit 31: not used"; every hypervisor sets it).
        ;         CPUID always exits in VMX non-root operation (SDM vol. 3C §26.1.2).
        mov eax, 1
        cpuid
        bt ecx, 31
        jnc no_hypervisor

        ; ---- 2. Leaf 0x40000000: the hypervisor's vendor signature in EBX, ECX, EDX (12 bytes) and its
        ;         largest leaf in EAX. KVM answers "KVMKVMKVM", Hyper-V "Microsoft Hv", we answer "vmscope".
        mov eax, 0x40000000
        cpuid
        mov [max_leaf], eax
        mov [signature], ebx
        mov [signature + 4], ecx
        mov [signature + 8], edx

        lea rbx, [rel msg_sig]              ; "hypervisor signature: \""
        call print_z
        lea rbx, [rel signature]
        call print_z                        ; the 12 bytes are NUL-padded, print up to the first NUL
        lea rbx, [rel msg_maxleaf]
        call print_z
        mov eax, [max_leaf]
        call print_hex32

        ; ---- 3. Leaf 0x40000001: feature bits (bit 0 = "this hypervisor takes hypercalls").
        mov eax, 0x40000001
        cpuid
        mov [features], eax
        lea rbx, [rel msg_features]
        call print_z
        mov eax, [features]
        call print_hex32

        ; ---- 4. TIME twice around a loop of 1000 iterations: the guest's clock is deterministic
        ;         (1 tick per instruction retired), so the difference is the same on every run.
        mov eax, HC_TIME
        vmcall
        mov r12, rax                        ; t0
        mov ecx, 1000
.spin:  dec ecx                             ; 2 instructions per iteration: dec, jnz
        jnz .spin
        mov eax, HC_TIME
        vmcall
        sub rax, r12                        ; t1 - t0
        mov r13, rax
        lea rbx, [rel msg_time]
        call print_z
        mov rax, r13
        call print_dec
        lea rbx, [rel msg_ticks]
        call print_z

        ; ---- 5. An unknown function number: the hypervisor refuses it with -1000 in RAX.
        mov eax, 42
        vmcall
        mov r13, rax
        lea rbx, [rel msg_unknown]
        call print_z
        mov rax, r13
        call print_dec
        lea rbx, [rel msg_nl]
        call print_z

        ; ---- 6. The same WRITE from user mode (CPL 3). VMCALL exits whatever the CPL; the hypervisor
        ;         reads the guest's CPL from the VMCS (SS.DPL, SDM vol. 3C §25.4.1) and refuses with -1.
        call enter_user_mode                ; returns here in ring 0 with RAX = the user call's result
        mov r13, rax
        lea rbx, [rel msg_user]
        call print_z
        mov rax, r13
        call print_dec
        lea rbx, [rel msg_nl]
        call print_z

        ; ---- 7. EXIT: the hypervisor ends the run with status 0. Nothing after this runs.
        lea rbx, [rel msg_bye]
        call print_z
        mov eax, HC_EXIT
        xor ebx, ebx
        vmcall
        ud2                                 ; not reached

no_hypervisor:                              ; on bare metal: say so on port 0xE9 and stop
        lea rsi, [rel msg_bare]
.next:  lodsb
        test al, al
        jz .stop
        out 0xe9, al
        jmp .next
.stop:  cli
        hlt

; ------------------------------------------------------------------------------------------------
; print_z: print the NUL-terminated string at RBX with one WRITE hypercall. Clobbers RAX, RCX.
print_z:
        xor ecx, ecx
.len:   cmp byte [rbx + rcx], 0
        je .go
        inc ecx
        jmp .len
.go:    mov eax, HC_WRITE                   ; RAX = function, RBX = guest-virtual address, RCX = length
        vmcall                              ; → VM exit "VMCALL"; RAX = bytes written
        ret

; print_hex32: print EAX as "0x%08x\n".
print_hex32:
        push rbx
        lea rbx, [rel numbuf]
        mov word [rbx], '0x'
        mov ecx, 2                          ; digits go to numbuf[2..9], most significant first
.digit: rol eax, 4
        mov edx, eax
        and edx, 15
        mov dl, [hexdigits + rdx]           ; absolute address: the image is linked below 2 GiB
        mov [rbx + rcx], dl
        inc ecx
        cmp ecx, 10
        jne .digit
        mov word [rbx + 10], 10             ; "\n", NUL
        call print_z
        pop rbx
        ret

; print_dec: print RAX as a signed decimal number (no newline).
print_dec:
        push rbx
        lea rbx, [rel numbuf + 31]
        mov byte [rbx], 0
        mov r8, rax
        test rax, rax
        jns .pos
        neg rax
.pos:   mov r9d, 10
.div:   xor edx, edx
        div r9
        add dl, '0'
        dec rbx
        mov [rbx], dl
        test rax, rax
        jnz .div
        test r8, r8
        jns .out
        dec rbx
        mov byte [rbx], '-'
.out:   call print_z
        pop rbx
        ret

; ------------------------------------------------------------------------------------------------
; enter_user_mode: drop to CPL 3, try a WRITE hypercall there, come back through INT 0x80.
; Long mode needs: a GDT with user segments (DPL 3) and a 64-bit TSS (RSP0 = the stack the CPU
; switches to on the way back, SDM vol. 3A §7.7), an IDT gate that CPL 3 may use (DPL 3), and
; page tables whose entries have U/S = 1 (SDM vol. 3A §4.6).
enter_user_mode:
        ; The TSS descriptor holds the TSS's address split across its 16 bytes (SDM vol. 3A §7.2.3).
        lea rax, [rel tss]
        mov word  [rel gdt_tss + 0], tss_end - tss - 1     ; limit
        mov word  [rel gdt_tss + 2], ax                    ; base 15:0
        shr rax, 16
        mov byte  [rel gdt_tss + 4], al                    ; base 23:16
        mov byte  [rel gdt_tss + 5], 0x89                  ; present, 64-bit TSS (available)
        mov byte  [rel gdt_tss + 7], ah                    ; base 31:24
        mov [rel tss + 4], rsp                             ; RSP0: kernel stack for the trip back
        sub qword [rel tss + 4], 64
        lgdt [rel gdtr]
        push 0x08                                          ; reload CS with our kernel code segment
        lea rax, [rel .cs_ok]
        push rax
        retfq
.cs_ok: mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov ax, 0x28
        ltr ax                                             ; TR = our TSS

        ; IDT entry 0x80: 64-bit interrupt gate, DPL 3, to back_in_ring0 (SDM vol. 3A §6.14.1).
        lea rax, [rel back_in_ring0]
        lea rdi, [rel idt + 0x80 * 16]
        mov word [rdi + 0], ax
        mov word [rdi + 2], 0x08
        mov word [rdi + 4], 0xee00                         ; P=1, DPL=3, type 0xE (interrupt gate)
        shr rax, 16
        mov word [rdi + 6], ax
        shr rax, 16
        mov dword [rdi + 8], eax
        lidt [rel idtr]

        ; The machine's identity map (PML4 0xA000 → PDPT 0xB000 → PD 0xC000) is supervisor-only:
        ; set U/S in the three entries that map the first 2 MiB, where this code and its data live.
        or qword [0xa000], 4
        or qword [0xb000], 4
        or qword [0xc000], 4
        mov rax, cr3                                       ; reload CR3: flush the TLB
        mov cr3, rax

        mov [rel saved_rsp], rsp
        ; IRETQ to CPL 3: the frame is SS, RSP, RFLAGS, CS, RIP (SDM vol. 3A §6.14.3).
        push 0x18 | 3                                      ; user data selector, RPL 3
        lea rax, [rel user_stack_top]
        push rax
        push 0x002                                         ; RFLAGS: IF = 0
        push 0x20 | 3                                      ; user code selector, RPL 3
        lea rax, [rel user_code]
        push rax
        iretq

user_code:                                                 ; CPL 3 from here
        lea rbx, [rel msg_from_user]
        mov ecx, msg_from_user_len
        mov eax, HC_WRITE
        vmcall                                             ; refused: RAX = -1, nothing printed
        int 0x80                                           ; back to ring 0 with RAX

back_in_ring0:                                             ; CPL 0 again, on the TSS's RSP0 stack
        mov rsp, [rel saved_rsp]
        ret

; ------------------------------------------------------------------------------------------------
        section .data
msg_sig:        db "hypervisor signature: ", 0
msg_maxleaf:    db 10, "largest hypervisor leaf: ", 0
msg_features:   db "leaf 0x40000001 features: ", 0
msg_time:       db "TIME hypercall: a 1000-iteration loop took ", 0
msg_ticks:      db " ticks", 10, 0
msg_unknown:    db "hypercall 42 (unknown) returned ", 0
msg_user:       db "WRITE from user mode (CPL 3) returned ", 0
msg_bye:        db "EXIT hypercall with status 0", 10, 0
msg_nl:         db 10, 0
msg_bare:       db "no hypervisor (CPUID.1:ECX[31] = 0)", 10, 0
msg_from_user:  db "printed from ring 3?", 10
msg_from_user_len equ $ - msg_from_user
hexdigits:      db "0123456789abcdef"

        align 8
gdt:    dq 0                                               ; 0x00 null
        dq 0x00209a0000000000                              ; 0x08 kernel code, 64-bit (L=1), DPL 0
        dq 0x0000920000000000                              ; 0x10 kernel data, DPL 0
        dq 0x0000f20000000000                              ; 0x18 user data, DPL 3
        dq 0x0020fa0000000000                              ; 0x20 user code, 64-bit, DPL 3
gdt_tss: dq 0, 0                                           ; 0x28 TSS descriptor (16 bytes, filled in)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dq gdt
idtr:   dw 0x81 * 16 - 1
        dq idt

        section .bss
        alignb 16
idt:            resb 0x81 * 16
tss:            resb 104
tss_end:
max_leaf:       resd 1
features:       resd 1
signature:      resb 16
numbuf:         resb 32
saved_rsp:      resq 1
user_stack:     resb 1024
user_stack_top:
