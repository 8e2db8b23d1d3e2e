package lottery

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shearsml/shears/train"
)

// Models lists the built-in model names an Experiment accepts (besides
// "mlp:" followed by hidden sizes).
var Models = append(builtinModels.names(), "mlp:300,100")

// customPrefix marks the label of a user's own model or data.
const customPrefix = "custom"

func isCustom(name string) bool {
	return name == customPrefix || strings.HasPrefix(name, customPrefix+":")
}

// checkModelName validates a model name without building the model.
func checkModelName(name string) error {
	if isCustom(name) {
		return nil
	}
	_, err := parseModelName(name)
	return err
}

// modelSpec is a parsed model name.
type modelSpec struct {
	kind   string
	hidden []int
}

func parseModelName(name string) (modelSpec, error) {
	if _, ok := builtinModels.get(name); ok {
		return modelSpec{kind: name}, nil
	}
	if rest, ok := strings.CutPrefix(name, "mlp:"); ok {
		var hidden []int
		if rest != "" {
			for _, f := range strings.Split(rest, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || n < 1 {
					return modelSpec{}, fmt.Errorf("lottery: model %q: hidden size %q is not a positive integer", name, f)
				}
				hidden = append(hidden, n)
			}
		}
		return modelSpec{kind: "mlp", hidden: hidden}, nil
	}
	return modelSpec{}, fmt.Errorf("lottery: unknown model %q (want %s, or a custom model in Options.Model)", name, strings.Join(Models, ", "))
}

// NewModel builds the built-in model a description names, for examples of
// the given shape ([C, H, W]) and number of classes.
func NewModel(name string, input []int, classes int) (train.Model, error) {
	s, err := parseModelName(name)
	if err != nil {
		return nil, err
	}
	var m train.Model
	if s.kind == "mlp" {
		m, err = train.MLP(input, s.hidden, classes)
	} else {
		build, _ := builtinModels.get(s.kind)
		m, err = build(input, classes)
	}
	if err != nil {
		return nil, fmt.Errorf("lottery: model %q: %w", name, err)
	}
	return m, nil
}

// initializer returns the train.Initializer an Experiment.Init names.
func initializer(name string) train.Initializer {
	init, _ := inits.get(name)
	return init
}

// prunableModel is a model whose set of prunable tensors is chosen by name.
type prunableModel struct {
	train.Model
	prunable []string
}

func (m prunableModel) Params() []train.ParamSpec {
	ps := m.Model.Params()
	out := make([]train.ParamSpec, len(ps))
	for i, p := range ps {
		p.Shape = slices.Clone(p.Shape)
		p.Prunable = slices.Contains(m.prunable, p.Name)
		out[i] = p
	}
	return out
}

// configureModel applies Init and Prune.Params to m, and checks the names
// the description uses against the model. It returns the model to train and
// the names of its prunable tensors, in model order.
func configureModel(m train.Model, e Experiment) (train.Model, []string, error) {
	if e.Train.Dropout > 0 {
		var err error
		if m, err = train.WithDropout(m, e.Train.Dropout); err != nil {
			return nil, nil, fmt.Errorf("lottery: train.dropout: %w", err)
		}
	}
	if init := initializer(e.Init); init != nil {
		m = train.WithInit(m, init)
	}
	specs := m.Params()
	names := make([]string, 0, len(specs))
	for _, p := range specs {
		names = append(names, p.Name)
	}
	if len(e.Prune.Params) > 0 {
		for _, n := range e.Prune.Params {
			if !slices.Contains(names, n) {
				return nil, nil, fmt.Errorf("lottery: prune.params: model %q has no tensor %q (it has %s)", m.Name(), n, strings.Join(names, ", "))
			}
		}
		m = prunableModel{Model: m, prunable: slices.Clone(e.Prune.Params)}
		specs = m.Params()
	}
	var prunable []string
	for _, p := range specs {
		if p.Prunable {
			prunable = append(prunable, p.Name)
		}
	}
	if len(prunable) == 0 {
		return nil, nil, fmt.Errorf("lottery: model %q has no prunable tensor", m.Name())
	}
	for n := range e.Prune.Rates {
		if !slices.Contains(prunable, n) {
			return nil, nil, fmt.Errorf("lottery: prune.rates: %q is not a prunable tensor of model %q (those are %s)", n, m.Name(), strings.Join(prunable, ", "))
		}
	}
	return m, prunable, nil
}
