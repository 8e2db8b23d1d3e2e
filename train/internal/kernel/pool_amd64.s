//go:build amd64 && !purego

#include "textflag.h"

// even and odd lane numbers: permutation indices that split 32 floats into
// their even and odd entries, and the offsets 2j of the windows' first
// entries.
DATA poolEven<>+0(SB)/4, $0
DATA poolEven<>+4(SB)/4, $2
DATA poolEven<>+8(SB)/4, $4
DATA poolEven<>+12(SB)/4, $6
DATA poolEven<>+16(SB)/4, $8
DATA poolEven<>+20(SB)/4, $10
DATA poolEven<>+24(SB)/4, $12
DATA poolEven<>+28(SB)/4, $14
DATA poolEven<>+32(SB)/4, $16
DATA poolEven<>+36(SB)/4, $18
DATA poolEven<>+40(SB)/4, $20
DATA poolEven<>+44(SB)/4, $22
DATA poolEven<>+48(SB)/4, $24
DATA poolEven<>+52(SB)/4, $26
DATA poolEven<>+56(SB)/4, $28
DATA poolEven<>+60(SB)/4, $30
GLOBL poolEven<>(SB), RODATA|NOPTR, $64

DATA poolOdd<>+0(SB)/4, $1
DATA poolOdd<>+4(SB)/4, $3
DATA poolOdd<>+8(SB)/4, $5
DATA poolOdd<>+12(SB)/4, $7
DATA poolOdd<>+16(SB)/4, $9
DATA poolOdd<>+20(SB)/4, $11
DATA poolOdd<>+24(SB)/4, $13
DATA poolOdd<>+28(SB)/4, $15
DATA poolOdd<>+32(SB)/4, $17
DATA poolOdd<>+36(SB)/4, $19
DATA poolOdd<>+40(SB)/4, $21
DATA poolOdd<>+44(SB)/4, $23
DATA poolOdd<>+48(SB)/4, $25
DATA poolOdd<>+52(SB)/4, $27
DATA poolOdd<>+56(SB)/4, $29
DATA poolOdd<>+60(SB)/4, $31
GLOBL poolOdd<>(SB), RODATA|NOPTR, $64

// TAKE(v, iv): where !(v <= mx) && mx == mx (maxPool's order: v > mx, or v
// a NaN and mx not), mx (Z4) = v and its index (Z8) = iv.
#define TAKE(v, iv) \
	VCMPPS    $0x16, Z4, v, K4 \ // NLE_UQ: !(v <= mx)
	VCMPPS    $7, Z4, Z4, K5   \ // ORD_Q: mx is not NaN
	KANDW     K4, K5, K4       \
	VMOVAPS   v, K4, Z4        \
	VMOVDQA32 iv, K4, Z8

// BODY pools the 16 windows in Z0, Z1 (top row) and Z2, Z3 (bottom row)
// into Z4 (maxima) and Z8 (indices); Z22 holds their first indices.
#define BODY \
	VMOVDQA32 Z20, Z4         \
	VPERMI2PS Z1, Z0, Z4      \ // top even: the first entries, mx
	VMOVDQA32 Z21, Z5         \
	VPERMI2PS Z1, Z0, Z5      \ // top odd
	VMOVDQA32 Z20, Z6         \
	VPERMI2PS Z3, Z2, Z6      \ // bottom even
	VMOVDQA32 Z21, Z7         \
	VPERMI2PS Z3, Z2, Z7      \ // bottom odd
	VMOVDQA32 Z22, Z8         \
	VPADDD    Z24, Z22, Z9    \
	VPADDD    Z23, Z22, Z10   \
	VPADDD    Z24, Z10, Z11   \
	TAKE(Z5, Z9)              \
	TAKE(Z6, Z10)             \
	TAKE(Z7, Z11)

// func maxPool2Row512(top, bot, y *float32, arg *int32, n int, idx0, w int32)
TEXT ·maxPool2Row512(SB), NOSPLIT, $0-48
	MOVQ top+0(FP), SI
	MOVQ bot+8(FP), DI
	MOVQ y+16(FP), DX
	MOVQ arg+24(FP), R8
	MOVQ n+32(FP), CX
	MOVL idx0+40(FP), AX
	MOVL w+44(FP), BX

	VMOVDQU32    poolEven<>(SB), Z20
	VMOVDQU32    poolOdd<>(SB), Z21
	VPBROADCASTD AX, Z22
	VPADDD       Z20, Z22, Z22    // idx0 + 2j
	VPBROADCASTD BX, Z23          // w
	MOVL         $1, R9
	VPBROADCASTD R9, Z24          // 1
	MOVL         $32, R9
	VPBROADCASTD R9, Z25          // 32: the next 16 windows

loop16:
	CMPQ CX, $16
	JLT  tail
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS (DI), Z2
	VMOVUPS 64(DI), Z3
	BODY
	VMOVUPS   Z4, (DX)
	VMOVDQU32 Z8, (R8)
	ADDQ      $128, SI
	ADDQ      $128, DI
	ADDQ      $64, DX
	ADDQ      $64, R8
	VPADDD    Z25, Z22, Z22
	SUBQ      $16, CX
	JMP       loop16

tail:
	TESTQ CX, CX
	JZ    done
	// masks: K1, K2 the 2n inputs' lanes of each half, K3 the n outputs'
	MOVQ  CX, R10
	SHLQ  $1, R10
	MOVQ  $1, R11
	MOVQ  R10, CX
	SHLQ  CX, R11
	DECQ  R11             // 2n ones
	KMOVW R11, K1
	SHRQ  $16, R11
	KMOVW R11, K2
	SHRQ  $1, R10
	MOVQ  $1, R11
	MOVQ  R10, CX
	SHLQ  CX, R11
	DECQ  R11             // n ones
	KMOVW R11, K3
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z 64(SI), K2, Z1
	VMOVUPS.Z (DI), K1, Z2
	VMOVUPS.Z 64(DI), K2, Z3
	BODY
	VMOVUPS   Z4, K3, (DX)
	VMOVDQU32 Z8, K3, (R8)

done:
	VZEROUPPER
	RET
