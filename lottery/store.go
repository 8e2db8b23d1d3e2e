package lottery

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The output folder of an experiment:
//
//	DIR/experiment.json        the description, defaults written out (checked JSON)
//	DIR/results.csv            one row per trial × level × arm
//	DIR/results.json           the same rows
//	DIR/summary.csv            mean, standard deviation, min and max over trials per level and arm
//	DIR/HASH/trial-T/init.shw                  the initial weights of trial T
//	DIR/HASH/trial-T/rewind-K.shw              the weights after K steps of level 0 (rewinding to iteration K)
//	DIR/HASH/trial-T/level-L/ARM/masks.shm     the masks the arm trained with
//	DIR/HASH/trial-T/level-L/ARM/weights.shw   its final weights
//	DIR/HASH/trial-T/level-L/ARM/result.json   its result (checked JSON), written last
//	DIR/instability.csv        the instability paths: trial, level, k, alpha, test accuracy and loss
//	DIR/instability_summary.csv the error barrier per level and k over trials
//
// The two copies of an instability analysis from rewind point k are the
// arms instability-kK-a and instability-kK-b of their level.
//
// A level is done when its result.json exists and verifies.
const (
	experimentFile = "experiment.json"
	resultFile     = "result.json"
	masksFile      = "masks.shm"
	weightsFile    = "weights.shw"
	initFile       = "init.shw"
	resultsCSV     = "results.csv"
	resultsJSON    = "results.json"
	summaryCSV     = "summary.csv"
	instabilityCSV = "instability.csv"
	instabilitySum = "instability_summary.csv"
)

// Key names one training of an experiment.
type Key struct {
	Trial int
	Level int
	Arm   string
}

// String returns "trial T level L ARM".
func (k Key) String() string { return fmt.Sprintf("trial %d level %d %s", k.Trial, k.Level, k.Arm) }

// Eval is one evaluation during training: losses and accuracies on the
// validation set (0 without one) and the test set, after Iteration steps.
type Eval struct {
	Iteration    int     `json:"iteration"`
	ValLoss      float64 `json:"val_loss"`
	ValAccuracy  float64 `json:"val_accuracy"`
	TestLoss     float64 `json:"test_loss"`
	TestAccuracy float64 `json:"test_accuracy"`
}

// LayerCount is the size of one prunable tensor and how many of its weights
// an arm kept.
type LayerCount struct {
	Name string `json:"name"`
	Size int    `json:"size"`
	Kept int    `json:"kept"`
}

// Result is what one training (trial, level, arm) produced, as stored in its
// result.json.
type Result struct {
	// Experiment is the hash of the experiment.
	Experiment string `json:"experiment"`
	Trial      int    `json:"trial"`
	Level      int    `json:"level"`
	Arm        string `json:"arm"`
	// Remaining is the fraction of the prunable weights kept.
	Remaining float64 `json:"remaining"`
	// Layers holds the kept count of each prunable tensor, in model order.
	Layers []LayerCount `json:"layers"`
	// StartStep is the step training started from (Rewind.Iteration when
	// rewinding to an iteration, else 0); Steps the step it ended at.
	StartStep int `json:"start_step"`
	Steps     int `json:"steps"`
	// Final is the evaluation at the end of training, EarlyStop the one of
	// least validation loss (the last one without a validation set).
	Final     Eval `json:"final"`
	EarlyStop Eval `json:"early_stop"`
	// Evals is every evaluation, in order: the training curve.
	Evals []Eval `json:"evals"`
	// Instability, on the second copy of an instability analysis (arm
	// "instability-kK-b"), is the path between the two copies.
	Instability *Path `json:"instability,omitempty"`
	// TrainSeconds is the wall time of the training. It is the one field
	// that differs between two runs of the same experiment.
	TrainSeconds float64 `json:"train_seconds"`
}

// Key returns the (trial, level, arm) of r.
func (r *Result) Key() Key { return Key{r.Trial, r.Level, r.Arm} }

