; 09-interrupts: a timer interrupt, delivered to the guest by event injection.
;
; The guest programs the 8254 PIT to tick at ~1 kHz on IRQ 0, remaps the 8259 PIC so IRQ 0 arrives
; as vector 0x20, installs an IDT gate for it, executes STI and waits in HLT. Nothing here runs on a
; real interrupt controller: the PIT and PIC are emulated by the hypervisor (every OUT below is an
; I/O exit), and each tick reaches the guest by event injection at VM entry (the VM-entry
; interruption-information field, SDM vol. 3C §27.6).
;
; Build: node scripts/build-samples.mjs 09-interrupts  (ELF64: starts in long mode at _start)

DEBUGCON    equ 0xe9
PIC1_CMD    equ 0x20        ; master 8259: command / data ports
PIC1_DATA   equ 0x21
PIC2_CMD    equ 0xa0        ; slave 8259
PIC2_DATA   equ 0xa1
PIT_CH0     equ 0x40        ; 8254 channel 0 counter (its output is IRQ 0)
PIT_CMD     equ 0x43        ; 8254 mode/command register
PIT_DIVISOR equ 1193        ; 1 193 182 Hz / 1193 ≈ 1000 Hz: one tick every ~1 ms
TIMER_VEC   equ 0x20        ; IRQ 0 after the remap below
TICKS       equ 5

        bits 64
        section .text
        global _start
