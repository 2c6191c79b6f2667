; SSE/SSE2 integer and move instructions over input pairs: assembled as a native ELF64 object (NATIVE) and as a guest image.
[bits 64]
%ifdef NATIVE
section .text
global run_ops
%else
org 0x100000
  mov rdi, 0x200000
  mov rsi, 0x400000
  mov edx, [0x1ff000]
  call run_ops
  hlt
%endif

%assign NOPS 0
; XOP: op on xmm0 (dest = first input) with source xmm1 (second input), result xmm0
%macro XOP 1-2
  movdqu xmm0, [rdi]
  movdqu xmm1, [rdi + 16]
  %if %0 == 1
    %1 xmm0, xmm1
  %else
    %1 xmm0, xmm1, %2
  %endif
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
%endmacro
; IMM: op xmm0, imm
%macro IMM 2
  movdqu xmm0, [rdi]
  %1 xmm0, %2
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
%endmacro
; MEM: op xmm0, [rdi+16 + off] (aligned when off = 0)
%macro MEM 2
  movdqu xmm0, [rdi]
  %1 xmm0, [rdi + 16 + %2]
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
%endmacro
; GPR: eax = op(xmm1 ...), stored zero-extended in a 16-byte slot
%macro GPR 1-2
  movdqu xmm1, [rdi + 16]
  mov eax, 0xdeadbeef
  %if %0 == 1
    %1 eax, xmm1
  %else
    %1 eax, xmm1, %2
  %endif
  mov qword [rsi + NOPS * 16], rax
  mov qword [rsi + NOPS * 16 + 8], 0
  %assign NOPS NOPS + 1
%endmacro
; SHX: shift xmm0 by the low qword of xmm1 masked to 0..63
%macro SHX 1
  movdqu xmm0, [rdi]
  movdqu xmm1, [rdi + 16]
  pand xmm1, [rel cntmask]
  %1 xmm0, xmm1
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
%endmacro

run_ops:
.loop:
  XOP paddb
  XOP paddw
  XOP paddd
  XOP paddq
  XOP psubb
  XOP psubw
  XOP psubd
  XOP psubq
  XOP paddusb
  XOP paddusw
  XOP psubusb
  XOP psubusw
  XOP paddsb
  XOP paddsw
  XOP psubsb
  XOP psubsw
  XOP pminub
  XOP pmaxub
  XOP pminsw
  XOP pmaxsw
  XOP pavgb
  XOP pavgw
  XOP pmullw
  XOP pmulhw
  XOP pmulhuw
  XOP pmuludq
  XOP pmaddwd
  XOP psadbw
  XOP pcmpeqb
  XOP pcmpeqw
  XOP pcmpeqd
  XOP pcmpgtb
  XOP pcmpgtw
  XOP pcmpgtd
  XOP packsswb
  XOP packuswb
  XOP packssdw
  XOP punpcklbw
  XOP punpcklwd
  XOP punpckldq
  XOP punpcklqdq
  XOP punpckhbw
  XOP punpckhwd
  XOP punpckhdq
  XOP punpckhqdq
  XOP pand
  XOP pandn
  XOP por
  XOP pxor
  XOP andps
  XOP andnps
  XOP orps
  XOP xorps
  XOP andpd
  XOP andnpd
  XOP orpd
  XOP xorpd
  XOP unpcklps
  XOP unpckhps
  XOP unpcklpd
  XOP unpckhpd
  XOP movlhps
  XOP movhlps
  XOP movss
  XOP movsd
  XOP movq
  XOP movdqa
  XOP movaps
  XOP pshufd, 0x1b
  XOP pshuflw, 0x93
  XOP pshufhw, 0x4e
  XOP shufps, 0xb1
  XOP shufps, 0x27
  XOP shufpd, 1
  XOP shufpd, 2
  XOP psrlw
  XOP psrad
  SHX psrlw
  SHX psrld
  SHX psrlq
  SHX psraw
  SHX psrad
  SHX psllw
  SHX pslld
  SHX psllq
  IMM psrlw, 5
  IMM psrlw, 16
  IMM psraw, 9
  IMM psraw, 40
  IMM psllw, 15
  IMM psrld, 1
  IMM psrad, 31
  IMM pslld, 20
  IMM psrlq, 33
  IMM psrlq, 64
  IMM psllq, 63
  IMM psrldq, 3
  IMM psrldq, 17
  IMM pslldq, 15
  IMM pslldq, 1
  MEM pcmpeqb, 0
  MEM paddd, 0
  MEM movhps, 0
  MEM movlps, 8
  MEM movhpd, 4
  MEM movq, 4
  MEM movss, 4
  MEM movsd, 8
  MEM movdqu, 3
  MEM movups, 1
  GPR pmovmskb
  GPR movmskps
  GPR movmskpd
  GPR pextrw, 6
  GPR movd
  ; PINSRW from a word of the second input; MOVD/MOVQ xmm, r
  movdqu xmm0, [rdi]
  movzx eax, word [rdi + 18]
  pinsrw xmm0, eax, 5
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
  mov rax, [rdi + 16]
  movq xmm0, rax
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
  movdqu xmm0, [rdi]
  movd xmm0, [rdi + 20]
  movdqu [rsi + NOPS * 16], xmm0
  %assign NOPS NOPS + 1
  movdqu xmm1, [rdi + 16]
  movq rax, xmm1
  mov [rsi + NOPS * 16], rax
  mov qword [rsi + NOPS * 16 + 8], 0
  %assign NOPS NOPS + 1
  ; stores
  movdqu xmm0, [rdi]
  movdqu [rsi + NOPS * 16], xmm0
  movdqu xmm1, [rdi + 16]
  movq [rsi + NOPS * 16], xmm1
  %assign NOPS NOPS + 1
  movdqu xmm0, [rdi]
  movdqu [rsi + NOPS * 16], xmm0
  movhps [rsi + NOPS * 16], xmm1
  movss [rsi + NOPS * 16 + 12], xmm1
  %assign NOPS NOPS + 1
  add rdi, 32
  add rsi, NOPS * 16
  dec edx
  jnz .loop
  ret
align 16
cntmask: dq 0x3f, 0
ops_count: dd NOPS
