; Call-heavy loop for the benchmark: a call to a small leaf function with a stack frame per iteration.
bits 64
org 0x100000
  mov ecx, 2000000
  xor eax, eax
.l: mov edi, ecx
  call leaf
  add eax, edx
  dec ecx
  jnz .l
  cli
  hlt
leaf:
  push rbp
  mov rbp, rsp
  lea edx, [rdi + rdi*2]
  pop rbp
  ret
