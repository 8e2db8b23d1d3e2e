package main

// This file holds the unstructured side of compress: -unstructured F
// (global magnitude pruning to sparsity F and a fine-tune) or -ticket DIR
// -level N (a lottery ticket), run with the sparse kernels (train/infer);
// -export FILE (train/export, -bits); and -eval FILE, which loads an
// exported file and reports its accuracy and latency.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/shearsml/shears/lottery"
	"github.com/shearsml/shears/metrics"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
	"github.com/shearsml/shears/train/export"
	"github.com/shearsml/shears/train/infer"
)

// sparseReport is report.json's "sparse": the unstructured model (or
// ticket) run with the sparse kernels where KernelsAuto chooses them.
type sparseReport struct {
	Source       string   `json:"source"` // "unstructured 0.93" or "ticket DIR level N"
	ParamsKept   int64    `json:"params_kept"`
	TestAccuracy float64  `json:"test_accuracy"`
	MsBatch1     float64  `json:"ms_batch1"`
	MsBatch60    float64  `json:"ms_batch60"`
	SparseLayers []string `json:"sparse_layers"`
	// DenseMsBatch1/60: the same weights with the dense kernel, timed
	// interleaved with the sparse run.
	DenseMsBatch1  float64 `json:"dense_ms_batch1"`
	DenseMsBatch60 float64 `json:"dense_ms_batch60"`
	// GraphMsBatch1/60: the same weights run by train.Predictor (the
	// Gorgonia graph), timed interleaved with the engines.
	GraphMsBatch1  float64 `json:"graph_ms_batch1"`
	GraphMsBatch60 float64 `json:"graph_ms_batch60"`
}

// exportReport is report.json's "export".
type exportReport struct {
	File         string               `json:"file"`
	Bytes        int                  `json:"bytes"`
	DenseBytes   int                  `json:"dense_bytes"` // the original dense model in float32
	Ratio        float64              `json:"ratio"`       // DenseBytes / Bytes
	TestAccuracy float64              `json:"test_accuracy"`
	Bits         int                  `json:"bits"`
	Layers       []export.LayerReport `json:"layers"`
}

// evalReport is what -eval prints.
type evalReport struct {
	TestAccuracy float64 `json:"test_accuracy"`
	MsBatch1     float64 `json:"ms_batch1"`
	MsBatch60    float64 `json:"ms_batch60"`
}

// sparseModel is the model the unstructured steps start from.
type sparseModel struct {
	m     train.Model
	w     *train.Weights
	masks *prune.Masks
	label string
}

// unstructured prunes a copy of w globally by magnitude to sparsity frac
// and fine-tunes it with the masks in force.
func unstructured(ctx context.Context, o options, m train.Model, w *train.Weights, data train.Splits) (*sparseModel, error) {
	ws := w.Clone()
	params := ws.Prunable()
	masks := prune.NewMasks(params)
	if err := (prune.Global{Scorer: prune.L1{}, Amount: prune.Fraction(o.unstructured)}).Prune(masks, params); err != nil {
		return nil, err
	}
	if o.finetune > 0 {
		ft := train.Config{Iterations: o.finetune, EvalEvery: o.finetune, Seed: o.seed + 2, Optimizer: train.Adam{LR: 1.2e-3}}
		if _, err := fit(ctx, m, ws, masks, ft, data); err != nil {
			return nil, err
		}
	} else if err := masks.Apply(params); err != nil {
		return nil, err
	}
	return &sparseModel{m: m, w: ws, masks: masks, label: fmt.Sprintf("unstructured %g", o.unstructured)}, nil
}

// ticket reads level N's ticket (trial 0) of the lottery run in dir.
func ticket(dir string, level int, data train.Splits) (*sparseModel, error) {
	exp, err := lottery.ReadExperiment(filepath.Join(dir, "experiment.json"))
	if err != nil {
		return nil, fmt.Errorf("compress: -ticket: %w", err)
	}
	m, err := lottery.NewModel(exp.Model, data.Train.Shape, data.Train.Classes)
	if err != nil {
		return nil, fmt.Errorf("compress: -ticket: %w", err)
	}
	at := filepath.Join(dir, exp.Hash(), "trial-0", fmt.Sprintf("level-%d", level), "ticket")
	w, err := train.LoadWeights(filepath.Join(at, "weights.shw"))
	if err != nil {
		return nil, fmt.Errorf("compress: -ticket: %w (is level %d of %s finished, on the data given by -data?)", err, level, dir)
	}
	if err := w.Matches(m); err != nil {
		return nil, fmt.Errorf("compress: -ticket: the weights do not fit model %q on -data %v: %w", exp.Model, data.Train.Shape, err)
	}
	masks, err := prune.LoadMasks(filepath.Join(at, "masks.shm"))
	if err != nil {
		return nil, fmt.Errorf("compress: -ticket: %w", err)
	}
	if err := masks.Apply(w.Prunable()); err != nil {
		return nil, fmt.Errorf("compress: -ticket: %w", err)
	}
	return &sparseModel{m: m, w: w, masks: masks, label: fmt.Sprintf("ticket %s level %d", dir, level)}, nil
}

