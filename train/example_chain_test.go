package train_test

import (
	"fmt"

	"github.com/shearsml/shears/train"
)

// Chain describes LeNet-5 on 28×28 images as the layers the inference
// engine and the export run.
func ExampleChain() {
	m, err := train.LeNet5([]int{1, 28, 28}, 10)
	if err != nil {
		panic(err)
	}
	layers, err := train.Chain(m, []int{1, 28, 28})
	if err != nil {
		panic(err)
	}
	for _, l := range layers {
		switch l.Kind {
		case train.LayerConv:
			fmt.Printf("conv %s: %d→%d channels, %dx%d kernel, pad %d, %dx%d → %dx%d, relu %v\n", l.Weight, l.In, l.Out, l.KH, l.KW, l.Pad, l.H, l.W, l.OutH(), l.OutW(), l.ReLU)
		case train.LayerMaxPool:
			fmt.Printf("maxpool %dx%d stride %d: %dx%d → %dx%d\n", l.KH, l.KW, l.Stride, l.H, l.W, l.OutH(), l.OutW())
		case train.LayerFlatten:
			fmt.Printf("flatten %d×%d×%d → %d\n", l.In, l.H, l.W, l.Out)
		case train.LayerDense:
			fmt.Printf("dense %s: %d → %d, relu %v\n", l.Weight, l.In, l.Out, l.ReLU)
		}
	}
	// Output:
	// conv conv1.w: 1→6 channels, 5x5 kernel, pad 2, 28x28 → 28x28, relu true
	// maxpool 2x2 stride 2: 28x28 → 14x14
	// conv conv2.w: 6→16 channels, 5x5 kernel, pad 2, 14x14 → 14x14, relu true
	// maxpool 2x2 stride 2: 14x14 → 7x7
	// flatten 16×7×7 → 784
	// dense fc1.w: 784 → 120, relu true
	// dense fc2.w: 120 → 84, relu true
	// dense fc3.w: 84 → 10, relu false
}
