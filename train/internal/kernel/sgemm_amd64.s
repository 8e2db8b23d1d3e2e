//go:build amd64 && !purego

#include "textflag.h"

// func sgemm6x16(kc int, a *float32, sa int, b *float32, sb int, c *float32, ldc int)
//
// C[6×16] += A·B over kc steps: at step l the kernel reads 6 consecutive
// values of A (a column of a 6-row panel) at a + l·sa and 16 consecutive
// values of B (a row of a 16-column panel) at b + l·sb, strides in floats
// (6 and 16 for packed panels); c is row-major with a stride of ldc floats.
// kc must be at least 1.
TEXT ·sgemm6x16(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ sa+16(FP), R10
	SHLQ $2, R10
	MOVQ b+24(FP), DI
	MOVQ sb+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

kloop:
	VMOVUPS      0(DI), Y0
	VMOVUPS      32(DI), Y1
	VBROADCASTSS 0(SI), Y2
	VFMADD231PS  Y0, Y2, Y4
	VFMADD231PS  Y1, Y2, Y5
	VBROADCASTSS 4(SI), Y3
	VFMADD231PS  Y0, Y3, Y6
	VFMADD231PS  Y1, Y3, Y7
	VBROADCASTSS 8(SI), Y2
	VFMADD231PS  Y0, Y2, Y8
	VFMADD231PS  Y1, Y2, Y9
	VBROADCASTSS 12(SI), Y3
	VFMADD231PS  Y0, Y3, Y10
	VFMADD231PS  Y1, Y3, Y11
	VBROADCASTSS 16(SI), Y2
	VFMADD231PS  Y0, Y2, Y12
	VFMADD231PS  Y1, Y2, Y13
	VBROADCASTSS 20(SI), Y3
	VFMADD231PS  Y0, Y3, Y14
	VFMADD231PS  Y1, Y3, Y15
	ADDQ         R10, SI
	ADDQ         R9, DI
	DECQ         CX
	JNZ          kloop

	VADDPS  0(DX), Y4, Y4
	VMOVUPS Y4, 0(DX)
	VADDPS  32(DX), Y5, Y5
	VMOVUPS Y5, 32(DX)
	ADDQ    R8, DX
	VADDPS  0(DX), Y6, Y6
	VMOVUPS Y6, 0(DX)
	VADDPS  32(DX), Y7, Y7
	VMOVUPS Y7, 32(DX)
	ADDQ    R8, DX
	VADDPS  0(DX), Y8, Y8
	VMOVUPS Y8, 0(DX)
	VADDPS  32(DX), Y9, Y9
	VMOVUPS Y9, 32(DX)
	ADDQ    R8, DX
	VADDPS  0(DX), Y10, Y10
	VMOVUPS Y10, 0(DX)
	VADDPS  32(DX), Y11, Y11
	VMOVUPS Y11, 32(DX)
	ADDQ    R8, DX
	VADDPS  0(DX), Y12, Y12
	VMOVUPS Y12, 0(DX)
	VADDPS  32(DX), Y13, Y13
	VMOVUPS Y13, 32(DX)
	ADDQ    R8, DX
	VADDPS  0(DX), Y14, Y14
	VMOVUPS Y14, 0(DX)
	VADDPS  32(DX), Y15, Y15
	VMOVUPS Y15, 32(DX)
	VZEROUPPER
	RET