_start:
        ; ---- 1. IDT: 64-bit interrupt gates (SDM vol. 3A §6.14.1). Vectors 0-31 (exceptions) go to
        ;         `unexpected`, vector 0x20 to `timer_isr`, 0x27 (the PIC's spurious IRQ 7) to `spurious`.
        xor ecx, ecx
.fill:  lea rax, [rel unexpected]
        call set_gate
        inc ecx
        cmp ecx, 48
        jne .fill
        mov ecx, TIMER_VEC
        lea rax, [rel timer_isr]
        call set_gate
        mov ecx, TIMER_VEC + 7
        lea rax, [rel spurious]
        call set_gate
        lidt [rel idtr]

        ; ---- 2. PIC: the initialization sequence ICW1..ICW4 (8259A datasheet). Vectors 0x20-0x27
        ;         for the master and 0x28-0x2F for the slave, then mask every line except IRQ 0.
        mov al, 0x11                        ; ICW1: edge triggered, cascade, ICW4 follows
        out PIC1_CMD, al
        out PIC2_CMD, al
        mov al, 0x20                        ; ICW2: vector base
        out PIC1_DATA, al
        mov al, 0x28
        out PIC2_DATA, al
        mov al, 0x04                        ; ICW3: slave on master's IRQ 2
        out PIC1_DATA, al
        mov al, 0x02                        ;       slave's cascade identity
        out PIC2_DATA, al
        mov al, 0x01                        ; ICW4: 8086 mode
        out PIC1_DATA, al
        out PIC2_DATA, al
        mov al, 0xfe                        ; OCW1: interrupt mask, only IRQ 0 enabled
        out PIC1_DATA, al
        mov al, 0xff
        out PIC2_DATA, al

        ; ---- 3. PIT channel 0, mode 2 (rate generator), binary, low byte then high byte of the divisor.
        mov al, 0x34                        ; 00 11 010 0: channel 0, lobyte/hibyte, mode 2, binary
        out PIT_CMD, al
        mov al, PIT_DIVISOR & 0xff
        out PIT_CH0, al
        mov al, PIT_DIVISOR >> 8
        out PIT_CH0, al

        ; ---- 4. Wait for TICKS ticks. STI; HLT: the HLT exits (HLT exiting is on), the hypervisor
        ;         idles the virtual clock to the PIT's next deadline and injects vector 0x20 at the
        ;         next VM entry; the guest resumes in timer_isr, whose IRETQ returns after the HLT.
        ;         Tick 1 comes at once: the control word above set OUT high ("mode 2: OUT will be
        ;         initially high", 8254 datasheet), a rising edge the PIC has already latched in its IRR.
        rdtsc                               ; RDTSC does not exit: TSC offsetting (SDM vol. 3C §26.6.5)
        shl rdx, 32
        or rax, rdx
        mov [rel last_tsc], rax
        sti
.wait:  hlt
        cmp dword [rel ticks], TICKS
        jb .wait
        cli

        ; ---- 5. An interrupt that arrives while IF = 0 is held by the hypervisor: it cannot inject it,
        ;         so it sets "interrupt-window exiting" (SDM vol. 3C §25.6.2 and §26.7.5) and the guest
        ;         exits as soon as it can take interrupts again, right after STI (+ one instruction).
        mov dword [rel ticks], 0
        mov ecx, 1500000                    ; ~3 million instructions ≈ 3 ms of guest time: ticks fall due
.busy:  dec ecx
        jnz .busy
        mov eax, [rel ticks]                ; still 0: nothing was delivered while IF = 0
        mov [rel ticks_while_cli], eax
        sti                                 ; STI blocks interrupts for one more instruction (SDM vol. 2B STI)
        nop                                 ; → INTERRUPT_WINDOW exit here, the tick is injected
        cli
        mov eax, [rel ticks]
        mov [rel ticks_after_sti], eax

        lea rsi, [rel s_cli1]
        call puts
        mov eax, [rel ticks_while_cli]
        call put_dec
        lea rsi, [rel s_cli2]
        call puts
        mov eax, [rel ticks_after_sti]
        call put_dec
        lea rsi, [rel s_cli3]
        call puts
        cli
        hlt                                 ; IF = 0: the run ends

; ------------------------------------------------------------------------------------------------
; timer_isr: vector 0x20. The CPU pushed SS, RSP, RFLAGS, CS, RIP and cleared IF (interrupt gate).
timer_isr:
        push rax
        push rdx
        push rcx
        push rsi
        inc dword [rel ticks]
        cmp byte [rel quiet], 0
        jne .eoi
        rdtsc                               ; guest time now
        shl rdx, 32
        or rax, rdx
        mov rcx, rax
        sub rax, [rel last_tsc]             ; time since the previous tick
        mov [rel last_tsc], rcx
        push rax
        lea rsi, [rel s_tick]
        call puts
        mov eax, [rel ticks]
        call put_dec
        lea rsi, [rel s_after]
        call puts
        pop rax
        call put_dec
        lea rsi, [rel s_ns]
        call puts
        cmp dword [rel ticks], TICKS
        jb .eoi
        mov byte [rel quiet], 1             ; the last noisy tick: from now on only count
.eoi:   mov al, 0x20                        ; OCW2: non-specific EOI, so the PIC can deliver IRQ 0 again
        out PIC1_CMD, al
        pop rsi
        pop rcx
        pop rdx
        pop rax
        iretq

spurious:                                   ; IRQ 7 with nothing in service: no EOI (8259A datasheet)
        iretq

unexpected:                                 ; an exception: report and stop
        lea rsi, [rel s_unexpected]
        call puts
        cli
        hlt

; set_gate: IDT entry ECX → handler RAX, kernel code selector CS (whatever the machine started with).
set_gate:
        push rdi
        mov rdi, rcx
        shl rdi, 4
        lea rdx, [rel idt]
        add rdi, rdx
        mov [rdi], ax                       ; offset 15:0
        mov dx, cs
        mov [rdi + 2], dx                   ; segment selector
        mov word [rdi + 4], 0x8e00          ; P=1, DPL=0, type 0xE: 64-bit interrupt gate
        shr rax, 16
        mov [rdi + 6], ax                   ; offset 31:16
        shr rax, 16
        mov [rdi + 8], eax                  ; offset 63:32
        mov dword [rdi + 12], 0
        pop rdi
        ret

; puts: the NUL-terminated string at RSI to the debug console (one OUT, so one I/O exit, per byte).
puts:
        push rax
.next:  lodsb
        test al, al
        jz .done
        out DEBUGCON, al
        jmp .next
.done:  pop rax
        ret

; put_dec: EAX in decimal.
put_dec:
        push rax
        push rcx
        push rdx
        push rsi
        lea rsi, [rel decbuf + 15]
        mov byte [rsi], 0
        mov ecx, 10
.div:   xor edx, edx
        div ecx
        add dl, '0'
        dec rsi
        mov [rsi], dl
        test eax, eax
        jnz .div
        call puts
        pop rsi
        pop rdx
        pop rcx
        pop rax
        ret

        section .data
idtr:           dw 48 * 16 - 1
                dq idt
s_tick:         db "tick ", 0
s_after:        db ": +", 0
s_ns:           db " ns since the previous tick (or STI)", 10, 0
s_cli1:         db "ticks delivered during 3 ms with IF=0: ", 0
s_cli2:         db ", right after STI: ", 0
s_cli3:         db 10, 0
s_unexpected:   db "unexpected exception", 10, 0

        section .bss
        alignb 16
idt:            resb 48 * 16
last_tsc:       resq 1
ticks:          resd 1
ticks_while_cli: resd 1
ticks_after_sti: resd 1
quiet:          resb 1
decbuf:         resb 16