// timeEngines measures engines at batch 1 and 60, interleaved, on test
// examples: ms per call, per engine and batch. When graph is not nil, the
// model and weights it holds run by train.Predictor in the same rounds,
// timed last.
func timeEngines(o options, d *train.Dataset, graph *sparseModel, engines ...*infer.Engine) ([][2]float64, error) {
	cfg := metrics.LatencyConfig{Rounds: o.rounds}
	if o.quick {
		cfg.RoundTime = 10 * time.Millisecond
	}
	out := make([][2]float64, len(engines))
	f := d.Features()
	for bi, batch := range []int{1, 60} {
		x := make([]float32, batch*f)
		for i := range batch {
			copy(x[i*f:(i+1)*f], d.X[(i%d.Len())*f:])
		}
		var fns []func() error
		for _, e := range engines {
			fns = append(fns, func() error { _, err := e.Run(x, batch); return err })
		}
		if graph != nil {
			p, err := train.NewPredictor(graph.m, graph.w, batch, d.Shape)
			if err != nil {
				return nil, err
			}
			defer p.Close()
			fns = append(fns, func() error { _, err := p.Run(x); return err })
		}
		lat, err := metrics.MeasureLatency(cfg, fns...)
		if err != nil {
			return nil, err
		}
		for i := range fns {
			if i == len(out) {
				out = append(out, [2]float64{})
			}
			out[i][bi] = lat[i].Ms
		}
	}
	return out, nil
}

// sparseSteps runs the unstructured steps after the structured ones: the
// sparse model from -unstructured (on the compacted model when -structured
// removed units: compaction first) or -ticket, its accuracy and latency with
// the sparse kernels, and its export.
//
// original is the number of weights and biases of the original dense model:
// the export's size is compared with it in float32.
func sparseSteps(ctx context.Context, o options, rep *report, m train.Model, w *train.Weights, original int, data train.Splits, stage func(string, ...any)) error {
	var sm *sparseModel
	var err error
	switch {
	case o.ticket != "":
		sm, err = ticket(o.ticket, o.level, data)
		if err == nil {
			stage("read %s", sm.label)
		}
	case o.unstructured > 0:
		sm, err = unstructured(ctx, o, m, w, data)
		if err == nil {
			stage("pruned %s to %.1f%% of its weights (prune.Global, L1) and fine-tuned %d steps", m.Name(), 100*(1-o.unstructured), o.finetune)
		}
	default:
		return nil
	}
	if err != nil {
		return err
	}
	auto, err := infer.New(sm.m, data.Train.Shape, sm.w, sm.masks, train.KernelsAuto)
	if err != nil {
		return err
	}
	dense, err := infer.New(sm.m, data.Train.Shape, sm.w, sm.masks, train.KernelsDense)
	if err != nil {
		return err
	}
	sr := &sparseReport{Source: sm.label}
	sr.ParamsKept = int64(sm.masks.Kept())
	layers := auto.Layers()
	for i, s := range auto.Sparse() {
		if s {
			sr.SparseLayers = append(sr.SparseLayers, layers[i].Weight)
		}
	}
	if sr.TestAccuracy, err = auto.Accuracy(data.Test, 60); err != nil {
		return err
	}
	ms, err := timeEngines(o, data.Test, sm, auto, dense)
	if err != nil {
		return err
	}
	sr.MsBatch1, sr.MsBatch60, sr.DenseMsBatch1, sr.DenseMsBatch60 = ms[0][0], ms[0][1], ms[1][0], ms[1][1]
	sr.GraphMsBatch1, sr.GraphMsBatch60 = ms[2][0], ms[2][1]
	rep.Sparse = sr
	stage("sparse kernels: %.2f%% test accuracy; %.4f ms at batch 1 (dense kernels %.4f, graph %.4f), %.4f ms at batch 60 (%.4f, %.4f)",
		100*sr.TestAccuracy, sr.MsBatch1, sr.DenseMsBatch1, sr.GraphMsBatch1, sr.MsBatch60, sr.DenseMsBatch60, sr.GraphMsBatch60)

	if o.export == "" {
		return nil
	}
	er, err := export.Save(o.export, sm.m, data.Train.Shape, sm.w, sm.masks, export.Options{Bits: o.bits})
	if err != nil {
		return err
	}
	loaded, err := export.Load(o.export)
	if err != nil {
		return err
	}
	e, err := loaded.Engine(train.KernelsAuto)
	if err != nil {
		return err
	}
	acc, err := e.Accuracy(data.Test, 60)
	if err != nil {
		return err
	}
	denseBytes := 4 * original
	if o.ticket != "" {
		denseBytes = er.DenseBytes // the ticket's own dense model
	}
	rep.Export = &exportReport{File: o.export, Bytes: er.Bytes, DenseBytes: denseBytes, Ratio: float64(denseBytes) / float64(er.Bytes), TestAccuracy: acc, Bits: er.Bits, Layers: er.Layers}
	stage("exported %s: %d bytes, %.1f× smaller than the dense float32 model (%d bytes); %d bits a weight; test accuracy %.2f%%",
		o.export, er.Bytes, rep.Export.Ratio, denseBytes, er.Bits, 100*acc)
	return nil
}

// evalFile is -eval: it loads an exported model and prints its test
// accuracy and latency as JSON.
func evalFile(o options, stdout io.Writer) error {
	data, err := train.Load(o.data, 0, o.seed)
	if err != nil {
		return err
	}
	mf, err := export.Load(o.eval)
	if err != nil {
		return err
	}
	e, err := mf.Engine(train.KernelsAuto)
	if err != nil {
		return err
	}
	if e.Inputs() != data.Test.Features() {
		return fmt.Errorf("compress: -eval: %s takes %d inputs, the test examples of %s have %d", o.eval, e.Inputs(), o.data, data.Test.Features())
	}
	var r evalReport
	if r.TestAccuracy, err = e.Accuracy(data.Test, 60); err != nil {
		return err
	}
	ms, err := timeEngines(o, data.Test, nil, e)
	if err != nil {
		return err
	}
	r.MsBatch1, r.MsBatch60 = ms[0][0], ms[0][1]
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
