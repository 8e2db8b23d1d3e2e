//go:build amd64 && !purego

#include "textflag.h"

// func adamAVX(w, grad, m, v *float32, n int, k *[8]float32)
//
// One Adam step over n float32 entries (n a multiple of 8), with
// k = {b1, 1-b1, b2, 1-b2, step, inv, eps, wd}. Each operation is rounded
// as in adamStep (no fused multiply-add), so the results are bit-identical
// to the Go code's.
TEXT ·adamAVX(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // 1-b1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // 1-b2
	VBROADCASTSS 16(AX), Y12 // step
	VBROADCASTSS 20(AX), Y13 // inv
	VBROADCASTSS 24(AX), Y14 // eps
	VBROADCASTSS 28(AX), Y15 // wd
	XORQ BX, BX
	SHRQ $3, CX
	JZ   done
	VXORPS Y7, Y7, Y7
	VUCOMISS X15, X7
	JNE  decay
	JP   decay

loop:
	VMOVUPS (SI)(BX*4), Y0   // d = g
	VMOVUPS (R8)(BX*4), Y1   // m
	VMULPS  Y8, Y1, Y1       // b1*m
	VMULPS  Y9, Y0, Y2       // (1-b1)*d
	VADDPS  Y2, Y1, Y1       // mi
	VMOVUPS Y1, (R8)(BX*4)
	VMOVUPS (R9)(BX*4), Y3   // v
	VMULPS  Y10, Y3, Y3      // b2*v
	VMULPS  Y11, Y0, Y4      // (1-b2)*d
	VMULPS  Y0, Y4, Y4       // ((1-b2)*d)*d
	VADDPS  Y4, Y3, Y3       // vi
	VMOVUPS Y3, (R9)(BX*4)
	VSQRTPS Y3, Y5
	VMULPS  Y13, Y5, Y5      // sqrt(vi)*inv
	VADDPS  Y14, Y5, Y5      // den
	VMULPS  Y12, Y1, Y6      // step*mi
	VDIVPS  Y5, Y6, Y6       // (step*mi)/den
	VMOVUPS (DI)(BX*4), Y7
	VSUBPS  Y6, Y7, Y7       // w - ...
	VMOVUPS Y7, (DI)(BX*4)
	ADDQ    $8, BX
	DECQ    CX
	JNZ     loop
	JMP     done

decay:
	VMOVUPS (SI)(BX*4), Y0   // g
	VMOVUPS (DI)(BX*4), Y7   // w
	VMULPS  Y15, Y7, Y2      // wd*w
	VADDPS  Y2, Y0, Y0       // d = g + wd*w
	VMOVUPS (R8)(BX*4), Y1
	VMULPS  Y8, Y1, Y1
	VMULPS  Y9, Y0, Y2
	VADDPS  Y2, Y1, Y1
	VMOVUPS Y1, (R8)(BX*4)
	VMOVUPS (R9)(BX*4), Y3
	VMULPS  Y10, Y3, Y3
	VMULPS  Y11, Y0, Y4
	VMULPS  Y0, Y4, Y4
	VADDPS  Y4, Y3, Y3
	VMOVUPS Y3, (R9)(BX*4)
	VSQRTPS Y3, Y5
	VMULPS  Y13, Y5, Y5
	VADDPS  Y14, Y5, Y5
	VMULPS  Y12, Y1, Y6
	VDIVPS  Y5, Y6, Y6
	VSUBPS  Y6, Y7, Y7
	VMOVUPS Y7, (DI)(BX*4)
	ADDQ    $8, BX
	DECQ    CX
	JNZ     decay

done:
	VZEROUPPER
	RET
