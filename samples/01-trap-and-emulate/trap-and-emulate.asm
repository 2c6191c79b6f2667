; 01-trap-and-emulate: most instructions run natively in VMX non-root operation; only sensitive ones exit.
;
; Under VT-x the guest's code runs directly on the processor. The hypervisor regains control only
; when the guest does something the VMCS says must exit (SDM vol. 3C chapter 26, "VMX non-root
; operation"): some instructions always exit (CPUID, VMCALL: §26.1.2), others exit because a
; control asks for it (HLT exiting, I/O bitmaps: §26.1.3). Arithmetic, loads and stores never exit:
; EPT maps guest RAM, so even memory accesses stay inside the guest (§29.3).
;
; This guest: (1) a pure arithmetic loop, (2) a memory loop over 64 KiB, each timed with RDTSC
; (RDTSC exiting is off by default, so reading the clock does not exit either), (3) CPUID leaf 0,
; which exits and is emulated by the hypervisor, (4) a line written with OUT, one exit per byte,
; (5) CLI; HLT, which exits and ends the run.

LOOP_COUNT equ 100000           ; iterations of the arithmetic loop
BUF_SIZE   equ 65536            ; bytes of the memory loop
DEBUGCON   equ 0xE9             ; Bochs/QEMU debug console port

        bits 64
        section .text                   ; _start first, at the link address 0x100000
%include "print.inc"                    ; PRINT/PRINTLN and the print_* routines (one VMCALL per line)

        section .text
        global _start
_start:
        PRINTLN "01-trap-and-emulate: which instructions leave the guest?"

; ---- 1. Arithmetic: a loop of ADD/IMUL/INC/CMP/Jcc. None of these is sensitive: no VM exit.
        rdtsc                           ; EDX:EAX = time stamp counter (no exit: RDTSC exiting is 0)
        shl rdx, 32
        or rax, rdx
        mov r12, rax                    ; r12 = start time
        xor ebx, ebx                    ; rbx = sum of i*i
        xor ecx, ecx                    ; rcx = i
arith_loop:
        mov rax, rcx
        imul rax, rcx                   ; i*i
        add rbx, rax
        inc rcx
        cmp rcx, LOOP_COUNT
        jb arith_loop
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r12
        mov r13, rax                    ; r13 = ticks taken
        PRINT "sum of i*i for i < 100000 = "
        mov rax, rbx
        call print_dec
        call print_nl
        PRINT "  arithmetic loop: "
        mov rax, r13
        call print_dec
        PRINTLN " TSC ticks for 600000 instructions, 0 VM exits"

; ---- 2. Memory: write a pattern to 64 KiB and sum it back. EPT translates every access in
;         hardware (guest-physical -> host-physical); nothing exits.
        rdtsc
        shl rdx, 32
        or rax, rdx
        mov r12, rax
        lea rdi, [rel buffer]
        xor ecx, ecx
fill_loop:
        mov eax, ecx
        imul eax, eax, 7                ; byte value = (i * 7) mod 256
        mov [rdi + rcx], al
        inc ecx
        cmp ecx, BUF_SIZE
        jb fill_loop
        xor ebx, ebx                    ; rbx = checksum
        xor ecx, ecx
sum_loop:
        movzx eax, byte [rdi + rcx]
        add rbx, rax
        inc ecx
        cmp ecx, BUF_SIZE
        jb sum_loop
        rdtsc
        shl rdx, 32
        or rax, rdx
        sub rax, r12
        mov r13, rax
        PRINT "checksum of 65536 bytes = "
        mov rax, rbx
        call print_dec
        call print_nl
        PRINT "  memory loops: "
        mov rax, r13
        call print_dec
        PRINTLN " TSC ticks, 0 VM exits (EPT maps guest RAM)"

; ---- 3. CPUID: always exits (SDM vol. 3C §26.1.2). The hypervisor's handler fills EAX..EDX
;         (from the processor model, plus its own hypervisor bit and leaves) and advances RIP.
        xor eax, eax                    ; leaf 0: highest leaf and vendor string
        cpuid                           ; <- VM exit, reason 10 (CPUID)
        mov [rel vendor], ebx           ; the vendor string is EBX, EDX, ECX
        mov [rel vendor + 4], edx
        mov [rel vendor + 8], ecx
        mov r12, rax
        PRINT "CPUID.0: max leaf "
        mov rax, r12
        mov ecx, 2
        call print_hex
        PRINT ", vendor "
        lea rsi, [rel vendor]
        call print_str
        PRINTLN " (1 exit, emulated by the hypervisor)"

; ---- 4. Port I/O: the I/O bitmaps make every port exit, so each OUT below is one VM exit
;         (reason 30, IO_INSTRUCTION); the hypervisor passes the byte to its debug console.
        lea rsi, [rel io_line]
        xor r14d, r14d                  ; r14 = number of OUT instructions
io_loop:
        lodsb
        test al, al
        jz io_done
        out DEBUGCON, al                ; <- VM exit, reason 30 (IO_INSTRUCTION)
        inc r14
        jmp io_loop
io_done:
        PRINT "  the line above took "
        mov rax, r14
        call print_dec
        PRINTLN " OUT instructions = as many VM exits"

; ---- 5. HLT with interrupts off: HLT exiting makes it exit (reason 12); the handler ends the run.
        PRINTLN "CLI; HLT: the last exit"
        cli
        hlt                             ; <- VM exit, reason 12 (HLT)

        section .rodata
io_line: db "port 0xE9, byte by byte", 10, 0

        section .bss
vendor: resb 16                         ; 12 characters + NUL (.bss starts zeroed)
        alignb 4096
buffer: resb BUF_SIZE
