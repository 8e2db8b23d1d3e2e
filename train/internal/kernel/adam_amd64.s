//go:build amd64 && !purego

#include "textflag.h"

// Adam's update of n float32 entries, with k an *AdamCoef (b1, c1, b2, c2,
// step, inv, eps, wd, exponent mask). For each entry, every operation is
// rounded as in package train's adamElem (no fused multiply-add), and d, m
// and v are flushed to zero when their exponent bits are zero (below the
// smallest normal float32; NaN and Inf stay), so the results are
// bit-identical to the Go code's and no denormal is carried from one step
// to the next:
//
//	d = g (+ wd·w);        d = flush(d)
//	m = b1·m + c1·d;       m = flush(m)
//	v = b2·v + (c2·d)·d;   v = flush(v)
//	w = w - (step·m) / (√v·inv + eps)
//
// Registers: DI w, SI grad, R8 m, R9 v, BX index, CX count.

// AVX2: Y8 b1, Y9 c1, Y10 b2, Y11 c2, Y12 step, Y13 inv, Y14 eps, Y5 wd,
// Y6 exponent mask, Y15 zeros; Y0 d, Y1 m, Y3 v, Y7 w, Y2 and Y4 scratch.

// FLUSH8 zeroes the lanes of r whose exponent bits are zero; t is scratch.
#define FLUSH8(r, t) \
	VANDPS   Y6, r, t; \
	VPCMPEQD Y15, t, t; \
	VANDNPS  r, t, r

#define LOAD8 \
	VMOVUPS (SI)(BX*4), Y0; \
	VMOVUPS (DI)(BX*4), Y7

#define DECAY8 \
	VMULPS Y5, Y7, Y2; \
	VADDPS Y2, Y0, Y0

#define STEP8 \
	FLUSH8(Y0, Y2); \
	VMOVUPS (R8)(BX*4), Y1; \
	VMULPS  Y8, Y1, Y1; \
	VMULPS  Y9, Y0, Y2; \
	VADDPS  Y2, Y1, Y1; \
	FLUSH8(Y1, Y2); \
	VMOVUPS Y1, (R8)(BX*4); \
	VMOVUPS (R9)(BX*4), Y3; \
	VMULPS  Y10, Y3, Y3; \
	VMULPS  Y11, Y0, Y4; \
	VMULPS  Y0, Y4, Y4; \
	VADDPS  Y4, Y3, Y3; \
	FLUSH8(Y3, Y4); \
	VMOVUPS Y3, (R9)(BX*4); \
	VSQRTPS Y3, Y4; \
	VMULPS  Y13, Y4, Y4; \
	VADDPS  Y14, Y4, Y4; \
	VMULPS  Y12, Y1, Y2; \
	VDIVPS  Y4, Y2, Y2; \
	VSUBPS  Y2, Y7, Y7; \
	VMOVUPS Y7, (DI)(BX*4); \
	ADDQ    $8, BX

// func adamAVX2(w, grad, m, v *float32, n int, k *AdamCoef, decay bool)
// n is a multiple of 8.
TEXT ·adamAVX2(SB), NOSPLIT, $0-49
	MOVQ  w+0(FP), DI
	MOVQ  grad+8(FP), SI
	MOVQ  m+16(FP), R8
	MOVQ  v+24(FP), R9
	MOVQ  n+32(FP), CX
	MOVQ  k+40(FP), AX
	MOVB  decay+48(FP), DX
	VBROADCASTSS 0(AX), Y8
	VBROADCASTSS 4(AX), Y9
	VBROADCASTSS 8(AX), Y10
	VBROADCASTSS 12(AX), Y11
	VBROADCASTSS 16(AX), Y12
	VBROADCASTSS 20(AX), Y13
	VBROADCASTSS 24(AX), Y14
	VBROADCASTSS 28(AX), Y5
	VBROADCASTSS 32(AX), Y6
	VPXOR Y15, Y15, Y15
	XORQ  BX, BX
	SHRQ  $3, CX
	JZ    done
	TESTB DX, DX
	JNZ   decay

loop:
	LOAD8
	STEP8
	DECQ CX
	JNZ  loop
	JMP  done

decay:
	LOAD8
	DECAY8
	STEP8
	DECQ CX
	JNZ  decay

done:
	VZEROUPPER
	RET

// AVX-512: Z8 b1, Z9 c1, Z10 b2, Z11 c2, Z12 step, Z13 inv, Z14 eps,
// Z15 wd, Z16 exponent mask; Z0 d, Z1 m, Z3 v, Z7 w, Z2 and Z4 scratch.

// FLUSH16 zeroes the lanes of r whose exponent bits are zero.
#define FLUSH16(r) \
	VPTESTNMD Z16, r, K1; \
	VXORPS    r, r, K1, r

#define LOAD16 \
	VMOVUPS (SI)(BX*4), Z0; \
	VMOVUPS (DI)(BX*4), Z7

#define DECAY16 \
	VMULPS Z15, Z7, Z2; \
	VADDPS Z2, Z0, Z0

#define STEP16 \
	FLUSH16(Z0); \
	VMOVUPS (R8)(BX*4), Z1; \
	VMULPS  Z8, Z1, Z1; \
	VMULPS  Z9, Z0, Z2; \
	VADDPS  Z2, Z1, Z1; \
	FLUSH16(Z1); \
	VMOVUPS Z1, (R8)(BX*4); \
	VMOVUPS (R9)(BX*4), Z3; \
	VMULPS  Z10, Z3, Z3; \
	VMULPS  Z11, Z0, Z4; \
	VMULPS  Z0, Z4, Z4; \
	VADDPS  Z4, Z3, Z3; \
	FLUSH16(Z3); \
	VMOVUPS Z3, (R9)(BX*4); \
	VSQRTPS Z3, Z4; \
	VMULPS  Z13, Z4, Z4; \
	VADDPS  Z14, Z4, Z4; \
	VMULPS  Z12, Z1, Z2; \
	VDIVPS  Z4, Z2, Z2; \
	VSUBPS  Z2, Z7, Z7; \
	VMOVUPS Z7, (DI)(BX*4); \
	ADDQ    $16, BX

// func adamAVX512(w, grad, m, v *float32, n int, k *AdamCoef, decay bool)
// n is a multiple of 16.
TEXT ·adamAVX512(SB), NOSPLIT, $0-49
	MOVQ  w+0(FP), DI
	MOVQ  grad+8(FP), SI
	MOVQ  m+16(FP), R8
	MOVQ  v+24(FP), R9
	MOVQ  n+32(FP), CX
	MOVQ  k+40(FP), AX
	MOVB  decay+48(FP), DX
	VBROADCASTSS 0(AX), Z8
	VBROADCASTSS 4(AX), Z9
	VBROADCASTSS 8(AX), Z10
	VBROADCASTSS 12(AX), Z11
	VBROADCASTSS 16(AX), Z12
	VBROADCASTSS 20(AX), Z13
	VBROADCASTSS 24(AX), Z14
	VBROADCASTSS 28(AX), Z15
	VBROADCASTSS 32(AX), Z16
	XORQ  BX, BX
	SHRQ  $4, CX
	JZ    done512
	TESTB DX, DX
	JNZ   decay512

loop512:
	LOAD16
	STEP16
	DECQ CX
	JNZ  loop512
	JMP  done512

decay512:
	LOAD16
	DECAY16
	STEP16
	DECQ CX
	JNZ  decay512

done512:
	VZEROUPPER
	RET