func (r *Result) checkFinite() error {
	evs := append([]Eval{r.Final, r.EarlyStop}, r.Evals...)
	for _, e := range evs {
		for _, f := range []float64{e.ValLoss, e.ValAccuracy, e.TestLoss, e.TestAccuracy} {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("lottery: %s: evaluation at iteration %d is not finite (%v)", r.Key(), e.Iteration, f)
			}
		}
	}
	return nil
}

// sameNumbers reports whether r and o agree on everything but TrainSeconds.
func (r *Result) sameNumbers(o *Result) bool {
	a, b := *r, *o
	a.TrainSeconds, b.TrainSeconds = 0, 0
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// store is the output folder of one experiment.
type store struct {
	dir  string
	hash string
}

func (s store) root() string { return filepath.Join(s.dir, s.hash) }

func (s store) trialDir(t int) string {
	return filepath.Join(s.root(), "trial-"+strconv.Itoa(t))
}

func (s store) levelDir(k Key) string {
	return filepath.Join(s.trialDir(k.Trial), "level-"+strconv.Itoa(k.Level), k.Arm)
}

func (s store) initPath(t int) string { return filepath.Join(s.trialDir(t), initFile) }

func (s store) rewindPath(t, k int) string {
	return filepath.Join(s.trialDir(t), "rewind-"+strconv.Itoa(k)+".shw")
}

func (s store) resultPath(k Key) string  { return filepath.Join(s.levelDir(k), resultFile) }
func (s store) masksPath(k Key) string   { return filepath.Join(s.levelDir(k), masksFile) }
func (s store) weightsPath(k Key) string { return filepath.Join(s.levelDir(k), weightsFile) }

// readResult reads the result of k. It returns (nil, nil) when the level has
// not been done, and an error naming the file when it is damaged, foreign,
// or belongs to another key.
func (s store) readResult(k Key) (*Result, error) {
	path := s.resultPath(k)
	r, err := readResultFile(path)
	if errNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if r.Experiment != s.hash || r.Key() != k {
		return nil, fmt.Errorf("lottery: %s: holds the result of experiment %s %s, not of %s %s: a foreign file", path, r.Experiment, r.Key(), s.hash, k)
	}
	return r, nil
}

// readResultFile reads and verifies a result.json file.
func readResultFile(path string) (*Result, error) {
	data, err := readFileLimited(path, maxCheckedSize)
	if err != nil {
		if errNotExist(err) {
			return nil, err
		}
		return nil, fmt.Errorf("lottery: %w", err)
	}
	var r Result
	if err := decodeChecked(data, resultFormat, "result", "lottery: "+path, &r, nil); err != nil {
		return nil, fmt.Errorf("%w (delete the file to compute that level again)", err)
	}
	return &r, nil
}

func (s store) writeResult(r *Result) error {
	if err := r.checkFinite(); err != nil {
		return err
	}
	return writeChecked(s.resultPath(r.Key()), resultFormat, "result", r)
}

// readExperimentFile reads DIR/experiment.json. It returns the description
// and its recorded hash.
func readExperimentFile(path string) (Experiment, string, error) {
	data, err := readFileLimited(path, maxCheckedSize)
	if err != nil {
		if errNotExist(err) {
			return Experiment{}, "", err
		}
		return Experiment{}, "", fmt.Errorf("lottery: %w", err)
	}
	return decodeExperimentFile(data, "lottery: "+path)
}

func decodeExperimentFile(data []byte, what string) (Experiment, string, error) {
	var e Experiment
	var rawHash json.RawMessage
	if err := decodeChecked(data, experimentFormat, "experiment", what, &e, map[string]*json.RawMessage{"hash": &rawHash}); err != nil {
		return Experiment{}, "", err
	}
	var hash string
	if err := json.Unmarshal(rawHash, &hash); err != nil || hash != e.Hash() {
		return Experiment{}, "", fmt.Errorf("%s: recorded hash %s does not match the description's %s", what, string(rawHash), e.Hash())
	}
	return e, hash, nil
}

// claimExperimentFile creates path with e's description only if path does
// not exist: the content is written to a temporary file, synced, and
// hard-linked to path, which fails if path exists (link, unlike rename,
// never replaces). It reports whether this call created path.
func claimExperimentFile(path string, e Experiment) (bool, error) {
	h, _ := json.Marshal(e.Hash())
	b, err := encodeChecked(experimentFormat, "experiment", e, [2]string{"hash", string(h)})
	if err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+experimentFile+".claim-*")
	if err != nil {
		return false, fmt.Errorf("lottery: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("lottery: writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return false, fmt.Errorf("lottery: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("lottery: claiming the output folder (creating %s): %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // best effort, as atomicfile
		d.Close()
	}
	return true, nil
}

func writeExperimentFile(path string, e Experiment) error {
	h, _ := json.Marshal(e.Hash())
	return writeChecked(path, experimentFormat, "experiment", e, [2]string{"hash", string(h)})
}

// openStore prepares dir for experiment e (defaults written out): it creates
// the folder and experiment.json, or checks that the experiment.json already
// there describes the same experiment. A folder that holds other files but
// no experiment.json is refused, and so is a different experiment. The
// folder is claimed atomically (claimExperimentFile): of two runs of
// different experiments started into one new folder at the same moment,
// one gets it and the other is refused. Runs of the same experiment (the
// shards of a sweep on a shared file system) share it.
// update says whether to rewrite experiment.json when only its extent
// (levels, trials, controls, workers) differs.
func openStore(dir string, e Experiment, update bool) (store, error) {
	s := store{dir: dir, hash: e.Hash()}
	if dir == "" {
		return s, errors.New("lottery: no output folder")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, fmt.Errorf("lottery: %w", err)
	}
	path := filepath.Join(dir, experimentFile)
	old, oldHash, err := readExperimentFile(path)
	write := true
	if errNotExist(err) {
		if foreign, err := foreignEntry(dir); err != nil {
			return s, err
		} else if foreign != "" {
			// Another run may have claimed the folder since we looked.
			if old, oldHash, err = readExperimentFile(path); errNotExist(err) {
				return s, fmt.Errorf("lottery: %s holds files (%s) but no %s: it is not an output folder of lottery; choose a new or empty folder", dir, foreign, experimentFile)
			}
		}
	}
	if errNotExist(err) {
		// Claim the folder: experiment.json appears atomically, complete,
		// and only if it does not exist yet, so of two runs that start at
		// the same moment exactly one writes it; the other reads it below.
		claimed, cerr := claimExperimentFile(path, e)
		if cerr != nil {
			return s, cerr
		}
		if claimed {
			write = false
		} else {
			old, oldHash, err = readExperimentFile(path)
		}
	}
	switch {
	case !write:
	case err != nil:
		return s, err
	case oldHash != s.hash:
		return s, fmt.Errorf("lottery: %s describes another experiment (hash %s, this one is %s): choose another output folder, or remove this one", path, oldHash, s.hash)
	default:
		write = update && !(sameExtent(old, e) && old.Workers == e.Workers)
	}
	if write {
		if err := writeExperimentFile(path, e); err != nil {
			return s, err
		}
	}
	if err := os.MkdirAll(s.root(), 0o755); err != nil {
		return s, fmt.Errorf("lottery: %w", err)
	}
	return s, nil
}

// foreignEntry returns the name of an entry of dir that is neither
// experiment.json nor a temporary file of a run claiming the folder, or "".
func foreignEntry(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("lottery: %w", err)
	}
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), "."+experimentFile+".") || en.Name() == experimentFile {
			continue
		}
		return en.Name(), nil
	}
	return "", nil
}

// sameExtent reports whether a and b run the same trials, levels and arms.
func sameExtent(a, b Experiment) bool {
	a, b = a.WithDefaults(), b.WithDefaults()
	return a.Levels == b.Levels && a.Trials == b.Trials && slices.Equal(a.Controls, b.Controls) &&
		slices.Equal(a.Instability, b.Instability) && a.InstabilityPoints == b.InstabilityPoints
}
