package lottery

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/shearsml/shears/internal/atomicfile"
	"github.com/shearsml/shears/prune"
	"github.com/shearsml/shears/train"
)

// Merge gathers the output folders of the shards of one experiment (srcs)
// into dst and writes results.csv, results.json and summary.csv there: the
// result of a single-machine run. dst may be one of srcs, or a new or empty
// folder.
//
// Every source must describe the same experiment (hash) and extent (levels,
// trials, controls); every file copied is verified first (checksums, the
// trial, level and arm it claims); a file present in two places must agree
// (results on everything but train_seconds, masks and weights byte for
// byte). A foreign file, a disagreement, or a training no shard produced is
// an error naming it; files already copied stay, and Merge can be run again.
func Merge(dst string, srcs ...string) (*Results, error) {
	if len(srcs) == 0 {
		return nil, errors.New("lottery: merge: no source folders")
	}
	var exp Experiment
	var hash string
	for i, src := range srcs {
		path := filepath.Join(src, experimentFile)
		e, h, err := readExperimentFile(path)
		if errNotExist(err) {
			return nil, fmt.Errorf("lottery: merge: %s has no %s: not an output folder of lottery", src, experimentFile)
		}
		if err != nil {
			return nil, fmt.Errorf("lottery: merge: %w", err)
		}
		e = e.WithDefaults()
		if i == 0 {
			exp, hash = e, h
			continue
		}
		if h != hash {
			return nil, fmt.Errorf("lottery: merge: %s describes experiment %s, %s describes %s", path, h, filepath.Join(srcs[0], experimentFile), hash)
		}
		if !sameExtent(e, exp) {
			return nil, fmt.Errorf("lottery: merge: %s asks for levels 0-%d, %d trials, controls %v; %s for levels 0-%d, %d trials, controls %v",
				path, e.Levels, e.Trials, e.Controls, srcs[0], exp.Levels, exp.Trials, exp.Controls)
		}
	}
	s, err := openStore(dst, exp, true)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		if same, err := sameDir(src, dst); err != nil {
			return nil, fmt.Errorf("lottery: merge: %w", err)
		} else if same {
			continue
		}
		if err := mergeFrom(s, store{dir: src, hash: hash}); err != nil {
			return nil, err
		}
	}
	res, err := collect(s, exp, Shard{})
	if err != nil {
		return nil, err
	}
	if len(res.Missing) > 0 {
		return nil, fmt.Errorf("lottery: merge: %w", missingError(dst, res.Missing))
	}
	if err := res.WriteFiles(); err != nil {
		return nil, err
	}
	return res, nil
}

func sameDir(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

var (
	trialFileRE = regexp.MustCompile(`^trial-(0|[1-9][0-9]*)/(init\.shw|rewind-[1-9][0-9]*\.shw)$`)
	levelFileRE = regexp.MustCompile(`^trial-(0|[1-9][0-9]*)/level-(0|[1-9][0-9]*)/(ticket|` + strings.Join(arms.names(), "|") + `|instability-k(?:0|[1-9][0-9]*)-[ab])/(result\.json|masks\.shm|weights\.shw)$`)
)

// mergeFrom copies the files of src's hash folder into s, masks and weights
// before results, so that a level is never done in s before its files are
// there.
func mergeFrom(s, src store) error {
	root := src.root()
	var files, results []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != root {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a temporary file of an interrupted write
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case !d.Type().IsRegular():
			return fmt.Errorf("lottery: merge: %s is not a regular file", path)
		case strings.HasSuffix(rel, "/"+resultFile) && levelFileRE.MatchString(rel):
			results = append(results, rel)
		case trialFileRE.MatchString(rel) || levelFileRE.MatchString(rel):
			files = append(files, rel)
		default:
			return fmt.Errorf("lottery: merge: %s is not a file lottery writes: remove it or move it out of the output folder", path)
		}
		return nil
	})
	if errNotExist(err) {
		return nil // a shard that had no trial, or did not start
	}
	if err != nil {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	for _, rel := range files {
		if err := mergeBinary(filepath.Join(root, rel), filepath.Join(s.root(), rel)); err != nil {
			return err
		}
	}
	for _, rel := range results {
		if err := mergeResult(s, src, rel); err != nil {
			return err
		}
	}
	return nil
}

// mergeBinary verifies a masks or weights file and copies it, or checks it
// equals the copy already there.
func mergeBinary(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	if strings.HasSuffix(from, ".shm") {
		_, err = prune.ReadMasks(bytes.NewReader(data))
	} else {
		_, err = train.ReadWeights(bytes.NewReader(data))
	}
	if err != nil {
		return fmt.Errorf("lottery: merge: %s: %w", from, err)
	}
	old, err := os.ReadFile(to)
	if err == nil {
		if !bytes.Equal(old, data) {
			return fmt.Errorf("lottery: merge: %s and %s differ: the shards disagree", from, to)
		}
		return nil
	}
	if !errNotExist(err) {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	if err := atomicfile.WriteFile(to, data, 0o644); err != nil {
		return fmt.Errorf("lottery: merge: writing %s: %w", to, err)
	}
	return nil
}

// mergeResult verifies a result file (against the key its path names) and
// copies it, or checks it agrees with the one already there.
func mergeResult(s, src store, rel string) error {
	m := levelFileRE.FindStringSubmatch(rel)
	t, _ := strconv.Atoi(m[1])
	l, _ := strconv.Atoi(m[2])
	k := Key{Trial: t, Level: l, Arm: m[3]}
	r, err := src.readResult(k)
	if err != nil {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	for _, f := range []string{masksFile, weightsFile} {
		if _, err := os.Stat(filepath.Join(s.levelDir(k), f)); err != nil {
			return fmt.Errorf("lottery: merge: %s has a result but no %s", src.levelDir(k), f)
		}
	}
	old, err := s.readResult(k)
	if err != nil {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	if old != nil {
		if !old.sameNumbers(r) {
			return fmt.Errorf("lottery: merge: %s and %s disagree: the shards computed different numbers", src.resultPath(k), s.resultPath(k))
		}
		return nil
	}
	data, err := os.ReadFile(src.resultPath(k))
	if err != nil {
		return fmt.Errorf("lottery: merge: %w", err)
	}
	if err := atomicfile.WriteFile(s.resultPath(k), data, 0o644); err != nil {
		return fmt.Errorf("lottery: merge: writing %s: %w", s.resultPath(k), err)
	}
	return nil
}
