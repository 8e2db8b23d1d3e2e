package train

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/internal/envelope"
	"github.com/shearsml/shears/prune"
	"gorgonia.org/tensor"
)

// Snapshot is a deep copy of a trainer's state: the weights, the
// optimizer's state tensors, the step counter and the masks in force.
// Restoring it (in memory, or from a checkpoint file) continues training
// exactly as the original run would have: the batches and the learning-rate
// schedule depend only on the step and the Config, and the masks keep the
// pruned weights at zero.
type Snapshot struct {
	Step      int
	Weights   *Weights
	Optimizer []*tensor.Dense // copies of OptimizerState.Tensors()
	// Masks is a copy of the masks in force (Trainer.SetMasks), or nil for
	// a trainer without masks and for checkpoint files of version 1,
	// written before checkpoints carried masks.
	Masks *prune.Masks
}

// Snapshot returns a deep copy of the trainer's state.
func (t *Trainer) Snapshot() *Snapshot {
	s := &Snapshot{Step: t.step, Weights: t.w.Clone()}
	if t.masks != nil {
		s.Masks = t.masks.Clone()
	}
	for _, o := range t.opt.Tensors() {
		s.Optimizer = append(s.Optimizer, o.Clone().(*tensor.Dense))
	}
	return s
}

// Restore puts the state of s back into the trainer, copying into the live
// tensors: the weights (the same names, shapes and dtype), the optimizer's
// state (the same optimizer kind) and the step. When s carries masks, a
// copy of them is put in force (as SetMasks), replacing the trainer's; when
// it carries none (a trainer without masks, or a version-1 checkpoint file),
// the trainer's masks stay in force. Either way the weights the masks prune
// are zeroed after the copy. On error nothing is changed.
func (t *Trainer) Restore(s *Snapshot) error {
	if s == nil {
		return errors.New("train: Restore: nil Snapshot")
	}
	if err := t.w.compatible(s.Weights); err != nil {
		return fmt.Errorf("train: Restore: %w", err)
	}
	live := t.opt.Tensors()
	if len(live) != len(s.Optimizer) {
		return fmt.Errorf("train: Restore: the snapshot has %d optimizer tensors, this trainer's optimizer %d (another optimizer?)", len(s.Optimizer), len(live))
	}
	for i, o := range s.Optimizer {
		if o == nil || o.Dtype() != live[i].Dtype() || !slices.Equal(o.Shape(), live[i].Shape()) {
			return fmt.Errorf("train: Restore: optimizer tensor %d does not match this trainer's optimizer (another optimizer or model?)", i)
		}
	}
	if s.Step < 0 {
		return fmt.Errorf("train: Restore: negative step %d", s.Step)
	}
	var masks *prune.Masks
	if s.Masks != nil {
		masks = s.Masks.Clone()
		if err := masks.Apply(t.w.Clone().Prunable()); err != nil { // a check on a copy: nothing changes on error
			return fmt.Errorf("train: Restore: the snapshot's masks do not fit the weights: %w", err)
		}
	}
	if err := t.w.CopyFrom(s.Weights); err != nil {
		return fmt.Errorf("train: Restore: %w", err)
	}
	for i, o := range s.Optimizer {
		copy(rawBytes(live[i]), rawBytes(o))
	}
	t.step = s.Step
	if masks != nil {
		if err := t.SetMasks(masks); err != nil {
			return fmt.Errorf("train: Restore: %w", err)
		}
	} else if t.masks != nil {
		if err := t.masks.Apply(t.w.Prunable()); err != nil {
			return fmt.Errorf("train: Restore: %w", err)
		}
		return t.planSparse() // and the pruned entries' optimizer state to zero
	}
	return nil
}

// SaveCheckpoint writes the trainer's state (as Snapshot) to path,
// atomically.
func (t *Trainer) SaveCheckpoint(path string) error { return t.Snapshot().Save(path) }

// LoadCheckpoint restores the trainer's state from a checkpoint file
// written by SaveCheckpoint (see Restore).
func (t *Trainer) LoadCheckpoint(path string) error {
	s, err := LoadSnapshot(path)
	if err != nil {
		return err
	}
	return t.Restore(s)
}

const (
	checkpointMagic   = "SHRCKPT\x00"
	checkpointVersion = 2 // 2 adds the masks; version 1 files still load
	checkpointWhat    = "train: checkpoint"
)

// WriteTo writes s as a checkpoint file: magic "SHRCKPT\x00", version 2,
// the step, the weights (as in a weights file), the optimizer tensors and
// the masks (a byte 0 for none, or 1 and a uint64 length followed by a mask
// file as prune writes it), little-endian, with a CRC-32C checksum
// (internal/envelope). Version 1, without the masks, is still read. It
// implements io.WriterTo.
func (s *Snapshot) WriteTo(w io.Writer) (int64, error) {
	if s.Weights == nil {
		return 0, errors.New("train: snapshot without weights")
	}
	if s.Step < 0 {
		return 0, fmt.Errorf("train: snapshot with negative step %d", s.Step)
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(s.Step))
	b = s.Weights.appendPayload(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Optimizer)))
	for i, t := range s.Optimizer {
		if t == nil {
			return 0, fmt.Errorf("train: snapshot optimizer tensor %d is nil", i)
		}
		var code byte
		switch t.Dtype() {
		case tensor.Float32:
			code = dtypeF32
		case tensor.Float64:
			code = dtypeF64
		default:
			return 0, fmt.Errorf("train: snapshot optimizer tensor %d has dtype %v", i, t.Dtype())
		}
		b = append(b, code, byte(t.Dims()))
		for _, d := range t.Shape() {
			b = binary.LittleEndian.AppendUint32(b, uint32(d))
		}
		b = appendLE(b, t)
	}
	if s.Masks == nil {
		b = append(b, 0)
	} else {
		mb, err := s.Masks.MarshalBinary()
		if err != nil {
			return 0, fmt.Errorf("train: snapshot masks: %w", err)
		}
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(mb)))
		b = append(b, mb...)
	}
	return envelope.Write(w, checkpointMagic, checkpointVersion, b)
}

// ReadSnapshot reads a checkpoint file written by Snapshot.WriteTo or
// Trainer.SaveCheckpoint. It returns an error for a file of another kind, a
// truncated or corrupted file, or an unsupported version.
func ReadSnapshot(r io.Reader) (*Snapshot, error) {
	version, payload, err := envelope.Read(r, checkpointMagic, checkpointWhat, checkpointVersion, maxFileBytes)
	if err != nil {
		return nil, err
	}
	d := decoder{b: payload, what: checkpointWhat}
	step := d.u64("step")
	if d.err == nil && step > math.MaxInt32 {
		d.fail("step %d is out of range", step)
	}
	s := &Snapshot{Step: int(step)}
	s.Weights = d.weights()
	count := int(d.u32("optimizer tensor count"))
	if d.err == nil && count > len(d.b)/2 {
		d.fail("%d optimizer tensors cannot fit in %d bytes", count, len(d.b))
	}
	for i := 0; i < count && d.err == nil; i++ {
		code := d.u8("optimizer dtype")
		dims := int(d.u8("optimizer dimensions"))
		var dt tensor.Dtype
		elem := 0
		switch code {
		case dtypeF32:
			dt, elem = tensor.Float32, 4
		case dtypeF64:
			dt, elem = tensor.Float64, 8
		default:
			d.fail("optimizer tensor %d: unknown dtype code %d", i, code)
		}
		if d.err == nil && dims == 0 {
			d.fail("optimizer tensor %d has no dimensions", i)
		}
		if d.err != nil {
			break
		}
		shape := make([]int, dims)
		n := 1
		for j := range shape {
			shape[j] = int(d.u32("optimizer shape"))
			if d.err != nil {
				break
			}
			if shape[j] == 0 || n > len(d.b)/shape[j] {
				d.fail("optimizer tensor %d: bad shape %v", i, shape[:j+1])
				break
			}
			n *= shape[j]
		}
		raw := d.take(n*elem, "optimizer values")
		if d.err != nil {
			break
		}
		t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		copy(rawBytes(t), raw)
		fromLE(t)
		s.Optimizer = append(s.Optimizer, t)
	}
	if version >= 2 && d.err == nil {
		switch flag := d.u8("masks flag"); {
		case d.err != nil:
		case flag == 1:
			n := d.u64("masks length")
			if d.err == nil && n > uint64(len(d.b)) {
				d.fail("masks of %d bytes cannot fit in %d", n, len(d.b))
				break
			}
			raw := d.take(int(n), "masks")
			if d.err != nil {
				break
			}
			ms := new(prune.Masks)
			if err := ms.UnmarshalBinary(raw); err != nil {
				d.fail("masks: %v", err)
				break
			}
			s.Masks = ms
		case flag != 0:
			d.fail("unknown masks flag %d", flag)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d bytes after the last optimizer tensor", len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}

// Save writes s to path atomically (a temporary file, synced, then renamed).
func (s *Snapshot) Save(path string) error {
	if err := atomicfile.WriteTo(path, 0o644, s); err != nil {
		return fmt.Errorf("train: save checkpoint: %w", err)
	}
	return nil
}

// LoadSnapshot reads a checkpoint file written by Save or SaveCheckpoint.
// Errors name the file ("train: checkpoint PATH: ...").
func LoadSnapshot(path string) (*Snapshot, error) {
	return envelope.Load(path, checkpointWhat, ReadSnapshot)
}
